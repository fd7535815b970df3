"""In a real browser: register, log out, log in, change the password, see the 404 page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

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

    page.locator(".menu summary").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Handle or email").fill("browser@example.com")
    page.get_by_label("Password").fill("a browser passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as @browser_user.")).to_be_visible()

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

    page.locator(".menu summary").click()
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Handle or email").fill("browser_user")
    page.get_by_label("Password").fill("another passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as @browser_user.")).to_be_visible()

    response = page.goto(live_server + "/no/such/page")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the feed")).to_be_visible()
