"""The wm command line: create-admin, maintenance, nginx-config, seed-demo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from sqlalchemy import select

from wm.extensions import db
from wm.models.accounts import AccessToken, Role, User
from wm.models.media import AccessTier, Video, VideoState, Visibility


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


def test_seed_demo_fills_a_lively_feed_once(app, burst_worker):
    """Several named creators, videos of different lengths cut from the sample, all published, one pro;
    a second run adds nothing."""
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert first.output.count("password:") == 6 and "Demo videos uploaded: 8" in first.output
    token = re.search(r'API access token of demo_creator \("demo script", read\+upload; shown once\): (wmpat_\S+)',
                      first.output).group(1)
    assert f'curl -H "Authorization: Bearer {token}" http://127.0.0.1:8000/api/v1/me' in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "password:" not in second.output and "Demo videos" not in second.output
    assert "wmpat_" not in second.output
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["handle"] == "demo_creator"
    assert me.json["token"]["scopes"] == ["read", "upload"]
    with app.app_context():
        users = {u.handle: u for u in db.session.scalars(select(User))}
        assert {"demo_admin", "demo_viewer"} <= set(users) and len(users) == 6
        assert users["demo_admin"].role is Role.admin and users["demo_viewer"].role is Role.viewer
        creators = {h for h, u in users.items() if u.role is Role.creator}
        assert len(creators) == 4 and all(users[h].display_name for h in creators)
        assert db.session.query(Video).count() == 8
        assert [(t.name, t.user.handle) for t in db.session.scalars(select(AccessToken))] == [
            ("demo script", "demo_creator")]
    burst_worker("general")
    burst_worker("encode")
    with app.app_context():
        videos = list(db.session.scalars(select(Video)))
        assert {(v.state, v.visibility) for v in videos} == {(VideoState.ready, Visibility.published)}, [
            (v.title, v.failure_reason) for v in videos]
        assert {v.owner.handle for v in videos} == creators
        assert [v.title for v in videos if v.access_tier is AccessTier.pro] == ["The long watch"]
        lengths = sorted(round(v.duration) for v in videos)
        assert lengths[0] <= 3 and lengths[-1] > 60 and len(set(lengths)) >= 4, lengths
    feed = app.test_client().get("/").get_data(as_text=True)
    assert all(v.title.replace("'", "&#39;") in feed for v in videos)


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
