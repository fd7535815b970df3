"""In a real browser: upload the sample video in the studio, watch it encode, then play it."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.fixtures.apps import PASSWORD
from tests.fixtures.live import browser_log_in, choose_files
from tests.fixtures.media import SAMPLE, make_clip, publish_clip, upload_file
from tests.fixtures.users import make_user
from tests.fixtures.workers import run_burst
from wm.extensions import db
from wm.models.media import Upload, Video, Visibility
from wm.services.media import get_video

pytestmark = pytest.mark.browser


def test_upload_in_the_studio_then_play(app, live_server, page, worker_processes):
    creator = make_user(app, role="creator", handle="studio_user")
    page.goto(live_server + "/")
    browser_log_in(page, creator.handle, PASSWORD)
    page.get_by_role("link", name="Studio").click()
    choose_files(page, str(SAMPLE))
    item = page.locator(".upload-item")
    expect(item.locator(".name")).to_have_text("bigbuckbunny.mp4")
    expect(item.locator(".message")).to_have_text("Upload complete.", timeout=30_000)
    assert item.locator("progress.sent").get_attribute("value") == "100"
    expect(item.get_by_role("button", name="Pause")).to_be_hidden()
    row = page.locator("#video-list tr", has_text="bigbuckbunny")
    expect(row.get_by_text("Ready")).to_be_visible(timeout=90_000)

    row.get_by_role("link", name="Watch").click()
    expect(page.get_by_role("heading", name="bigbuckbunny")).to_be_visible()
    video = page.locator("video#video")
    page.wait_for_function("() => document.querySelector('video').readyState >= 1", timeout=30_000)
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 1.5", timeout=30_000)
    assert "/poster.jpg?md5=" in video.get_attribute("poster")
    assert page.evaluate("() => document.querySelector('video').videoWidth") > 0

    page.keyboard.press("k")
    page.wait_for_function("() => document.querySelector('video').paused")
    bar = page.locator(".scrub-bar").bounding_box()
    page.mouse.move(bar["x"] + bar["width"] * 0.5, bar["y"] + bar["height"] / 2, steps=3)
    thumb = page.locator(".scrub-thumb.shown")
    expect(thumb).to_be_visible()
    assert "storyboard/sb_001.jpg?md5=" in thumb.evaluate("t => t.style.backgroundImage")


def test_uploads_pause_resume_and_survive_a_reload(app, live_server, page, tmp_path):
    chunk_bytes = app.config["WM_UPLOAD_CHUNK_BYTES"]
    app.config["WM_UPLOAD_CHUNK_BYTES"] = 128 * 1024
    try:
        creator = make_user(app, role="creator", handle="pausing_user")
        big = tmp_path / "long-take.mp4"
        big.write_bytes(os.urandom(24 * 1024 * 1024))
        page.goto(live_server + "/")
        browser_log_in(page, creator.handle, PASSWORD)
        page.goto(live_server + "/studio/")
        choose_files(page, str(big))
        item = page.locator(".upload-item")
        page.wait_for_function("() => document.querySelector('.upload-item progress.sent').value >= 5")
        item.get_by_role("button", name="Pause").click()
        expect(item.locator(".message")).to_have_text("Paused.")
        paused_at = int(item.locator("progress.sent").get_attribute("value"))
        with app.app_context():
            offset = db.session.scalars(select(Upload)).one().offset
        assert paused_at < 100 and offset < big.stat().st_size
        item.get_by_role("button", name="Resume").click()
        page.wait_for_function(f"() => document.querySelector('.upload-item progress.sent').value >= {paused_at + 5}")
        item.get_by_role("button", name="Pause").click()
        expect(item.locator(".message")).to_have_text("Paused.")
        shown = int(item.locator("progress.sent").get_attribute("value"))
        with app.app_context():
            kept = db.session.scalars(select(Upload)).one().offset
        assert kept >= (shown - 5) / 100 * big.stat().st_size, "a pause loses at most the piece in flight"

        page.reload()
        choose_files(page, str(big))
        item = page.locator(".upload-item")
        expect(item.locator(".message")).to_have_text("Upload complete.", timeout=60_000)
        with app.app_context():
            videos = db.session.scalars(select(Video).where(Video.source_name == "long-take.mp4")).all()
            assert len(videos) == 1, "the reload should resume the same upload, not start another"
    finally:
        app.config["WM_UPLOAD_CHUNK_BYTES"] = chunk_bytes


def test_browsers_without_native_hls_play_through_hls_js(app, live_server, page, clip_dir):
    """Firefox-like: the page loads the vendored hls.js and plays the ladder through Media Source Extensions."""
    _, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 8))
    page.add_init_script("""
        const original = HTMLMediaElement.prototype.canPlayType;
        HTMLMediaElement.prototype.canPlayType = function (type) {
            return type.includes("mpegurl") ? "" : original.call(this, type);
        };
    """)
    page.goto(f"{live_server}/v/{public_id}")
    page.wait_for_function("() => window.Hls && document.querySelector('video').readyState >= 1", timeout=30_000)
    assert page.evaluate("() => document.querySelector('video').src.startsWith('blob:')")
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 1.5", timeout=30_000)


HIDE_NATIVE_HLS = """
    const original = HTMLMediaElement.prototype.canPlayType;
    HTMLMediaElement.prototype.canPlayType = function (type) {
        return type.includes("mpegurl") ? "" : original.call(this, type);
    };
"""


def wait_until_playing(page, beyond: float = 1.0) -> None:
    """Muted play from the script, then wait until the playhead has really moved past ``beyond`` seconds."""
    page.wait_for_function("() => document.querySelector('video#video')?.readyState >= 1", timeout=30_000)
    page.evaluate("() => { const v = document.querySelector('video#video'); v.muted = true; return v.play(); }")
    page.wait_for_function(f"() => document.querySelector('video#video').currentTime > {beyond}", timeout=30_000)


def test_player_plays_again_after_back_from_a_profile_with_hls_js(app, live_server, page, clip_dir):
    """Feed -> video -> profile -> Back, in a browser without native HLS: the restored page plays."""
    creator, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 8))
    page.add_init_script(HIDE_NATIVE_HLS)
    page.goto(live_server + "/")
    page.locator(f"a[href='/v/{public_id}']").click()
    wait_until_playing(page)
    assert page.evaluate("() => document.querySelector('video#video').src.startsWith('blob:')")
    page.get_by_role("link", name=f"@{creator.handle}").last.click()
    expect(page.get_by_role("heading", name="Videos")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("heading", name="landscape-8")).to_be_visible()
    page.wait_for_function("() => document.querySelector('video#video')?.readyState >= 1", timeout=30_000)
    page.evaluate("() => { const v = document.querySelector('video#video'); v.muted = true; return v.play(); }")
    start = page.evaluate("() => document.querySelector('video#video').currentTime")
    page.wait_for_function(f"() => document.querySelector('video#video').currentTime > {start} + 1", timeout=30_000)
    page.go_forward()
    expect(page.get_by_role("heading", name="Videos")).to_be_visible()
    page.go_back()
    wait_until_playing(page, beyond=0.5)


def test_space_belongs_to_the_focused_control_and_toggles_the_video_once(app, live_server, page, clip_dir):
    _, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 8))
    viewer = make_user(app, handle="keyboard_user")
    page.goto(live_server + "/")
    browser_log_in(page, viewer.handle, PASSWORD)
    page.goto(f"{live_server}/v/{public_id}")
    page.wait_for_function("() => document.querySelector('video#video')?.readyState >= 1", timeout=30_000)
    page.evaluate("() => { document.querySelector('video#video').muted = true; }")
    paused = "() => document.querySelector('video#video').paused"

    page.locator(".menu summary").focus()
    page.keyboard.press(" ")
    expect(page.locator("details.menu")).to_have_attribute("open", "")
    assert page.evaluate(paused), "Space on the account menu opens the menu, not the video"
    page.keyboard.press(" ")
    expect(page.locator("details.menu")).not_to_have_attribute("open", "")

    page.locator("video#video").focus()
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.querySelector('video#video').paused")
    page.wait_for_function("() => document.querySelector('video#video').currentTime > 0.5")
    assert not page.evaluate(paused), "Space on the focused video starts it (handled once, not twice)"

    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press(" ")
    page.wait_for_function(paused)
    page.keyboard.press("k")
    page.wait_for_function("() => !document.querySelector('video#video').paused")


def test_without_javascript_the_watch_page_offers_the_plain_mp4(app, live_server, browser, clip_dir):
    _, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 8))
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/v/{public_id}")
        plain = page.locator("video[src*='video.mp4']")
        expect(plain).to_be_visible()
        expect(page.locator("video#video")).to_be_hidden()
        expect(page.get_by_text("Keys:")).to_be_hidden()
        download = page.get_by_role("link", name="Download it")
        expect(download).to_be_visible()
        response = page.request.get(live_server + plain.get_attribute("src"))
        assert response.status == 200 and response.headers["content-type"] == "video/mp4"
    finally:
        context.close()


def test_a_processing_watch_page_updates_itself_and_plays_when_ready(app, live_server, page, clip_dir):
    creator = make_user(app, role="creator", handle="patient_creator")
    public_id = upload_file(app, creator, make_clip(clip_dir, "landscape", 4))
    page.goto(live_server + "/")
    browser_log_in(page, creator.handle, PASSWORD)
    page.goto(f"{live_server}/v/{public_id}")
    expect(page.get_by_text("This video is still being processed (0%).")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published: it appears in the feed as soon as processing is done.")).to_be_visible()
    expect(page.get_by_role("button", name="Publish")).to_be_hidden()
    with app.app_context():
        assert get_video(public_id).visibility is Visibility.published
    run_burst(app, "general")
    run_burst(app, "encode")
    page.wait_for_function("() => { const v = document.querySelector('video#video');"
                           " return v && !v.paused && v.currentTime > 0.5; }", timeout=30_000)
    expect(page.get_by_text("still being processed")).to_be_hidden()


def test_a_pro_preview_says_what_is_true_to_free_viewers_and_without_javascript(app, live_server, browser, clip_dir):
    from wm.models.media import AccessTier

    _, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 8))
    with app.app_context():
        get_video(public_id).access_tier = AccessTier.pro
        db.session.commit()
    viewer = make_user(app, role="viewer", handle="free_viewer")
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(live_server + "/")
        browser_log_in(page, viewer.handle, PASSWORD)
        page.goto(f"{live_server}/v/{public_id}")
        notice = page.locator(".upgrade")
        expect(notice).to_contain_text("you are watching the first 60 seconds")
        expect(notice).to_contain_text("Pro membership is given by the site's admins for now")
        expect(notice).not_to_contain_text("Upgrade")
    finally:
        context.close()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/v/{public_id}")
        notice = page.locator(".upgrade")
        expect(notice).to_contain_text("with JavaScript on, everyone can watch its first 60 seconds")
        assert "you are watching" not in notice.inner_text()
    finally:
        context.close()
