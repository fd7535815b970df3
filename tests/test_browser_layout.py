"""In a real browser at phone width: long words wrap and management tables stack instead of widening the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.apps import PASSWORD
from tests.fixtures.live import browser_log_in, choose_files
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


def test_an_uploads_details_form_fits_a_390_px_phone(app, live_server, phone, tmp_path):
    creator = make_user(app, role="creator", handle="phone_details_user")
    file = tmp_path / ("a-rather-long-file-name-from-a-phone-camera-" + "x" * 40 + ".mp4")
    file.write_bytes(b"\0" * 1024)
    phone.goto(live_server + "/")
    browser_log_in(phone, creator.handle, PASSWORD)
    phone.goto(live_server + "/studio/")
    choose_files(phone, str(file))
    details = phone.locator(".upload-item form.details")
    title = details.get_by_label("Title")
    expect(title).to_be_visible()
    expect(details.locator(".status")).to_be_visible()
    assert phone.evaluate("() => document.documentElement.scrollWidth") == 390
    for control in (title, details.get_by_label("Who can watch"), details.get_by_label("Visibility"),
                    details.locator(".status")):
        # one step in the page: the status line replaces itself every second, so a box read apart could miss it
        left, right = control.evaluate("e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; }")
        assert left >= 0 and right <= 390, (left, right)


def test_a_200_character_title_leaves_the_studio_columns_whole_on_a_desktop(live_server, long_words, page):
    admin, public_id = long_words
    with_spaces = " ".join(["Supercalifragilistic"] * 9) + " end"
    page.goto(live_server + "/")
    browser_log_in(page, admin.handle, PASSWORD)
    page.goto(live_server + "/studio/")
    page.evaluate("text => { document.querySelector('#video-list td.title').firstChild.textContent = text }",
                  with_spaces)
    table = page.locator("#video-list table")
    width = table.bounding_box()["width"]
    title = page.locator(f"#video-{public_id} td.title").bounding_box()["width"]
    assert title <= 0.6 * width, (title, width)
    line = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#video-list td')).lineHeight)")
    # Every header and every short cell stays on one line (no "Stat e", "dra ft", "E d it").
    for cell in page.locator("#video-list th, #video-list td:not(.title)").all():
        if cell.inner_text().strip():
            lines = cell.evaluate("c => { const r = document.createRange(); r.selectNodeContents(c); "
                                  "return r.getBoundingClientRect().height; }")
            assert lines < 1.6 * line, cell.inner_text()
    edit, delete = (page.locator(f"#video-{public_id} .actions a").nth(i).bounding_box() for i in (0, 1))
    assert abs(edit["y"] - delete["y"]) < 2
    row_cells = [c.bounding_box() for c in page.locator(f"#video-{public_id} td").all()]
    assert len({round(c["y"]) for c in row_cells}) == 1 and len({round(c["height"]) for c in row_cells}) == 1, \
        "the action cell lines up with the others"


def test_the_admin_queue_chart_is_readable_on_a_phone_and_its_caption_true(app, live_server, phone):
    admin = make_user(app, role="admin", handle="chart_admin")
    phone.goto(live_server + "/")
    browser_log_in(phone, admin.handle, PASSWORD)
    phone.goto(live_server + "/admin/")
    on_phone = phone.locator("#queues")
    expect(on_phone.get_by_text("encode: 0 waiting, 0 running, 0 failed")).to_be_visible()
    expect(on_phone.locator("svg")).to_be_hidden()
    sizes = on_phone.locator("li").evaluate_all("items => items.map(i => parseFloat(getComputedStyle(i).fontSize))")
    assert sizes and min(sizes) >= 14, sizes
    assert phone.evaluate("() => document.documentElement.scrollWidth") == 390
    expect(on_phone.locator("figcaption")).not_to_contain_text("bar", use_inner_text=True)

    phone.set_viewport_size({"width": 1280, "height": 800})
    on_desktop = phone.locator("#queues")
    expect(on_desktop.locator("svg")).to_be_visible()
    expect(on_desktop.locator(".chart-list")).to_be_hidden()
    sizes = on_desktop.locator("svg text").evaluate_all("texts => texts.map(t => t.getBoundingClientRect().height)")
    assert min(sizes) >= 13, sizes
    widths = on_desktop.locator("rect").evaluate_all("rects => rects.map(r => r.getBoundingClientRect().width)")
    expect(on_desktop.locator("figcaption")).to_contain_text(
        "no bars" if max(widths) == 0 else "Bars show waiting jobs", use_inner_text=True)
