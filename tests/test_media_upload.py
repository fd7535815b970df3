"""The tus 1.0 upload API over real HTTP, driven by the tuspy client (and raw requests for bad input)."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate
from sqlalchemy import func, select
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from tests.fixtures.apps import REDIS_URL
from tests.fixtures.edge import edge_stack
from tests.fixtures.media import WebSession, make_clip
from tests.fixtures.users import bearer, make_user, token_for
from wm.extensions import db, get_queue
from wm.models.accounts import Role, User
from wm.models.base import utcnow
from wm.models.media import Upload, Video, VideoState
from wm.services import DomainError
from wm.services.accounts import tokens
from wm.services.media import upload as upload_service


def uploads_folder(app) -> Path:
    return Path(app.config["WM_VAR_DIR"]) / "uploads"


def received_bytes(app, upload_url: str) -> bytes:
    """What the server holds of an upload: its parts, joined in offset order."""
    folder = uploads_folder(app) / upload_url.rstrip("/").rsplit("/", 1)[1]
    return b"".join(part.read_bytes() for part in sorted(folder.iterdir(), key=lambda p: int(p.name)))


def video_of(app, upload_url: str) -> Video:
    with app.app_context():
        upload = db.session.get(Upload, upload_url.rstrip("/").rsplit("/", 1)[1])
        video = db.session.get(Video, upload.video_id)
        db.session.expunge(video)
        return video


def test_options_announce_the_tus_extensions(live_server):
    response = requests.options(f"{live_server}/api/v1/uploads/")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation", "creation-with-upload", "termination", "checksum", "expiration"}
    assert response.headers["Tus-Checksum-Algorithm"] == "sha1"


def test_tuspy_upload_with_checksums_completes_and_queues_ingest(app, web_session, clip_dir):
    session = web_session("creator")
    clip = make_clip(clip_dir, "landscape")
    uploader = session.tus().uploader(str(clip), chunk_size=256 * 1024, upload_checksum=True,
                                      metadata={"filename": clip.name, "title": "My first video"})
    uploader.upload()
    assert uploader.offset == clip.stat().st_size
    video = video_of(app, uploader.url)
    assert video.state is VideoState.processing and video.title == "My first video"
    with app.app_context():
        assert get_queue("high").count == 1
    assert hashlib.sha1(received_bytes(app, uploader.url)).digest() == hashlib.sha1(clip.read_bytes()).digest()


def test_a_creators_upload_token_uploads_with_a_stock_tus_client_and_no_cookie_or_csrf_token(app, live_server,
                                                                                              clip_dir):
    creator = make_user(app, role="creator")
    secret = token_for(app, creator, ("upload",))
    clip = make_clip(clip_dir, "landscape")
    client = TusClient(f"{live_server}/api/v1/uploads/", headers=bearer(secret))
    uploader = client.uploader(str(clip), chunk_size=256 * 1024, upload_checksum=True,
                               metadata={"filename": clip.name, "title": "From a script"})
    uploader.upload()
    video = video_of(app, uploader.url)
    assert video.state is VideoState.processing and video.title == "From a script"
    assert received_bytes(app, uploader.url) == clip.read_bytes()
    head = requests.head(uploader.url, headers={**bearer(secret), "Tus-Resumable": "1.0.0"})
    assert head.status_code == 200 and head.headers["X-Video-Id"] == video.public_id
    assert "Set-Cookie" not in head.headers


def tus_call(client, method: str, url: str, secret: str):
    return client.open(url, method=method, data=b"abc" if method == "PATCH" else None, headers={
        **bearer(secret), "Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})


def test_a_token_without_the_upload_scope_gets_a_403_problem_on_every_tus_call(app, client):
    creator = make_user(app, role="creator")
    uploading, other = token_for(app, creator, ("upload",)), token_for(app, creator, ("read", "manage"))
    url = tus_call(client, "POST", "/api/v1/uploads/", uploading).headers["Location"]
    for method, target in (("POST", "/api/v1/uploads/"), ("HEAD", url), ("PATCH", url), ("DELETE", url)):
        response = tus_call(client, method, target, other)
        assert response.status_code == 403, method
        assert response.mimetype == "application/problem+json" and response.headers["Tus-Resumable"] == "1.0.0"
        assert 'error="insufficient_scope", scope="upload"' in response.headers["WWW-Authenticate"], method
        if method != "HEAD":
            assert response.json["type"] == "/api/v1/problems#insufficient-scope", method
    assert client.options("/api/v1/uploads/", headers=bearer(other)).status_code == 204  # discovery is open
    assert tus_call(client, "HEAD", url, uploading).headers["Upload-Offset"] == "0"  # nothing was written


def test_only_a_creator_holds_an_upload_token(app, client):
    viewer = make_user(app, role="viewer")
    with app.app_context(), pytest.raises(DomainError, match="only these scopes: read"):
        tokens.create_token(db.session.merge(viewer), "uploader", ["upload"], 30)
    creator = make_user(app, role="creator")
    secret = token_for(app, creator, ("upload",))
    assert tus_call(client, "POST", "/api/v1/uploads/", secret).status_code == 201
    with app.app_context():
        db.session.get(User, creator.id).role = Role.viewer
        db.session.commit()
    refused = tus_call(client, "POST", "/api/v1/uploads/", secret)
    assert refused.status_code == 403 and refused.json["type"] == "/api/v1/problems#insufficient-scope"


def test_the_tus_endpoints_and_their_headers_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    collection, item = document["paths"]["/api/v1/uploads/"], document["paths"]["/api/v1/uploads/{upload_id}"]
    assert set(collection) == {"options", "post"} and set(item) >= {"head", "patch", "delete"}
    assert set(collection["options"]["responses"]["204"]["headers"]) == {
        "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm"}
    created = collection["post"]["responses"]["201"]["headers"]
    assert set(created) == {"Tus-Resumable", "Location", "Upload-Offset", "Upload-Expires", "X-Video-Id"}
    sent = {parameter["name"] for parameter in collection["post"]["parameters"] if parameter["in"] == "header"}
    assert sent == {"Tus-Resumable", "Upload-Length", "Upload-Metadata", "Upload-Checksum"}
    assert {"bearer": ["upload"]} in collection["post"]["security"]
    patch = item["patch"]
    assert list(patch["requestBody"]["content"]) == ["application/offset+octet-stream"]
    assert {"Upload-Offset", "Upload-Checksum"} <= {parameter["name"] for parameter in patch["parameters"]}
    assert {"204", "409", "410", "413", "460"} <= set(patch["responses"])
    assert set(item["head"]["responses"]["200"]["headers"]) >= {"Upload-Offset", "Upload-Length", "X-Video-Id"}


def test_an_interrupted_upload_resumes_from_its_offset(app, web_session, clip_dir):
    session = web_session("creator")
    clip = make_clip(clip_dir, "landscape")
    first = session.tus().uploader(str(clip), chunk_size=200_000)
    first.upload_chunk()
    first.upload_chunk()
    assert first.offset == 400_000
    resumed = session.tus().uploader(str(clip), url=first.url, chunk_size=1_000_000)
    assert resumed.offset == 400_000  # read back with HEAD
    resumed.upload()
    with app.app_context():
        upload = db.session.get(Upload, first.url.rsplit("/", 1)[1])
        assert upload.offset == upload.length == clip.stat().st_size
    assert received_bytes(app, first.url) == clip.read_bytes()


def test_creation_with_upload_writes_the_first_bytes(app, web_session):
    session = web_session("creator")
    body = b"x" * 1000
    response = session.http.post(f"{session.base}/api/v1/uploads/", data=body, headers={
        **session.headers, "Upload-Length": "5000", "Content-Type": "application/offset+octet-stream"})
    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "1000"
    assert "Upload-Expires" in response.headers


def create(session, length: int = 1000) -> str:
    response = session.http.post(f"{session.base}/api/v1/uploads/",
                                 headers={**session.headers, "Upload-Length": str(length)})
    assert response.status_code == 201, response.text
    return session.base + response.headers["Location"]


def patch(session, url: str, offset: int, body, **headers) -> requests.Response:
    return session.http.patch(url, data=body, headers={
        **session.headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers})


def test_a_wrong_offset_is_a_409_and_changes_nothing(app, web_session):
    session = web_session("creator")
    url = create(session)
    assert patch(session, url, 0, b"a" * 100).status_code == 204
    response = patch(session, url, 50, b"b" * 100)
    assert response.status_code == 409
    assert "Upload-Offset is 50 but the upload is at 100" in response.json()["detail"]
    head = session.http.head(url, headers=session.headers)
    assert head.headers["Upload-Offset"] == "100" and head.headers["Upload-Length"] == "1000"


def test_a_concurrent_patch_gets_409(app, web_session):
    session = web_session("creator")
    url = create(session, length=10_000)
    release = threading.Event()

    def slow_body():
        yield b"a" * 100
        release.wait(10)
        yield b"b" * 100

    first = {}
    thread = threading.Thread(target=lambda: first.update(response=patch(session, url, 0, slow_body())))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        with app.app_context():
            from wm.extensions import redis_client

            while not redis_client.keys("upload-lock:*") and time.monotonic() < deadline:
                time.sleep(0.05)
        second = patch(session, url, 0, b"c" * 100)
    finally:
        release.set()
        thread.join(10)
    assert second.status_code == 409
    assert "Another request is writing" in second.json()["detail"]
    assert first["response"].status_code == 204 and first["response"].headers["Upload-Offset"] == "200"


def test_an_oversized_upload_is_refused_before_any_byte_is_stored(app, web_session):
    session = web_session("creator")
    app.config["WM_MAX_UPLOAD_BYTES"] = 1_000_000
    try:
        response = session.http.post(f"{session.base}/api/v1/uploads/",
                                     headers={**session.headers, "Upload-Length": "1000001"})
    finally:
        app.config["WM_MAX_UPLOAD_BYTES"] = 8 * 1024**3
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert not uploads_folder(app).exists() or list(uploads_folder(app).iterdir()) == []
    with app.app_context():
        assert db.session.query(Video).count() == 0


def test_the_storage_quota_is_enforced(app, web_session):
    session = web_session("creator")
    app.config["WM_CREATOR_QUOTA_BYTES"] = 5000
    try:
        create(session, 4000)
        response = session.http.post(f"{session.base}/api/v1/uploads/",
                                     headers={**session.headers, "Upload-Length": "2000"})
    finally:
        app.config["WM_CREATOR_QUOTA_BYTES"] = 50 * 1024**3
    assert response.status_code == 413 and "storage quota" in response.json()["detail"]


def test_concurrent_upload_creations_never_reserve_past_the_quota(any_app):
    """Twelve creations at once (real threads, real database): only as many as fit in the quota are taken."""
    app, gib = any_app, 1024**3
    creator = make_user(app, role="creator")
    app.config["WM_CREATOR_QUOTA_BYTES"] = 50 * gib
    start, outcomes = threading.Barrier(12), []

    def create_one() -> None:
        with app.app_context():
            owner = db.session.get(User, creator.id)
            start.wait(10)
            try:
                upload_service.create(owner, 8 * gib, {"filename": "big.mp4"})
                outcomes.append("created")
            except upload_service.TooLarge:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=create_one) for _ in range(12)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        app.config["WM_CREATOR_QUOTA_BYTES"] = 50 * gib
    with app.app_context():
        reserved = db.session.scalar(select(func.sum(Video.source_bytes)).where(Video.owner_id == creator.id))
    assert sorted(outcomes) == ["created"] * 6 + ["refused"] * 6
    assert reserved == 48 * gib


def test_a_checksum_mismatch_is_460_and_the_bytes_are_dropped(app, web_session):
    session = web_session("creator")
    url = create(session)
    wrong = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
    response = patch(session, url, 0, b"a" * 100, **{"Upload-Checksum": f"sha1 {wrong}"})
    assert response.status_code == 460
    right = base64.b64encode(hashlib.sha1(b"a" * 100).digest()).decode()
    response = patch(session, url, 0, b"a" * 100, **{"Upload-Checksum": f"sha1 {right}"})
    assert response.status_code == 204 and response.headers["Upload-Offset"] == "100"
    bad_algorithm = patch(session, url, 100, b"a", **{"Upload-Checksum": f"md5 {right}"})
    assert bad_algorithm.status_code == 400


def test_termination_removes_the_upload(app, web_session):
    session = web_session("creator")
    url = create(session)
    patch(session, url, 0, b"a" * 10)
    assert session.http.delete(url, headers=session.headers).status_code == 204
    assert session.http.head(url, headers=session.headers).status_code == 404
    assert list(uploads_folder(app).iterdir()) == []


def test_an_expired_upload_is_gone_and_the_maintenance_task_removes_it(app, web_session):
    session = web_session("creator")
    url = create(session)
    with app.app_context():
        upload = db.session.get(Upload, url.rsplit("/", 1)[1])
        upload.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert patch(session, url, 0, b"a").status_code == 410
    result = app.test_cli_runner().invoke(args=["maintenance", "expire-uploads"])
    assert '"expired": 1' in result.output
    assert list(uploads_folder(app).iterdir()) == []


def test_uploads_are_for_their_creator_only(app, web_session):
    owner, other, viewer = web_session("creator"), web_session("creator"), web_session("viewer")
    url = create(owner)
    assert other.http.head(url, headers=other.headers).status_code == 404
    assert patch(other, url, 0, b"a").status_code == 404
    assert other.http.delete(url, headers=other.headers).status_code == 404
    response = viewer.http.post(f"{viewer.base}/api/v1/uploads/", headers={**viewer.headers, "Upload-Length": "10"})
    assert response.status_code == 403
    anonymous = requests.post(f"{owner.base}/api/v1/uploads/", headers={"Tus-Resumable": "1.0.0",
                                                                      "Upload-Length": "10"})
    assert anonymous.status_code == 401


def test_another_tus_version_is_a_412_naming_the_one_spoken(web_session):
    session = web_session("creator")
    response = session.http.post(f"{session.base}/api/v1/uploads/",
                                 headers={**session.headers, "Tus-Resumable": "0.2.2", "Upload-Length": "10"})
    assert response.status_code == 412 and response.headers["Tus-Version"] == "1.0.0"
    assert response.json()["type"] == "/api/v1/problems#tus-version"


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"Upload-Length": "ten"}, "Upload-Length must be a whole number written with the digits 0-9."),
        ({"Upload-Length": "\u00b2"}, "Upload-Length must be a whole number written with the digits 0-9."),
        ({"Upload-Length": "-1"}, "Upload-Length must be a whole number written with the digits 0-9."),
        ({"Upload-Length": str(2**63)}, "Upload-Length must be between 0 and 9223372036854775807."),
        ({"Upload-Length": "9" * 40}, "Upload-Length must be between 0 and 9223372036854775807."),
        ({"Upload-Length": "10", "Upload-Metadata": "filename /w=="}, "not base64"),  # the byte 0xff: not UTF-8
        ({"Upload-Length": "10", "Upload-Metadata": "filename \u00e9t\u00e9"}, "not base64"),
        ({"Upload-Length": "10", "Upload-Metadata": "f\u00efle bmFtZQ=="}, "Upload-Metadata keys must be ASCII"),
        ({"Upload-Length": "10", "Upload-Metadata": "filename !!!"}, "not base64"),
        ({"Upload-Length": "10", "Upload-Metadata": "filename YQBiLm1wNA=="}, "filename must not contain"),
        ({"Upload-Length": "10", "Upload-Metadata": "title 4oCuNHBtLmV4ZQ=="}, "found U+202E"),
        ({"Upload-Defer-Length": "1"}, "Upload-Defer-Length is not supported"),
    ],
)
def test_malformed_creation_requests_get_a_clear_problem(web_session, headers, detail):
    session = web_session("creator")
    response = session.http.post(f"{session.base}/api/v1/uploads/", headers={**session.headers, **headers})
    assert response.status_code == 400
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("offset", "detail"),
    [
        ("\u00b2", "Upload-Offset must be a whole number written with the digits 0-9."),
        ("\u0663", "Upload-Offset must be a whole number written with the digits 0-9."),
        (str(2**64), "Upload-Offset must be between 0 and 9223372036854775807."),
    ],
)
def test_a_hostile_upload_offset_is_a_clear_400(web_session, offset, detail):
    session = web_session("creator")
    url = create(session)
    raw = offset.encode("latin-1" if max(map(ord, offset)) < 256 else "utf-8")  # as a client would put it on the wire
    response = session.http.patch(url, data=b"abc", headers={
        **session.headers, "Upload-Offset": raw, "Content-Type": "application/offset+octet-stream"})
    assert response.status_code == 400 and detail in response.json()["detail"]
    assert session.http.head(url, headers=session.headers).headers["Upload-Offset"] == "0"


def test_upload_ids_that_are_huge_numbers_are_not_found(web_session):
    session = web_session("creator")
    for upload_id in ("9" * 32, "9" * 40, "\u00b2" * 32):
        url = f"{session.base}/api/v1/uploads/{upload_id}"
        assert session.http.head(url, headers=session.headers).status_code == 404
        assert session.http.patch(url, data=b"a", headers={**session.headers, "Upload-Offset": "0", "Content-Type":
                                                           "application/offset+octet-stream"}).status_code == 404


def test_a_patch_with_the_wrong_content_type_is_refused(web_session):
    session = web_session("creator")
    url = create(session)
    response = session.http.patch(url, data=b"abc", headers={**session.headers, "Upload-Offset": "0",
                                                             "Content-Type": "text/plain"})
    assert response.status_code == 400 and "Content-Type must be" in response.json()["detail"]


def test_tuspy_reports_a_refused_upload(app, web_session, clip_dir):
    session = web_session("creator")
    app.config["WM_MAX_UPLOAD_BYTES"] = 10
    try:
        with pytest.raises(TusCommunicationError):
            session.tus().uploader(str(make_clip(clip_dir, "landscape")), chunk_size=1000).upload()
    finally:
        app.config["WM_MAX_UPLOAD_BYTES"] = 8 * 1024**3


@pytest.mark.edge
def test_uploads_through_nginx_hand_over_buffered_chunks(app, mysql_url, tmp_path, clip_dir):
    """Behind nginx each chunk arrives as a file nginx wrote; the bytes end up identical, nothing is left over."""
    creator = make_user(app, role="creator")
    # chunks of 128 KiB: nginx and the app take PATCH bodies up to 1 MiB
    env = {"WM_SECRET_KEY": app.config["SECRET_KEY"], "WM_VAR_DIR": app.config["WM_VAR_DIR"],
           "WM_UPLOAD_CHUNK_BYTES": str(128 * 1024)}
    clip = make_clip(clip_dir, "landscape")
    with edge_stack(mysql_url, REDIS_URL, tmp_path, env_overrides=env) as stack:
        session = WebSession(stack.edge, creator.handle)
        uploader = session.tus().uploader(str(clip), chunk_size=300_000, upload_checksum=True)
        uploader.upload()
        assert received_bytes(app, uploader.url) == clip.read_bytes()
        assert list((uploads_folder(app) / ".incoming").iterdir()) == []
        url = create(session)
        forged = tmp_path / "secret.txt"
        forged.write_bytes(b"not yours")
        direct = session.http.patch(url.replace(stack.edge, stack.web), data=b"abc", headers={
            **session.headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
            "X-Upload-Body-File": str(forged), "X-Upload-Body-Key": "guess"})
        assert direct.status_code == 204 and direct.headers["Upload-Offset"] == "3"
        assert received_bytes(app, url) == b"abc" and forged.exists()
        too_big = session.http.patch(url, data=b"x" * (1024 * 1024 + 1), headers={
            **session.headers, "Upload-Offset": "3", "Content-Type": "application/offset+octet-stream"})
        assert too_big.status_code == 413 and too_big.headers["Content-Type"] == "application/problem+json"
        assert too_big.json()["type"] == "/api/v1/problems#too-large" and too_big.headers["Tus-Resumable"] == "1.0.0"
        assert session.http.head(url, headers=session.headers).headers["Upload-Offset"] == "3"
