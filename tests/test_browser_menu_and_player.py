"""In a real browser: the account menu closes like a menu, the watch page draws one timeline and no key hints
on phones, and the login form's hint sits under its checkbox (found by a first-time user's trial)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.apps import PASSWORD
from tests.fixtures.live import browser_log_in
from tests.fixtures.media import make_clip, publish_clip
from tests.fixtures.users import make_user

pytestmark = pytest.mark.browser


def test_the_account_menu_closes_on_escape_and_on_a_click_outside(app, live_server, page):
    user = make_user(app, handle="menu_user")
    page.goto(live_server + "/")
    browser_log_in(page, user.handle, PASSWORD)
    menu, summary = page.locator("details.menu"), page.locator("details.menu summary")
    summary.click()
    expect(menu.get_by_role("link", name="Settings")).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu.get_by_role("link", name="Settings")).to_be_hidden()
    expect(summary).to_be_focused()
    summary.click()
    expect(menu.get_by_role("link", name="Settings")).to_be_visible()
    page.locator("main h1").first.click()
    expect(menu.get_by_role("link", name="Settings")).to_be_hidden()


def test_the_watch_page_draws_one_timeline_and_keeps_its_previews(app, live_server, page, clip_dir):
    _, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 4))
    page.goto(f"{live_server}/v/{public_id}")
    bar = page.locator(".scrub-bar")
    expect(bar).to_be_attached()
    page.wait_for_function("() => !document.querySelector('.scrub').hidden")
    page.mouse.move(0, 0)
    assert bar.evaluate("b => getComputedStyle(b).backgroundColor") == "rgba(0, 0, 0, 0)", "no second timeline"
    expect(page.get_by_text("Keys: space or k")).to_be_visible()
    box = bar.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=3)
    expect(page.locator(".scrub-thumb.shown")).to_be_visible()
    assert bar.evaluate("b => getComputedStyle(b).backgroundColor") != "rgba(0, 0, 0, 0)"


def test_a_phone_shows_no_key_hints_and_no_storyboard_strip(app, live_server, phone, clip_dir):
    _, public_id = publish_clip(app, make_clip(clip_dir, "landscape", 4))
    phone.goto(f"{live_server}/v/{public_id}")
    expect(phone.locator("video#video")).to_be_visible()
    expect(phone.get_by_text("Keys: space or k")).to_be_hidden()
    expect(phone.locator(".scrub")).to_be_hidden()


def test_the_keep_me_logged_in_hint_sits_under_its_checkbox_on_a_phone(live_server, phone):
    phone.goto(live_server + "/login")
    box = phone.get_by_label("Keep me logged in").bounding_box()
    hint = phone.locator("#remember-hint").bounding_box()
    assert hint["y"] >= box["y"] + box["height"] - 1, (box, hint)
    assert hint["width"] > 300, hint
