"""Studio pages: the list with live progress, editing, deleting, and that nobody touches another's videos."""

from __future__ import annotations

import io
import os
import time

import pytest

from tests.fixtures.apps import post_form
from tests.fixtures.media import make_clip, stored_keys, upload_file
from tests.fixtures.users import log_in, make_user
from wm.extensions import db, get_queue
from wm.models.media import Video, VideoState
from wm.services.media import get_video


@pytest.fixture
def creator_with_video(app, clip_dir):
    creator = make_user(app, role="creator")
    public_id = upload_file(app, creator, make_clip(clip_dir, "no_audio", 4))
    client = app.test_client()
    log_in(client, creator.handle)
    return client, public_id


def test_studio_lists_own_videos_with_a_self_polling_status(app, creator_with_video, htmx_client):
    client, public_id = creator_with_video
    html = client.get("/studio/").get_data(as_text=True)
    assert "no_audio-4" in html and f'id="status-{public_id}"' in html
    assert 'hx-trigger="load delay:1s"' in html and "Encoding 0%" in html
    with app.app_context():
        video = get_video(public_id)
        video.encode_progress = 42
        db.session.commit()
    fragment = client.get(f"/studio/videos/{public_id}/status", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and "Encoding 42%" in text and 'value="42"' in text


def test_ready_and_failed_states_stop_polling(app, creator_with_video):
    client, public_id = creator_with_video
    for state, reason, shown in ((VideoState.ready, None, "Watch"), (VideoState.failed, "Bad file.", "Bad file.")):
        with app.app_context():
            video = get_video(public_id)
            video.state, video.failure_reason = state, reason
            db.session.commit()
        text = client.get(f"/studio/videos/{public_id}/status").get_data(as_text=True)
        assert shown in text and "hx-trigger" not in text


def test_edit_title_description_visibility_and_tier(app, creator_with_video):
    client, public_id = creator_with_video
    response = post_form(client, f"/studio/videos/{public_id}/edit",
                         {"title": "Sunset timelapse", "description": "Shot on a hill.", "visibility": "published",
                          "access_tier": "pro"}, page="/studio/")
    assert response.status_code == 303
    with app.app_context():
        video = get_video(public_id)
        assert (video.title, video.description, video.visibility.value, video.access_tier.value) == (
            "Sunset timelapse", "Shot on a hill.", "published", "pro")


def test_edit_refuses_bad_input(creator_with_video):
    client, public_id = creator_with_video
    response = post_form(client, f"/studio/videos/{public_id}/edit",
                         {"title": "", "visibility": "published", "access_tier": "free"}, page="/studio/")
    assert response.status_code == 400 and "This field is required." in response.get_data(as_text=True)
    response = post_form(client, f"/studio/videos/{public_id}/edit",
                         {"title": "x", "visibility": "everyone", "access_tier": "free"}, page="/studio/")
    assert response.status_code == 400 and "Not a valid choice." in response.get_data(as_text=True)


def test_another_creator_cannot_see_or_touch_my_video(app, creator_with_video):
    _, public_id = creator_with_video
    other = make_user(app, role="creator")
    intruder = app.test_client()
    log_in(intruder, other.handle)
    assert public_id not in intruder.get("/studio/").get_data(as_text=True)
    assert intruder.get(f"/studio/videos/{public_id}/status").status_code == 404
    assert intruder.get(f"/studio/videos/{public_id}/edit").status_code == 404
    response = post_form(intruder, f"/studio/videos/{public_id}/edit",
                         {"title": "mine now", "visibility": "published", "access_tier": "free"}, page="/studio/")
    assert response.status_code == 404
    assert post_form(intruder, f"/studio/videos/{public_id}/delete", {}, page="/studio/").status_code == 404
    with app.app_context():
        video = get_video(public_id)
        assert video.title != "mine now" and video.deleted_at is None


def test_delete_hides_the_video_and_the_job_removes_its_files(app, creator_with_video, burst_worker, storage_root):
    client, public_id = creator_with_video
    burst_worker("general")
    burst_worker("encode")
    assert stored_keys(storage_root)
    response = post_form(client, f"/studio/videos/{public_id}/delete", {}, page="/studio/")
    assert response.status_code == 303
    assert client.get(f"/v/{public_id}").status_code == 404
    with app.app_context():
        assert get_queue("maintenance").count == 1
    burst_worker("general")
    assert stored_keys(storage_root) == []
    with app.app_context():
        video = db.session.query(Video).filter_by(public_id=public_id).one()
        assert video.deleted_at is not None and video.stored_bytes == 0


def test_sweep_removes_orphaned_files_only(app, creator_with_video, burst_worker, storage_root):
    _, public_id = creator_with_video
    burst_worker("general")
    burst_worker("encode")
    kept = stored_keys(storage_root)
    orphan = storage_root / "published" / "Zz0rphan0000" / "v1" / "master.m3u8"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("#EXTM3U\n")
    stale = storage_root / "published" / public_id / "v0" / "old.ts"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    for path in (orphan, stale):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    result = app.test_cli_runner().invoke(args=["maintenance", "sweep-orphans"])
    assert '"removed": 2' in result.output
    assert stored_keys(storage_root) == kept


def test_studio_is_for_creators(viewer_client, moderator_client):
    # a viewer is sent to start a channel; other roles without one are refused
    assert viewer_client.get("/studio/").headers["Location"] == "/studio/start"
    assert viewer_client.get("/studio/videos/abc/status").headers["Location"] == "/studio/start"
    assert moderator_client.get("/studio/").status_code == 403


def test_plain_form_upload_queues_ingest_and_asks_for_details(app, creator_client, clip_dir):
    clip = make_clip(clip_dir, "no_audio", 4)
    data = {"file": (io.BytesIO(clip.read_bytes()), "holiday.mp4")}
    response = post_form(creator_client, "/studio/upload", data, page="/studio/", content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"].endswith("/details")
    page = creator_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Uploaded; it is being processed." in page and 'value="holiday"' in page and "Publish" in page
    with app.app_context():
        video = db.session.query(Video).filter_by(source_name="holiday.mp4").one()
        assert (video.state, video.source_bytes) == (VideoState.processing, clip.stat().st_size)
        assert get_queue("high").count == 1


def test_plain_form_upload_refuses_no_file_too_much_and_no_csrf(app, creator_client):
    response = post_form(creator_client, "/studio/upload", {}, page="/studio/", content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a file to upload first." in response.get_data(as_text=True)
    big = {"file": (io.BytesIO(b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1)), "huge.mp4")}
    response = post_form(creator_client, "/studio/upload", big, page="/studio/", content_type="multipart/form-data")
    assert response.status_code == 413 and "Without JavaScript files can be up to 16 MB" in response.get_data(
        as_text=True)
    response = creator_client.post("/studio/upload", data={"file": (io.BytesIO(b"x"), "a.mp4")},
                                   content_type="multipart/form-data")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.query(Video).count() == 0


def test_details_step_saves_and_publishes_as_a_fragment_for_htmx(app, creator_with_video):
    client, public_id = creator_with_video
    response = post_form(client, f"/studio/videos/{public_id}/details",
                         {"title": "Draft title", "description": "", "visibility": "draft", "access_tier": "free"},
                         page="/studio/", headers={"HX-Request": "true"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in text
    assert "Saved. It stays draft until you publish it." in text
    response = post_form(client, f"/studio/videos/{public_id}/details",
                         {"title": "Final title", "description": "", "visibility": "draft", "access_tier": "pro",
                          "publish": "1"}, page="/studio/", headers={"HX-Request": "true"})
    assert "Published: it appears in the feed as soon as processing is done." in response.get_data(as_text=True)
    with app.app_context():
        video = get_video(public_id)
        assert (video.title, video.visibility.value, video.access_tier.value) == ("Final title", "published", "pro")
    response = post_form(client, f"/studio/videos/{public_id}/details",
                         {"title": "", "visibility": "published", "access_tier": "free"}, page="/studio/")
    assert response.status_code == 400 and "This field is required." in response.get_data(as_text=True)


def test_owner_publishes_from_the_watch_page(app, creator_with_video):
    client, public_id = creator_with_video
    page = client.get(f"/v/{public_id}").get_data(as_text=True)
    assert f'action="/studio/videos/{public_id}/publish"' in page and f"/studio/videos/{public_id}/edit" in page
    assert 'hx-select="#watch-player"' in page, "a processing watch page refreshes itself"
    response = post_form(client, f"/studio/videos/{public_id}/publish", {}, page="/studio/")
    assert response.status_code == 303 and response.headers["Location"] == f"/v/{public_id}"
    page = client.get(f"/v/{public_id}").get_data(as_text=True)
    assert "Published: it appears in the feed as soon as processing is done." in page
    assert f'action="/studio/videos/{public_id}/publish"' not in page


def test_delete_asks_first_on_its_own_page(app, creator_with_video):
    client, public_id = creator_with_video
    page = client.get(f"/studio/videos/{public_id}/delete")
    assert page.status_code == 200 and "Delete “no_audio-4”?" in page.get_data(as_text=True)
    with app.app_context():
        assert get_video(public_id).deleted_at is None


def test_another_creator_cannot_publish_detail_or_see_the_delete_page(app, creator_with_video):
    _, public_id = creator_with_video
    other = make_user(app, role="creator")
    intruder = app.test_client()
    log_in(intruder, other.handle)
    assert intruder.get(f"/studio/videos/{public_id}/details").status_code == 404
    assert intruder.get(f"/studio/videos/{public_id}/delete").status_code == 404
    assert post_form(intruder, f"/studio/videos/{public_id}/publish", {}, page="/studio/").status_code == 404
    response = post_form(intruder, f"/studio/videos/{public_id}/details",
                         {"title": "mine", "visibility": "published", "access_tier": "free"}, page="/studio/")
    assert response.status_code == 404
    with app.app_context():
        assert get_video(public_id).visibility.value == "draft"
    assert "Publish" not in intruder.get(f"/v/{public_id}").get_data(as_text=True)


@pytest.mark.parametrize(("title", "description"), [("a\x00b", ""), ("\x1b[31mred", ""), ("gpj\u202eexe.mp4", ""),
                                                    ("Fine", "line one\n\x07bell")])
def test_control_characters_in_titles_and_descriptions_are_refused(app, creator_with_video, title, description):
    client, public_id = creator_with_video
    response = post_form(client, f"/studio/videos/{public_id}/edit", {
        "title": title, "description": description, "visibility": "draft", "access_tier": "free"}, page="/studio/")
    assert response.status_code == 400
    assert "must not contain control or text-direction characters" in response.get_data(as_text=True)
    with app.app_context():
        assert get_video(public_id).title == "no_audio-4"


def test_a_failed_video_cannot_be_published(app, creator_with_video):
    client, public_id = creator_with_video
    with app.app_context():
        video = get_video(public_id)
        video.state, video.failure_reason = VideoState.failed, "This is not a video or audio file we can read."
        db.session.commit()
    response = post_form(client, f"/studio/videos/{public_id}/publish", {}, page="/studio/")
    assert response.status_code == 409 and "cannot be shown to anyone" in response.get_data(as_text=True)
    response = post_form(client, f"/studio/videos/{public_id}/edit", {
        "title": "Again", "visibility": "published", "access_tier": "free"}, page="/studio/")
    assert response.status_code == 400 and "cannot be shown to anyone" in response.get_data(as_text=True)
    with app.app_context():
        assert get_video(public_id).visibility.value == "draft"
    assert app.test_client().get(f"/v/{public_id}").status_code == 404


def test_a_row_refreshes_itself_and_the_details_form_sends_it_along_in_the_studio(app, creator_with_video):
    client, public_id = creator_with_video
    with app.app_context():
        video = get_video(public_id)
        video.state, video.duration = VideoState.ready, 65
        db.session.commit()
    row = client.get(f"/studio/videos/{public_id}/row", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert row.lstrip().startswith("<tr") and "1:05" in row and "Ready" in row and "hx-trigger" not in row
    assert client.get(f"/studio/videos/{public_id}/row").status_code == 303
    studio = {"HX-Request": "true", "HX-Current-URL": "http://localhost/studio/"}
    form = {"title": "Renamed", "description": "", "visibility": "draft", "access_tier": "free", "publish": "1"}
    answer = post_form(client, f"/studio/videos/{public_id}/details", form, page="/studio/", headers=studio)
    text = answer.get_data(as_text=True)
    assert f'<tr id="video-{public_id}"' in text and 'hx-swap-oob="true"' in text and "published" in text
    other = make_user(app, role="creator")
    stranger = app.test_client()
    log_in(stranger, other.handle)
    assert stranger.get(f"/studio/videos/{public_id}/row", headers={"HX-Request": "true"}).status_code == 404
