"""In a real browser: several uploads at once, a studio that keeps its rows and status lines true, and a
warning before leaving while uploads run (found by a first-time user's trial)."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.apps import PASSWORD
from tests.fixtures.live import browser_log_in, choose_files
from tests.fixtures.media import make_clip, upload_file
from tests.fixtures.users import make_user
from tests.test_browser_studio import throttle_uploads
from wm.extensions import db
from wm.models.media import VideoState
from wm.services.media import get_video

pytestmark = pytest.mark.browser

MIB = 1024 * 1024


def open_studio(page, live_server, handle: str) -> None:
    page.goto(live_server + "/")
    browser_log_in(page, handle, PASSWORD)
    page.goto(live_server + "/studio/")


def test_files_chosen_together_each_get_their_own_details_form(app, live_server, page, tmp_path):
    creator = make_user(app, role="creator", handle="two_files_user")
    files = []
    for name in ("twoA.mp4", "twoB.mp4", "twoC.mp4"):
        files.append(tmp_path / name)
        files[-1].write_bytes(os.urandom(MIB // 2))
    open_studio(page, live_server, creator.handle)
    choose_files(page, [str(file) for file in files])
    for name in ("twoA", "twoB", "twoC"):
        item = page.locator(".upload-item", has_text=f"{name}.mp4")
        expect(item.locator("form.details").get_by_label("Title")).to_have_value(name)


def test_publishing_in_the_details_form_updates_the_row(app, live_server, page, tmp_path):
    creator = make_user(app, role="creator", handle="row_publish_user")
    file = tmp_path / "row-clip.mp4"
    file.write_bytes(os.urandom(MIB))
    open_studio(page, live_server, creator.handle)
    choose_files(page, str(file))
    item = page.locator(".upload-item")
    expect(item.locator(".message")).to_have_text("Upload complete.", timeout=30_000)
    row = page.locator("#video-list tr", has_text="row-clip")
    expect(row.locator("td[data-label=Visibility]")).to_have_text("draft")
    details = item.locator("form.details")
    details.get_by_label("Title").fill("Renamed clip")
    details.get_by_role("button", name="Publish").click()
    expect(item.locator(".flash-success")).to_contain_text("Published:")
    row = page.locator("#video-list tr", has_text="Renamed clip")
    expect(row.locator("td[data-label=Visibility]")).to_have_text("published")


def test_a_row_that_becomes_ready_by_itself_shows_its_length(app, live_server, page, clip_dir):
    creator = make_user(app, role="creator", handle="row_ready_user")
    public_id = upload_file(app, creator, make_clip(clip_dir, "tiny", 2))
    with app.app_context():
        assert get_video(public_id).state is VideoState.processing
    open_studio(page, live_server, creator.handle)
    row = page.locator(f"#video-{public_id}")
    expect(row.locator("td[data-label=Length]")).to_have_text("—")
    with app.app_context():
        video = get_video(public_id)
        video.state, video.duration = VideoState.ready, 65
        db.session.commit()
    expect(row.locator("td[data-label=State]")).to_contain_text("Ready")
    expect(row.locator("td[data-label=Length]")).to_have_text("1:05")


def test_resuming_message_goes_away_and_status_follows_at_once(app, live_server, page, tmp_path):
    creator = make_user(app, role="creator", handle="resume_msg_user")
    file = tmp_path / "resumed.mp4"
    file.write_bytes(os.urandom(8 * MIB))
    open_studio(page, live_server, creator.handle)
    throttle_uploads(page, 2 * MIB)
    choose_files(page, str(file))
    item = page.locator(".upload-item")
    page.wait_for_function("() => document.querySelector('.upload-item progress.sent').value >= 30", timeout=30_000)
    item.get_by_role("button", name="Pause").click()
    page.reload()
    throttle_uploads(page, 2 * MIB)
    choose_files(page, str(file))
    expect(item.locator(".message")).to_contain_text("Resuming an earlier upload of this file at")
    page.wait_for_function("""() => {
        const item = document.querySelector('.upload-item');
        return item.querySelector('.message').textContent === '' && item.querySelector('progress.sent').value < 100;
    }""", timeout=30_000)
    # The frame in which "Upload complete." first shows: the details form's status must not say "Uploading".
    status = page.wait_for_function("""() => {
        const item = document.querySelector('.upload-item');
        if (item.querySelector('.message').textContent !== 'Upload complete.') return false;
        return item.querySelector('form.details .status').textContent.trim() || 'empty';
    }""", polling="raf", timeout=30_000).json_value()
    assert "Uploading" not in status and "paused" not in status, status


def test_leaving_during_an_upload_asks_first_and_staying_loses_nothing(app, live_server, page, tmp_path):
    creator = make_user(app, role="creator", handle="leave_warn_user")
    file = tmp_path / "long-one.mp4"
    file.write_bytes(os.urandom(16 * MIB))
    open_studio(page, live_server, creator.handle)
    throttle_uploads(page, MIB)
    choose_files(page, str(file))
    item = page.locator(".upload-item")
    title = item.locator("form.details").get_by_label("Title")
    expect(title).to_have_value("long-one")
    title.fill("Keep this title")
    row = page.locator("#video-list tr", has_text="long-one")
    expect(row.locator(".upload-state")).to_contain_text("Uploading:")

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("link", name="Feed").click()
    expect(title).to_have_value("Keep this title")
    assert questions and "Uploads are still running" in questions[0], questions
    before = int(item.locator("progress.sent").get_attribute("value"))
    page.wait_for_function(f"() => document.querySelector('.upload-item progress.sent').value > {before}")
    assert page.evaluate("""() => {
        const event = new Event('beforeunload', {cancelable: true});
        window.dispatchEvent(event);
        return event.defaultPrevented;
    }"""), "a full navigation is asked about too"

    item.get_by_role("button", name="Pause").click()
    page.reload()
    row = page.locator("#video-list tr", has_text="long-one")
    expect(row.locator(".upload-state")).to_have_text(
        re.compile(r"Upload paused at \d+% — choose the same file again to resume it\."))
