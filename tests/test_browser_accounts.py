"""In a real browser: register, log out, log in, change the password, see the 404 page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.live import browser_log_in, browser_log_out

pytestmark = pytest.mark.browser


def test_account_journey(live_server, page):
    page.goto(live_server + "/")
    page.get_by_role("link", name="Register").click()
    page.get_by_label("Handle").fill("x")
    page.get_by_label("Email").fill("browser@example.com")
    page.get_by_label("Password").fill("a browser passphrase")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#handle-error")).to_contain_text("Handles are 3 to 30 letters")

    page.get_by_label("Handle").fill("browser_user")
    page.get_by_label("Password").fill("a browser passphrase")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Welcome to Weekmotion, @browser_user!")).to_be_visible()

    browser_log_out(page)
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    browser_log_in(page, "browser@example.com", "a browser passphrase", handle="browser_user")

    page.locator(".menu summary").click()
    page.get_by_role("link", name="Settings").click()
    password_form = page.locator("#password-form")
    password_form.get_by_label("Current password").fill("not the password")
    password_form.get_by_label("New password").fill("another passphrase")
    password_form.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-form")).to_contain_text("Your current password is not right.")
    password_form = page.locator("#password-form")
    password_form.get_by_label("Current password").fill("a browser passphrase")
    password_form.get_by_label("New password").fill("another passphrase")
    password_form.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()

    browser_log_out(page)
    browser_log_in(page, "browser_user", "another passphrase")

    response = page.goto(live_server + "/no/such/page")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the feed")).to_be_visible()
