"""In a real browser at phone width: long words wrap and management tables stack instead of widening the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.apps import PASSWORD
from tests.fixtures.live import browser_log_in
from tests.fixtures.media import make_clip, upload_file
from tests.fixtures.users import make_user
from wm.extensions import db
from wm.models.accounts import User
from wm.models.media import VideoState, Visibility
from wm.services.media import get_video

pytestmark = pytest.mark.browser

LONG_TITLE = "Supercalifragilistic" * 10
LONG_NAME = "Wolfeschlegelsteinhausenbergerdorff" * 2 + "Junior"


@pytest.fixture
def long_words(app, clip_dir):
    """An admin (who also creates) with an 80-character display name and a ready, published video whose
    title is 200 characters without a space; returns (admin, public id)."""
    admin = make_user(app, role="admin", handle="wide_admin")
    public_id = upload_file(app, admin, make_clip(clip_dir, "tiny", 2))
    with app.app_context():
        db.session.get(User, admin.id).display_name = LONG_NAME
        video = get_video(public_id)
        video.title, video.description = LONG_TITLE, "See " + "https://example.com/" + "x" * 300
        video.state, video.visibility = VideoState.ready, Visibility.published
        video.published_prefix = f"published/{public_id}/v1/"
        db.session.commit()
    return admin, public_id


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_200_character_title_fits_a_390_px_phone_everywhere(live_server, long_words, phone):
    admin, public_id = long_words
    phone.goto(live_server + "/")
    browser_log_in(phone, admin.handle, PASSWORD)
    pages = {"feed": "/", "watch": f"/v/{public_id}", "studio": "/studio/", "profile": f"/@{admin.handle}",
             "search": "/search?q=wolfe", "admin": "/admin/", "moderation": "/moderation/"}
    widths = {}
    for name, path in pages.items():
        phone.goto(live_server + path)
        expect(phone.locator("main")).to_be_visible()
        widths[name] = phone.evaluate("() => document.documentElement.scrollWidth")
    assert widths == {name: 390 for name in pages}, widths
    phone.goto(live_server + "/search?q=wolfe")
    expect(phone.get_by_text(LONG_NAME)).to_be_visible()


def test_studio_rows_stack_into_labelled_cards_on_a_phone(live_server, long_words, phone):
    admin, public_id = long_words
    phone.goto(live_server + "/")
    browser_log_in(phone, admin.handle, PASSWORD)
    phone.goto(live_server + "/studio/")
    row = phone.locator(f"#video-{public_id}")
    expect(row.get_by_role("link", name="Delete")).to_be_visible()
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    state = row.locator("td[data-label=State]")
    assert phone.evaluate("td => getComputedStyle(td, '::before').content", state.element_handle()) == '"State: "'
    assert row.locator("td").first.bounding_box()["width"] > 300, "cells take the row's whole width"
