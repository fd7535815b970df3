"""Demo data for `make run`: a few creators and videos of different lengths, all cut from the bundled sample, and
an access token for demo_creator so the API can be tried from the command line at once.

The clips are made with ffmpeg filters at 640x360 with a keyframe every 2 s, so the encode pipeline keeps
their video as the top rung (its copy path) and encodes only the 240p rung: seeding stays quick.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wm.config import ROOT
from wm.extensions import db
from wm.models.accounts import Role, Scope, User
from wm.models.base import utcnow
from wm.services import NotFound
from wm.services.accounts import get_by_handle, register, tokens
from wm.services.media import list_own_videos, update_details
from wm.services.media.upload import upload_whole_file

SAMPLE = ROOT / "wm" / "demo" / "bigbuckbunny.mp4"
CREDIT = "Big Buck Bunny, (c) Blender Foundation, CC BY 3.0."

# Small, copy-path friendly H.264 + AAC (see the module docstring).
SMALL = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-maxrate", "700k", "-bufsize", "1400k",
         "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"]
SCALE = "scale=640:360,setsar=1"


@dataclass(frozen=True)
class DemoAccount:
    handle: str
    role: Role
    display_name: str = ""


@dataclass(frozen=True)
class DemoVideo:
    owner: str
    title: str
    description: str
    recipe: str  # a key of RECIPES; "sample" is the file as it is
    tier: str = "free"


ACCOUNTS = (
    DemoAccount("demo_admin", Role.admin, "Demo Admin"),
    DemoAccount("demo_creator", Role.creator, "Weekmotion Demo"),
    DemoAccount("demo_viewer", Role.viewer, "Demo Viewer"),
    DemoAccount("meadow_films", Role.creator, "Meadow Films"),
    DemoAccount("rita_rewinds", Role.creator, "Rita Rewinds"),
    DemoAccount("closeup_carl", Role.creator, "Carl's Close-ups"),
)
TOKEN_OWNER = "demo_creator"
TOKEN_NAME = "demo script"
TOKEN_SCOPES = (Scope.read, Scope.upload)
TOKEN_DAYS = 365

VIDEOS = (
    DemoVideo("demo_creator", "Big Buck Bunny (demo)", CREDIT, "sample"),
    DemoVideo("meadow_films", "Morning in the meadow, in slow motion", "Half speed, twice as calm.", "slow"),
    DemoVideo("meadow_films", "Purple hour", "The meadow through every colour of the wheel.", "hue"),
    DemoVideo("rita_rewinds", "Bunny, backwards", "Everything un-happens.", "reverse"),
    DemoVideo("rita_rewinds", "Boomerang", "There and back again.", "boomerang"),
    DemoVideo("closeup_carl", "Close-up: the big stretch", "Cropped to the middle of the frame.", "crop"),
    DemoVideo("closeup_carl", "Double time", "The whole thing at twice the speed.", "fast"),
    DemoVideo("closeup_carl", "The long watch", "A minute and more of the meadow on repeat: for Pro members "
              "(everyone else sees the first minute).", "long", tier="pro"),
)

# recipe -> ffmpeg arguments between the input and the output file ({base} is the 5 s base clip)
RECIPES: dict[str, list[str]] = {
    "slow": ["-i", "{base}", "-vf", "setpts=2*PTS", "-af", "atempo=0.5", *SMALL],
    "hue": ["-i", "{base}", "-vf", "hue=H=2*PI*t/5:s=1.4", *SMALL],
    "reverse": ["-i", "{base}", "-vf", "reverse", "-af", "areverse", *SMALL],
    "boomerang": ["-i", "{base}", "-filter_complex",
                  "[0:v]split[f][r0];[r0]reverse[r];[0:a]asplit[fa][ra0];[ra0]areverse[ra];"
                  "[f][fa][r][ra]concat=n=2:v=1:a=1[v][a]", "-map", "[v]", "-map", "[a]", *SMALL],
    "crop": ["-i", "{sample}", "-vf", f"crop=iw/2:ih/2,{SCALE}", *SMALL],
    "fast": ["-i", "{base}", "-vf", "setpts=0.5*PTS", "-af", "atempo=2", *SMALL],
    # Twelve rounds of the base clip by stream copy: a long video at no encoding cost.
    "long": ["-stream_loop", "11", "-i", "{base}", "-c", "copy", "-movflags", "+faststart"],
}


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; fail loudly."""
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *args], check=True, timeout=600)


def make_clip(recipe: str, folder: Path) -> Path:
    """The demo clip of ``recipe``, made in ``folder`` from the sample."""
    if recipe == "sample":
        return SAMPLE
    base = folder / "base.mp4"
    if not base.exists():
        ffmpeg("-i", str(SAMPLE), "-vf", SCALE, *SMALL, str(base))
    out = folder / f"{recipe}.mp4"
    ffmpeg(*[a.format(base=base, sample=SAMPLE) for a in RECIPES[recipe]], str(out))
    return out


def ensure_account(account: DemoAccount) -> tuple[User, str | None]:
    """The demo account, made if missing: (user, its new password, or None when it existed)."""
    try:
        return get_by_handle(account.handle), None
    except NotFound:
        password = secrets.token_urlsafe(12)
        user = register(account.handle, f"{account.handle}@example.com", password, role=account.role)
        user.display_name = account.display_name
        db.session.commit()
        return user, password


def ensure_token(user: User) -> str | None:
    """The secret of a new "demo script" token of ``user``, or None when a live one exists already."""
    now = utcnow()
    if any(token.name == TOKEN_NAME and token.is_active(now) for token in tokens.list_tokens(user)):
        return None
    _, secret = tokens.create_token(user, TOKEN_NAME, TOKEN_SCOPES, TOKEN_DAYS)
    return secret


@dataclass(frozen=True)
class Seeded:
    """What a seeding run made: new accounts (handle, role, password), a new token's secret, new videos."""

    accounts: list[tuple[str, str, str]]
    token: str | None
    videos: list[str]


def seed() -> Seeded:
    """Create the missing demo accounts, demo_creator's token and the demo videos. Idempotent."""
    accounts = []
    for account in ACCOUNTS:
        _, password = ensure_account(account)
        if password:
            accounts.append((account.handle, account.role.value, password))
    token = ensure_token(get_by_handle(TOKEN_OWNER))
    videos = []
    with tempfile.TemporaryDirectory(prefix="wm-demo-") as tmp:
        for demo in VIDEOS:
            owner = get_by_handle(demo.owner)
            if any(v.title == demo.title for v in list_own_videos(owner)):
                continue
            video = upload_whole_file(owner, make_clip(demo.recipe, Path(tmp)), title=demo.title)
            description = demo.description if demo.recipe == "sample" else f"{demo.description}\n\n{CREDIT}"
            update_details(owner, video.public_id, demo.title, description, "published", demo.tier)
            videos.append(video.public_id)
    return Seeded(accounts, token, videos)
