"""The endpoints uptime checks poll every 60 s: /api/v1/feed, /api/v1/upload/status, /api/v1/payment/status (and
/api/v1/auth/check). Each is public, uncached, 200 when what it watches works and a 503 problem when not."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

from tests.fixtures.apps import app_config
from tests.fixtures.users import log_in, make_user
from tests.fixtures.workers import record_marker
from wm import create_app
from wm.extensions import ENCODE_QUEUE, db
from wm.models.accounts import User
from wm.models.base import utcnow
from wm.models.media import Video, VideoState, Visibility
from wm.queues import enqueue
from wm.services.accounts import tokens

MONITORED = ["/api/v1/feed", "/api/v1/upload/status", "/api/v1/payment/status", "/api/v1/auth/check"]
ADMIN_ONLY = {"error", "ms", "free_bytes", "min_free_bytes"}


def add_videos(app: Flask, owner: User, count: int, visibility=Visibility.published, state=VideoState.ready,
               prefix: str = "feed") -> list[str]:
    """``count`` videos of ``owner``, one minute apart (the last is the newest); their public ids."""
    start = utcnow() - timedelta(days=1)
    ids = []
    with app.app_context():
        for n in range(count):
            public_id = f"{prefix}{n:04d}".ljust(11, "x")[:11]
            db.session.add(Video(public_id=public_id, owner_id=owner.id, title=f"{prefix} video {n}",
                                 state=state, visibility=visibility, published_prefix=f"published/{public_id}/v1/",
                                 created_at=start + timedelta(minutes=n)))
            ids.append(public_id)
        db.session.commit()
    return ids


def problem_of(response, status: int = 503) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def assert_public(checks: dict) -> None:
    """Nothing but the outcome and the queue's numbers reaches a caller who is not an admin."""
    for name, check in checks.items():
        assert not ADMIN_ONLY & set(check), (name, check)


def broken_app(mysql_url: str, **overrides) -> Flask:
    """Another app on the test database and Redis, with ``overrides`` breaking one thing."""
    return create_app(app_config(mysql_url, **overrides))


def admin_client(app: Flask):
    client = app.test_client()
    log_in(client, make_user(app, role="admin").handle)
    return client


def test_every_monitored_endpoint_is_public_uncached_and_documented(app, client):
    document = client.get("/api/v1/openapi.json").json
    for url in MONITORED:
        response = client.get(url)
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["X-API-Version"] == "1"
        operation = document["paths"][url]["get"]
        assert operation["security"] == [{}], url
    for url in ("/api/v1/feed", "/api/v1/upload/status"):
        assert "503" in document["paths"][url]["get"]["responses"], url
    # A token of any scope may poll them too.
    user = make_user(app)
    with app.app_context():
        _, secret = tokens.create_token(db.session.get(User, user.id), "uptime robot", ["read"], 30)
    for url in ("/api/v1/feed", "/api/v1/payment/status"):
        assert client.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_the_feed_endpoint_serves_the_feed_s_newest_videos(app, client):
    owner = make_user(app, role="creator", handle="meadow_films")
    published = add_videos(app, owner, 12)
    add_videos(app, owner, 1, visibility=Visibility.draft, prefix="draft")
    add_videos(app, owner, 1, state=VideoState.processing, prefix="encoding")
    response = client.get("/api/v1/feed")
    body = response.json
    assert response.status_code == 200 and body["status"] == "ok"
    assert [video["public_id"] for video in body["videos"]] == published[::-1][:10]
    newest = body["videos"][0]
    public = client.application.config["WM_PUBLIC_URL"]
    assert newest == {"public_id": published[-1], "title": "feed video 11", "channel": "meadow_films",
                      "created_at": newest["created_at"], "watch_url": f"{public}/v/{published[-1]}"}
    assert client.get(f"/v/{published[-1]}").status_code == 200
    # The same videos, in the same order, as the feed page shows.
    page = client.get("/").get_data(as_text=True)
    assert [page.index(f"/v/{public_id}") for public_id in published[::-1][:10]] == sorted(
        page.index(f"/v/{public_id}") for public_id in published[::-1][:10])


def test_the_feed_endpoint_runs_one_query_however_many_videos_there_are(app, client):
    owner = make_user(app, role="creator")
    statements = []

    def count(*_args) -> None:
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = []
        for batch in ("a", "b"):
            add_videos(app, owner, 15, prefix=batch)
            statements.clear()
            assert client.get("/api/v1/feed").status_code == 200
            counts.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts == [1, 1]


def test_the_feed_endpoint_is_a_503_problem_when_the_database_is_down(app):
    down = create_app(app_config("mysql+pymysql://root@127.0.0.1:1/nothing"))
    body = problem_of(down.test_client().get("/api/v1/feed"))
    assert body["type"] == "/api/v1/problems#unavailable" and "database" in body["detail"]


def test_upload_status_is_a_503_problem_without_an_encode_worker(client):
    body = problem_of(client.get("/api/v1/upload/status"))
    assert body["type"] == "/api/v1/problems#unavailable" and "encode failing" in body["detail"]
    assert body["checks"] == {"storage": {"ok": True}, "uploads": {"ok": True},
                              "encode": {"ok": False, "workers": 0, "queued": 0, "oldest_queued_seconds": None}}


def test_upload_status_reports_the_encode_queue_depth_and_its_oldest_job(app, client):
    with app.app_context():
        enqueue(ENCODE_QUEUE, record_marker, "waiting")
        enqueue(ENCODE_QUEUE, record_marker, "waiting too")
    encode = problem_of(client.get("/api/v1/upload/status"))["checks"]["encode"]
    assert encode["queued"] == 2 and encode["workers"] == 0
    assert 0 <= encode["oldest_queued_seconds"] < 600


def test_upload_status_is_ok_with_a_live_encode_worker(app, client, worker_processes):
    deadline = time.monotonic() + 60
    response = client.get("/api/v1/upload/status")
    while response.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        response = client.get("/api/v1/upload/status")
    body = response.json
    assert response.status_code == 200, body
    assert response.headers["Cache-Control"] == "no-store"
    assert body["status"] == "ok" and body["checks"]["encode"]["workers"] >= 1
    assert {check["ok"] for check in body["checks"].values()} == {True}
    assert_public(body["checks"])
    # An admin sees the timings and the uploads folder's free space as well.
    admin = admin_client(app).get("/api/v1/upload/status").json["checks"]
    assert admin["uploads"]["free_bytes"] >= admin["uploads"]["min_free_bytes"] > 0
    assert {"ms"} <= set(admin["storage"]) and {"ms"} <= set(admin["encode"])


def test_upload_status_is_a_503_when_local_storage_takes_no_write(app, mysql_url, tmp_path):
    root = tmp_path / "storage"
    broken = broken_app(mysql_url, WM_STORAGE_URL=f"file://{root}")
    root.rmdir()
    root.write_text("a file where the storage folder should be")
    body = problem_of(broken.test_client().get("/api/v1/upload/status"))
    assert body["checks"]["storage"] == {"ok": False} and "storage" in body["detail"]
    assert_public(body["checks"])
    admin = problem_of(admin_client(broken).get("/api/v1/upload/status"))["checks"]["storage"]
    assert admin["ok"] is False and str(root) in admin["error"]


def test_upload_status_is_a_503_when_the_s3_bucket_takes_no_write(app, mysql_url, s3_endpoint):
    broken = broken_app(mysql_url, WM_STORAGE_URL=f"s3://no-such-bucket/media?endpoint={s3_endpoint}"
                                                  "&addressing=path")
    body = problem_of(broken.test_client().get("/api/v1/upload/status"))
    assert body["checks"]["storage"] == {"ok": False}
    assert "NoSuchBucket" in problem_of(admin_client(broken).get("/api/v1/upload/status"))["checks"]["storage"][
        "error"]


@pytest.mark.parametrize("breakage", ["no folder", "no space"])
def test_upload_status_is_a_503_when_the_uploads_folder_fails(app, mysql_url, tmp_path, breakage):
    if breakage == "no folder":
        (tmp_path / "uploads").write_text("a file where the uploads folder should be")
        broken = broken_app(mysql_url, WM_VAR_DIR=str(tmp_path))
    else:
        broken = broken_app(mysql_url, WM_UPLOAD_MIN_FREE_BYTES=2**62)
    body = problem_of(broken.test_client().get("/api/v1/upload/status"))
    assert body["checks"]["uploads"] == {"ok": False} and "uploads" in body["detail"]
    admin = problem_of(admin_client(broken).get("/api/v1/upload/status"))["checks"]["uploads"]
    if breakage == "no space":
        assert admin["free_bytes"] < admin["min_free_bytes"] == 2**62
    else:
        assert "uploads" in admin["error"]


def test_the_storage_probe_leaves_nothing_behind(app, client):
    root = Path(app.config["WM_STORAGE_URL"].removeprefix("file://"))
    for _ in range(3):
        client.get("/api/v1/upload/status")
    assert not (root / "probes").exists()
    assert [p.name for p in (Path(app.config["WM_VAR_DIR"]) / "uploads").iterdir() if p.name.startswith(".probe")] == []


def test_payment_status_says_not_configured(client):
    response = client.get("/api/v1/payment/status")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.json["status"] == "not_configured" and response.json["detail"]
