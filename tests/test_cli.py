"""The wm command line: create-admin, maintenance, nginx-config, seed-demo."""

from __future__ import annotations

import json
import shutil
import subprocess

from sqlalchemy import select

from wm.extensions import db
from wm.models.accounts import Role, User
from wm.models.media import Video, VideoState


def test_create_admin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create-admin", "--handle", "root_admin", "--email", "root@example.com",
                                 "--password", "a long admin password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.handle_key == "root_admin"))
        assert user.role is Role.admin
    again = runner.invoke(args=["users", "create-admin", "--handle", "root_admin", "--email", "r2@example.com",
                                "--password", "a long admin password"])
    assert again.exit_code != 0 and "That handle is taken." in again.output


def test_seed_demo_is_idempotent_and_the_demo_video_plays(app, burst_worker):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0 and first.output.count("password:") == 3
    assert "Demo video uploaded" in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "password:" not in second.output and "Demo video" not in second.output
    with app.app_context():
        roles = {u.handle: u.role for u in db.session.scalars(select(User))}
    assert roles == {"demo_admin": Role.admin, "demo_creator": Role.creator, "demo_viewer": Role.viewer}
    burst_worker("general")
    burst_worker("encode")
    with app.app_context():
        video = db.session.scalars(select(Video)).one()
        assert (video.state, video.visibility.value, video.title) == (VideoState.ready, "published",
                                                                      "Big Buck Bunny (demo)")
    assert "Big Buck Bunny (demo)" in app.test_client().get(f"/v/{video.public_id}").get_data(as_text=True)


def test_maintenance_lists_and_runs_tasks(app):
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["maintenance", "--list"])
    assert "clean-queues" in listing.output and "queue-report" in listing.output
    result = runner.invoke(args=["maintenance", "queue-report"])
    assert result.exit_code == 0
    assert set(json.loads(result.output)) == {"critical", "high", "default", "low", "maintenance", "encode"}
    unknown = runner.invoke(args=["maintenance", "no-such-task"])
    assert unknown.exit_code != 0 and "unknown task" in unknown.output


def test_rendered_nginx_config_passes_nginx_t(app, tmp_path):
    conf = tmp_path / "nginx.conf"
    result = app.test_cli_runner().invoke(args=["nginx-config", "--standalone", "--listen", "127.0.0.1:18999",
                                                "--prefix", str(tmp_path), "--out", str(conf)])
    assert result.exit_code == 0, result.output
    text = conf.read_text()
    assert "limit_req_zone" in text and "keepalive" in text and "gzip on" in text
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_nginx_config_rate_overrides(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["nginx-config", "--rate", "pages=5r/s"])
    assert result.exit_code == 0 and "zone=wm_pages:10m rate=5r/s" in result.output
    assert "zone=wm_auth:10m rate=10r/m" in result.output
    for bad in ("bogus", "nozone=1r/s"):
        refused = runner.invoke(args=["nginx-config", "--rate", bad])
        assert refused.exit_code != 0 and "ZONE=RATE" in refused.output
