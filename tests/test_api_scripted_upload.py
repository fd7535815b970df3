"""The README's scripted upload, run as written: a creator's token and tuspy against nginx, gunicorn and MariaDB."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.apps import REDIS_URL
from tests.fixtures.edge import edge_stack
from tests.fixtures.media import make_clip
from tests.fixtures.users import make_user, token_for
from tests.fixtures.workers import run_burst
from wm.extensions import db
from wm.models.media import Video, VideoState

pytestmark = pytest.mark.edge

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_blocks(section: str) -> list[tuple[str, str]]:
    """The fenced code blocks under the README's ``### section``, in order: (language, code)."""
    text = README.read_text()
    start = text.index(f"\n### {section}\n")
    following = re.search(r"\n##+ ", text[start + 1:])
    body = text[start:start + 1 + following.start()] if following else text[start:]
    return [(language, textwrap.dedent(code))
            for language, code in re.findall(r"^ *```(\w+)\n(.*?)^ *```$", body, re.S | re.M)]


def test_the_readmes_scripted_upload_works_as_written(app, mysql_url, tmp_path, clip_dir):
    (script_language, script), (_, upload), (_, poll) = readme_blocks("Scripted uploads")
    assert script_language == "python"
    creator = make_user(app, role="creator")
    secret = token_for(app, creator, ("upload", "read"))
    (tmp_path / "upload.py").write_text(script)
    shutil.copy(make_clip(clip_dir, "tiny"), tmp_path / "holiday.mp4")
    # The app's folders, so that this test's workers find what gunicorn took.
    shared = {"WM_SECRET_KEY": app.config["SECRET_KEY"], "WM_VAR_DIR": app.config["WM_VAR_DIR"]}
    with edge_stack(mysql_url, REDIS_URL, tmp_path / "stack", env_overrides=shared) as stack:
        shell = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                 "WM_URL": stack.edge, "WM_TOKEN": secret}
        uploaded = subprocess.run(["bash", "-euo", "pipefail", "-c", upload], cwd=tmp_path, env=shell,
                                  capture_output=True, text=True, timeout=120)
        assert uploaded.returncode == 0, uploaded.stderr
        public_id = uploaded.stdout.strip()
        with app.app_context():
            video = db.session.scalar(select(Video).where(Video.public_id == public_id))
            assert (video.owner_id, video.title, video.state) == (creator.id, "Holiday, day one",
                                                                  VideoState.processing)
        run_burst(app, "general")
        run_burst(app, "encode")
        # The README's last block, as written: it polls the status until the encode is over.
        polled = subprocess.run(["bash", "-euo", "pipefail", "-c", poll], cwd=tmp_path,
                                env={**shell, "VIDEO_ID": public_id}, capture_output=True, text=True, timeout=60)
    assert polled.returncode == 0, polled.stderr
    last = json.loads(polled.stdout.strip().splitlines()[-1])
    assert (last["public_id"], last["state"], last["progress"]) == (public_id, "ready", 100), last
    assert last["watch_url"].endswith(f"/v/{public_id}")
