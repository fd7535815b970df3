"""Playback: signed media URLs (nginx ``secure_link``), playlists rewritten per viewer, the premium preview.

Segments, posters and sprite sheets never pass through Python in production: the app writes playlists
whose every file URL carries an expiring signature that nginx checks (``secure_link_md5``) before it
serves the file from the storage folder; on S3 the URLs are presigned instead. The premium preview is
enforced here: a non-pro viewer's playlist lists (and signs) only the segments of the first
``WM_PREVIEW_SECONDS``, so the rest cannot be fetched.

The watch page's playlists know their viewer from the session. A client of the JSON API (a token, an app
without cookies) gets playlist URLs under a *grant* instead: a signed path piece that carries what its
viewer may watch (the whole video or the preview) and expires like the media URLs. Its playlists' relative
URIs keep it, so a stock HLS player needs no credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from wm.models.accounts import User
from wm.models.media import Video
from wm.services import DomainError, NotFound
from wm.services.media import can_watch_whole
from wm.storage import LocalStorage, storage
from wm.validation import int_or_none

URL_LIFETIME = 6 * 3600
EXPIRY_STEP = 600  # round expiries up, so a playlist fetched twice in a few minutes is byte-identical


def media_secret() -> str:
    """The key nginx and the app share for signed media URLs (derived from ``WM_SECRET_KEY``)."""
    return hashlib.sha256(f"{current_app.config['SECRET_KEY']}:media-urls".encode()).hexdigest()


def signature(uri: str, expires: int, end: str = "") -> str:
    """What nginx computes for ``secure_link_md5 "$secure_link_expires$uri$arg_end <secret>"``."""
    digest = hashlib.md5(f"{expires}{uri}{end} {media_secret()}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def verify(uri: str, md5: str, expires: str, end: str = "") -> bool | None:
    """True if the URL is signed and fresh, False if signed but expired, None if not signed."""
    seconds = int_or_none(expires)
    if seconds is None or not hmac.compare_digest(signature(uri, seconds, end), md5):
        return None
    return seconds >= time.time()


def media_url(key: str, lifetime: int = URL_LIFETIME) -> str:
    """A URL a browser may fetch ``key`` from until it expires."""
    store = storage()
    if not isinstance(store, LocalStorage):
        return store.url(key, lifetime) or ""
    expires = math.ceil((time.time() + lifetime) / EXPIRY_STEP) * EXPIRY_STEP
    uri = f"/m/{key}"
    return f"{uri}?md5={signature(uri, expires)}&expires={expires}"


class GrantExpired(DomainError):
    status = 410


def _grants() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="playback-grant")


def _grant_state(video: Video) -> list:
    """What a grant is good for: this video, as visible and in the tier it had when the grant was given."""
    return [video.public_id, video.visibility.value, video.access_tier.value]


def grant(video: Video, whole: bool) -> str:
    """A signed path piece that lets its holder play ``video`` (the ``whole`` of it, or the preview) until it
    expires, or until the video's visibility or tier changes."""
    return _grants().dumps([*_grant_state(video), whole])


def granted_whole(video: Video, text: str) -> bool:
    """Whether the grant ``text`` opens the whole of ``video`` (False: the preview); NotFound if it is no grant
    for this video as it is now (another video, or since made private or moved to another tier), GrantExpired
    if it was one."""
    try:
        *state, whole = _grants().loads(text, max_age=URL_LIFETIME)
    except SignatureExpired:
        raise GrantExpired("This playback link has expired; ask the API for the video again.") from None
    except (BadData, ValueError):
        raise NotFound("No such video.") from None
    if state != _grant_state(video) or not isinstance(whole, bool):
        raise NotFound("No such video.")
    return whole


def _read(video: Video, name: str) -> str:
    if not video.playable:
        raise NotFound("This video is not ready to play.")
    return storage().read_bytes(video.published_prefix + name).decode()


def variant_names(video: Video) -> set[str]:
    names = {rendition["name"] for rendition in video.renditions or []}
    return names | ({"audio"} if video.renditions else set())


def master_playlist(video: Video) -> str:
    """The master playlist (its variant URIs are relative: they resolve to our playlist routes)."""
    return _read(video, "master.m3u8")


def media_playlist(video: Video, name: str, whole: bool) -> str:
    """A rendition's playlist with signed segment URLs; cut at the preview length unless the viewer sees the
    ``whole`` video."""
    if name not in variant_names(video):
        raise NotFound("No such rendition.")
    preview = None if whole else current_app.config["WM_PREVIEW_SECONDS"]
    lines, out, elapsed, segment_length = _read(video, f"{name}/index.m3u8").splitlines(), [], 0.0, 0.0
    for line in lines:
        if line.startswith("#EXTINF:"):
            segment_length = float(line.split(":", 1)[1].rstrip(",").split(",")[0])
            if preview is not None and elapsed >= preview:
                break
            out.append(line)
        elif line and not line.startswith("#"):
            out.append(media_url(f"{video.published_prefix}{name}/{line}"))
            elapsed += segment_length
        elif line != "#EXT-X-ENDLIST":
            out.append(line)
    out.append("#EXT-X-ENDLIST")
    return "\n".join(out) + "\n"


def storyboard_vtt(video: Video, whole: bool) -> str:
    """The storyboard index with signed sprite-sheet URLs; for a preview viewer only the sheets wholly inside it."""
    if video.audio_only:
        raise NotFound("An audio-only video has no storyboard.")
    preview = None if whole else current_app.config["WM_PREVIEW_SECONDS"]
    cues = _storyboard_cues(_read(video, "storyboard/storyboard.vtt"))
    if preview is not None:
        # A sheet is one picture of up to 100 tiles: signing it shows every tile, so it is shown only when
        # none of its tiles lies past the preview.
        past = {sheet for start, _, sheet, _ in cues if start >= preview}
        cues = [cue for cue in cues if cue[2] not in past]
    lines = ["WEBVTT", ""]
    for _, timing, sheet, fragment in cues:
        lines += [timing, media_url(f"{video.published_prefix}storyboard/{sheet}") + "#" + fragment, ""]
    return "\n".join(lines)


def _storyboard_cues(vtt: str) -> list[tuple[float, str, str, str]]:
    """(start seconds, timing line, sheet file name, ``xywh`` fragment) of each cue of a storyboard index."""
    cues, timing = [], ""
    for line in vtt.splitlines():
        if "-->" in line:
            timing = line
        elif "#xywh=" in line and timing:
            sheet, _, fragment = line.partition("#")
            hours, minutes, seconds = timing.split("-->")[0].strip().split(":")
            cues.append((int(hours) * 3600 + int(minutes) * 60 + float(seconds), timing, sheet, fragment))
    return cues


def poster_url(video: Video) -> str | None:
    return media_url(video.published_prefix + "poster.jpg") if video.playable else None


def fallback_url(video: Video, whole: bool) -> str | None:
    """The progressive MP4 (or M4A), only for viewers who may watch the whole video."""
    if not video.playable or not whole:
        return None
    name = "audio.m4a" if video.audio_only else "video.mp4"
    return media_url(video.published_prefix + name)


@dataclass(frozen=True)
class Offer:
    """What a viewer is given to play a video: all of it or a preview of so many seconds, a poster, and the
    progressive file (only with all of it)."""

    whole: bool
    preview_seconds: int | None
    poster: str | None
    mp4: str | None


def offer(video: Video, viewer: User | None) -> Offer:
    """What ``viewer`` may play of ``video`` (the watch page's player and the API's playback URLs)."""
    whole = can_watch_whole(video, viewer)
    return Offer(whole=whole, preview_seconds=None if whole else current_app.config["WM_PREVIEW_SECONDS"],
                 poster=poster_url(video), mp4=fallback_url(video, whole))
