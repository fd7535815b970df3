"""In a real browser: the studio's details-and-publish step, upload pieces sized to the link, and the studio
without JavaScript (a plain form upload, a confirmation page before deleting)."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.fixtures.apps import PASSWORD, REDIS_URL
from tests.fixtures.edge import edge_stack
from tests.fixtures.live import browser_log_in, choose_files
from tests.fixtures.media import make_clip
from tests.fixtures.users import make_user
from wm.extensions import db
from wm.models.media import Upload, Video, VideoState, Visibility
from wm.services.media import uploads_dir

pytestmark = pytest.mark.browser

MIB = 1024 * 1024


def only_video(app, name: str) -> Video:
    with app.app_context():
        video = db.session.scalars(select(Video).where(Video.source_name == name)).one()
        db.session.expunge(video)
        return video


def test_the_details_step_opens_beside_the_upload_and_publishes_before_the_encode(app, live_server, page, clip_dir):
    creator = make_user(app, role="creator", handle="details_user")
    clip = make_clip(clip_dir, "landscape", 4)
    page.goto(live_server + "/")
    browser_log_in(page, creator.handle, PASSWORD)
    page.get_by_role("link", name="Studio").click()
    choose_files(page, str(clip))
    item = page.locator(".upload-item")
    details = item.locator("form.details")
    expect(details.get_by_label("Title")).to_have_value("landscape-4")
    expect(details.get_by_text("This video is a draft")).to_be_visible()
    expect(item.locator(".message")).to_have_text("Upload complete.", timeout=30_000)
    expect(details.get_by_text("Encoding 0%")).to_be_visible()
    expect(page.get_by_text("Waiting for the upload")).to_have_count(0)

    details.get_by_label("Title").fill("My first flight")
    details.get_by_label("Description").fill("Over the hills.")
    details.get_by_role("button", name="Publish").click()
    expect(item.get_by_text("Published: it appears in the feed as soon as processing is done.")).to_be_visible()
    expect(item.locator(".message")).to_have_text("Upload complete.")
    video = only_video(app, clip.name)
    assert (video.title, video.description, video.visibility, video.state) == (
        "My first flight", "Over the hills.", Visibility.published, VideoState.processing)


def test_upload_pieces_follow_the_link_speed(app, live_server, page, tmp_path):
    """On a 1 MiB/s uplink each PATCH carries about 3 s of data (after a first 1 MiB), not one 32 MiB chunk."""
    creator = make_user(app, role="creator", handle="slow_link_user")
    file = tmp_path / "on-the-train.mp4"
    file.write_bytes(os.urandom(8 * MIB))
    page.goto(live_server + "/")
    browser_log_in(page, creator.handle, PASSWORD)
    page.goto(live_server + "/studio/")
    throttle_uploads(page, MIB)
    choose_files(page, str(file))
    row = page.locator("#video-list tr", has_text="on-the-train")
    expect(row.locator(".upload-state")).to_contain_text("Uploading:")
    expect(page.get_by_text("Waiting for the upload")).to_have_count(0)
    expect(page.locator(".upload-item .message")).to_have_text("Upload complete.", timeout=60_000)
    expect(row.get_by_text("Encoding 0%")).to_be_visible()
    with app.app_context():
        upload = db.session.scalars(select(Upload)).one()
        parts = sorted((uploads_dir() / upload.id).iterdir(), key=lambda p: int(p.name))
        sizes = [p.stat().st_size for p in parts]
    assert sum(sizes) == 8 * MIB
    assert sizes[0] == MIB, sizes
    assert len(sizes) >= 4 and max(sizes) <= 4 * MIB, f"pieces of about 3 s each: {sizes}"
    assert max(sizes) >= 2 * MIB, f"pieces grow with the measured speed: {sizes}"


def throttle_uploads(page, bytes_per_second: int) -> None:
    """Make the browser's uplink this slow (Chromium's own network emulation, uploads included)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20, "downloadThroughput": -1,
                                                  "uploadThroughput": bytes_per_second})


@pytest.mark.edge
def test_behind_nginx_a_pause_and_reload_lose_only_seconds(app, mysql_url, page, tmp_path):
    """nginx drops a PATCH cut short, so what a pause or reload costs is the piece in flight: seconds of work."""
    creator = make_user(app, role="creator", handle="nginx_user")
    file = tmp_path / "field-recording.mp4"
    file.write_bytes(os.urandom(12 * MIB))
    with edge_stack(mysql_url, REDIS_URL, tmp_path) as stack:
        page.goto(stack.edge + "/")
        browser_log_in(page, creator.handle, PASSWORD)
        page.goto(stack.edge + "/studio/")
        throttle_uploads(page, MIB)
        choose_files(page, str(file))
        item = page.locator(".upload-item")
        page.wait_for_function("() => document.querySelector('.upload-item progress.sent').value >= 60", timeout=30_000)
        item.get_by_role("button", name="Pause").click()
        expect(item.locator(".message")).to_have_text("Paused.")
        shown = int(item.locator("progress.sent").get_attribute("value")) / 100 * 12 * MIB
        with app.app_context():
            kept = db.session.scalars(select(Upload)).one().offset
        assert kept >= 3 * MIB and shown - kept <= 3.5 * MIB, f"kept {kept} of {shown} bytes sent"

        page.reload()
        choose_files(page, str(file))
        expect(item.locator(".message")).to_have_text(f"Resuming an earlier upload of this file at "
                                                      f"{kept * 100 // (12 * MIB)}%.")
        expect(item.locator(".message")).to_have_text("Upload complete.", timeout=30_000)
        with app.app_context():
            upload = db.session.scalars(select(Upload)).one()
            assert upload.offset == 12 * MIB and upload.completed_at is not None


def test_without_javascript_upload_publish_and_delete_with_confirmation(app, live_server, browser, clip_dir):
    creator = make_user(app, role="creator", handle="plain_html_user")
    clip = make_clip(clip_dir, "no_audio", 4)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_server + "/")
        browser_log_in(page, creator.handle, PASSWORD)
        page.get_by_role("link", name="Studio").click()
        expect(page.get_by_text("Without JavaScript: up to 16 MB at a time.")).to_be_visible()
        page.set_input_files("#files", str(clip))
        page.get_by_role("button", name="Upload").click()
        expect(page.get_by_text("Uploaded; it is being processed.")).to_be_visible()
        expect(page.get_by_role("heading", name="Details and publishing")).to_be_visible()
        page.get_by_label("Title").fill("Plain and simple")
        page.get_by_role("button", name="Publish").click()
        expect(page.get_by_text("Published: it appears in the feed as soon as processing is done.")).to_be_visible()
        row = page.locator("#video-list tr", has_text="Plain and simple")
        expect(row.get_by_text("published")).to_be_visible()
        video = only_video(app, clip.name)
        assert (video.visibility, video.state) == (Visibility.published, VideoState.processing)

        row.get_by_role("link", name="Delete").click()
        expect(page.get_by_role("heading", name="Delete “Plain and simple”?")).to_be_visible()
        page.get_by_role("link", name="Keep it").click()
        expect(row).to_be_visible()
        row.get_by_role("link", name="Delete").click()
        page.get_by_role("button", name="Delete it").click()
        expect(page.get_by_text("The video is deleted.")).to_be_visible()
        expect(page.get_by_text("Plain and simple")).to_have_count(0)
        assert only_video(app, clip.name).deleted_at is not None
    finally:
        context.close()


def test_with_javascript_delete_asks_in_a_dialog(app, live_server, page, clip_dir):
    creator = make_user(app, role="creator", handle="dialog_user")
    from tests.fixtures.media import upload_file

    upload_file(app, creator, make_clip(clip_dir, "no_audio", 4))
    page.goto(live_server + "/")
    browser_log_in(page, creator.handle, PASSWORD)
    page.goto(live_server + "/studio/")
    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    page.get_by_role("link", name="Delete").click()
    expect(page.locator("#video-list tr", has_text="no_audio-4")).to_be_visible()
    assert messages == ["Delete “no_audio-4”? This cannot be undone."]
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_text("The video is deleted.")).to_be_visible()
    expect(page.locator("#video-list tr", has_text="no_audio-4")).to_have_count(0)
