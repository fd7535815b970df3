"""In a real browser: error pages under boosted navigation, and the content security policy holding."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.apps import PASSWORD
from tests.fixtures.live import browser_log_in, choose_files
from tests.fixtures.media import make_clip, publish_clip
from tests.fixtures.users import make_user
from wm.extensions import db
from wm.models.accounts import User
from wm.models.base import utcnow
from wm.models.media import Video, VideoState, Visibility
from wm.services.media import get_video

pytestmark = pytest.mark.browser

# Every violation the page sees, whether or not the browser also logs it to the console.
RECORD_CSP_VIOLATIONS = """
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
        window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
    });
"""


def test_boosted_click_to_a_deleted_video_shows_one_page_with_the_error_at_its_url(app, live_server, page):
    creator = make_user(app, role="creator")
    with app.app_context():
        db.session.add(Video(public_id="gonegonegon", owner_id=creator.id, title="Soon deleted",
                             state=VideoState.ready, visibility=Visibility.published,
                             published_prefix="published/gonegonegon/v1/"))
        db.session.commit()
    page.goto(f"{live_server}/@{creator.handle}")
    link = page.get_by_role("link", name="Soon deleted")
    expect(link).to_be_visible()
    with app.app_context():
        get_video("gonegonegon").deleted_at = utcnow()
        db.session.commit()
    link.click()
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text("No such video.")).to_be_visible()
    assert page.locator("header.topbar").count() == 1 and page.locator("footer").count() == 1
    assert page.locator("main main, main header").count() == 0
    assert page.url == f"{live_server}/v/gonegonegon"
    assert page.title() == "Page not found · Weekmotion"


def test_feed_watch_and_studio_work_under_the_content_security_policy(app, live_server, page, clip_dir):
    publish_clip(app, make_clip(clip_dir, "landscape", 4))
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    # Firefox-like: no native HLS, so hls.js plays through Media Source Extensions and blob: URLs.
    page.add_init_script("""
        const original = HTMLMediaElement.prototype.canPlayType;
        HTMLMediaElement.prototype.canPlayType = function (type) {
            return type.includes("mpegurl") ? "" : original.call(this, type);
        };
    """)
    response = page.goto(live_server + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_role("link", name="landscape-4").first.click()
    page.wait_for_function("() => window.Hls && document.querySelector('video').readyState >= 1", timeout=30_000)
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 1", timeout=30_000)
    bar = page.locator(".scrub-bar").bounding_box()
    page.mouse.move(bar["x"] + bar["width"] * 0.5, bar["y"] + bar["height"] / 2, steps=3)
    expect(page.locator(".scrub-thumb.shown")).to_be_visible()

    creator = make_user(app, role="creator")
    browser_log_in(page, creator.handle, PASSWORD)
    page.get_by_role("link", name="Studio").click()
    choose_files(page, str(make_clip(clip_dir, "tiny", 2)))
    expect(page.locator(".upload-item .message")).to_contain_text("Upload complete", timeout=30_000)
    page.get_by_role("link", name="Feed").click()
    expect(page.get_by_role("heading", name="Feed")).to_be_visible()

    assert page.evaluate("() => window.cspViolations") == []
    assert [text for text in console if "Content Security Policy" in text] == []


def test_a_new_account_starts_a_channel_and_lands_in_the_studio(live_server, page):
    page.goto(live_server + "/")
    page.get_by_role("link", name="Register").click()
    page.get_by_label("Handle").fill("new_creator")
    page.get_by_label("Email").fill("new_creator@example.com")
    page.get_by_label("Password").fill("a browser passphrase")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Your account is ready: log in")).to_be_visible()
    page.get_by_label("Handle or email").fill("new_creator")
    page.get_by_label("Password").fill("a browser passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Start your channel to publish the first video.")).to_be_visible()

    page.locator(".menu summary").click()
    page.locator(".menu").get_by_role("link", name="Start your channel").click()
    expect(page.get_by_role("heading", name="Content policy")).to_be_visible()
    page.get_by_role("button", name="Start my channel").click()
    expect(page.get_by_text("Accept the content policy to start your channel.")).to_be_visible()
    page.get_by_label("I have read the content policy").check()
    page.get_by_role("button", name="Start my channel").click()
    expect(page.get_by_role("heading", name="Creator Studio")).to_be_visible()
    expect(page.get_by_text("Your channel is open: upload videos here.")).to_be_visible()
    assert page.url == live_server + "/studio/"
    expect(page.get_by_role("link", name="Studio")).to_be_visible()


def test_a_refused_boosted_form_shows_one_page_and_keeps_its_address(app, live_server, page):
    admin = make_user(app, role="admin")
    doomed = make_user(app, role="viewer")
    page.goto(live_server + "/")
    browser_log_in(page, admin.handle, PASSWORD)
    page.get_by_role("link", name="Admin").click()
    row = page.locator("tr", has_text=f"{doomed.handle}@example.com")
    expect(row).to_be_visible()
    with app.app_context():
        db.session.delete(db.session.get(User, doomed.id))
        db.session.commit()
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_text("No such account.")).to_be_visible()
    assert page.locator("header.topbar").count() == 1 and page.locator("main header").count() == 0
    assert page.url == live_server + "/admin/"


def test_the_account_forms_and_channel_start_hold_the_content_security_policy(app, live_server, page):
    """Found by a first-time user: "Applying inline style violates style-src" on every form page."""
    viewer = make_user(app, handle="csp_viewer")
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    seen = {}
    for path in ("/register", "/login"):
        page.goto(live_server + path)
        for field in page.locator("main input:visible").all():
            field.focus()
        page.keyboard.press("Tab")
        seen[path] = page.evaluate("() => window.cspViolations")
    page.goto(live_server + "/")  # log in from another page: the boosted "Log in" link would swap this form
    browser_log_in(page, viewer.handle, PASSWORD)
    page.goto(live_server + "/studio/start")
    page.get_by_role("button", name="Start my channel").click()
    expect(page.locator(".field.check .error")).to_be_visible()
    page.locator("#accept").check()
    seen["/studio/start"] = page.evaluate("() => window.cspViolations")
    assert seen == {"/register": [], "/login": [], "/studio/start": []}
    assert [text for text in console if "Content Security Policy" in text] == []


def test_a_form_swapped_by_htmx_does_not_copy_style_attributes_others_set(app, live_server, page):
    """A password manager or other extension may put style="" on inputs (its own CSP reports); htmx used to
    copy such attributes onto the swapped-in form ("settling"), so every refused form added violations of ours."""
    viewer = make_user(app, handle="csp_settle_viewer")
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(live_server + "/")
    browser_log_in(page, viewer.handle, PASSWORD)
    page.goto(live_server + "/studio/start")
    cdp = page.context.new_cdp_session(page)
    frame = cdp.send("Page.getFrameTree")["frameTree"]["frame"]["id"]
    world = cdp.send("Page.createIsolatedWorld", {"frameId": frame, "worldName": "extension"})["executionContextId"]
    cdp.send("Runtime.evaluate", {"contextId": world, "expression":
                                  "document.querySelectorAll('main input').forEach(i => i.setAttribute('style', ''))"})
    page.wait_for_function("() => window.cspViolations.length > 0")
    by_the_extension = page.evaluate("() => window.cspViolations.length")
    page.get_by_role("button", name="Start my channel").click()
    expect(page.locator(".field.check .error")).to_be_visible()
    assert page.evaluate("() => window.cspViolations.length") == by_the_extension
    assert page.locator("#start-form [style]").count() == 0
