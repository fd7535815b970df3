"""In a real browser: make an access token, see and copy it once, use it from the command line, revoke it; on a
390 px phone and without JavaScript too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from playwright.sync_api import expect

from tests.fixtures.apps import PASSWORD
from tests.fixtures.live import browser_log_in
from tests.fixtures.users import make_user

pytestmark = pytest.mark.browser

SECRET = re.compile(r"wmpat_[A-Za-z0-9_-]{43}")


def me(live_server: str, secret: str) -> requests.Response:
    """``GET /api/v1/me`` with the token, as a script would."""
    return requests.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10)


@contextmanager
def new_page(browser, **options) -> Iterator:
    """A page in a browser context of its own (``options``: JavaScript, permissions), closed afterwards."""
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def open_tokens_page(page, live_server: str, user) -> None:
    """Log ``user`` in, then go to Access tokens through the account menu."""
    page.goto(live_server + "/")
    browser_log_in(page, user.handle, PASSWORD)
    page.locator(".menu summary").click()
    page.get_by_role("link", name="Access tokens").click()
    expect(page.get_by_role("heading", name="Access tokens", exact=True)).to_be_visible()


def create_token(page, name: str, scopes=(), days: str = "30") -> str:
    """Fill the new-token form and submit it; the secret the page shows."""
    page.get_by_label("Name", exact=True).fill(name)
    for scope in scopes:
        page.get_by_label(scope).check()
    page.get_by_label("Expires after").select_option(days)
    page.get_by_role("button", name="Create token").click()
    # The page that follows shows this token (an earlier one's box stays up until it arrives).
    expect(page.locator(".new-token h2")).to_have_text(f"Your new token “{name}”")
    expect(page.locator(".new-token")).to_contain_text("Copy it now: you won't see it again.")
    secret = page.locator("#new-token-secret").input_value()
    assert SECRET.fullmatch(secret)
    return secret


def test_create_see_once_copy_use_and_revoke_with_htmx(app, live_server, browser):
    user = make_user(app, role="creator")
    with new_page(browser, permissions=["clipboard-read", "clipboard-write"]) as page:
        open_tokens_page(page, live_server, user)
        secret = create_token(page, "browser script", scopes=["Upload: send videos with tus"], days="7")
        page.get_by_role("button", name="Copy").click()
        expect(page.locator("#new-token-copied")).to_have_text("Copied to the clipboard.")
        assert page.evaluate("navigator.clipboard.readText()") == secret

        answer = me(live_server, secret)
        assert answer.status_code == 200, answer.text
        assert answer.json()["handle"] == user.handle and answer.json()["token"]["scopes"] == ["read", "upload"]

        # Once: leave the page and come back; neither the page nor htmx's history cache has it any more.
        page.locator(".crumbs a").click()
        expect(page.get_by_role("heading", name="Account settings")).to_be_visible()
        assert secret not in page.evaluate("JSON.stringify([window.sessionStorage, window.localStorage])")
        page.go_back()
        expect(page.get_by_role("heading", name="Access tokens", exact=True)).to_be_visible()
        row = page.locator("tr", has_text="browser script")
        expect(row.locator(".state")).to_have_text("active")
        expect(page.locator(".new-token")).to_have_count(0)
        assert secret not in page.content()

        page.evaluate("window.wmNotReloaded = true")
        messages = []
        page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
        row.get_by_role("button", name="Revoke").click()
        expect(row.locator(".state")).to_have_text("revoked")
        expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
        assert messages == ["Revoke “browser script”? Anything using it is refused from then on."]
        assert page.evaluate("window.wmNotReloaded") is True
        refused = me(live_server, secret)
        assert refused.status_code == 401 and refused.headers["Content-Type"] == "application/problem+json"


def test_the_tokens_page_fits_a_390_px_phone(app, live_server, phone):
    open_tokens_page(phone, live_server, make_user(app, role="creator"))
    first = create_token(phone, "Wolfeschlegelsteinhausenbergerdorff" + "x" * 25,
                         scopes=["Manage videos: edit details, publish, delete"])
    assert create_token(phone, "second") != first
    expect(phone.locator(".table.tokens tbody tr")).to_have_count(2)
    assert phone.evaluate("() => document.documentElement.scrollWidth") == 390
    expect(phone.get_by_role("button", name="Copy")).to_be_in_viewport()


def test_without_javascript_create_select_use_and_revoke(app, live_server, browser):
    with new_page(browser, java_script_enabled=False) as page:
        open_tokens_page(page, live_server, make_user(app, role="viewer"))
        expect(page.get_by_label("Upload: send videos with tus")).to_have_count(0)  # a viewer's tokens only read

        page.get_by_role("button", name="Create token").click()
        expect(page.locator("#name-error")).to_contain_text("Give the token a name")

        secret = create_token(page, "plain html")
        expect(page.get_by_role("button", name="Copy")).to_be_hidden()
        expect(page.get_by_text("Select the token and copy it.")).to_be_visible()
        field = page.locator("#new-token-secret")
        expect(field).to_be_visible()
        expect(field).to_have_attribute("readonly", "")
        assert me(live_server, secret).json()["token"]["scopes"] == ["read"]

        page.locator("tr", has_text="plain html").get_by_role("button", name="Revoke").click()
        expect(page.get_by_text("The token “plain html” is revoked")).to_be_visible()
        expect(page.locator("tr", has_text="plain html").locator(".state")).to_have_text("revoked")
        assert me(live_server, secret).status_code == 401
