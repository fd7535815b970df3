"""In a real browser: register, log in and out, change the password, and the account forms' edge cases."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.apps import PASSWORD
from tests.fixtures.live import browser_log_in, browser_log_out
from tests.fixtures.users import make_user

pytestmark = pytest.mark.browser


def test_account_journey(live_server, page):
    page.goto(live_server + "/")
    page.get_by_role("link", name="Register").click()
    page.get_by_label("Handle").fill("x")
    page.get_by_label("Email").fill("journey@example.com")
    page.get_by_label("Password").fill("a browser passphrase")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#handle-error")).to_contain_text("Handles are 3 to 30 letters")

    page.get_by_label("Handle").fill("browser_user")
    page.get_by_label("Password").fill("a browser passphrase")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Your account is ready")).to_be_visible()
    page.get_by_label("Handle or email").fill("journey@example.com")
    page.get_by_label("Password").fill("a browser passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as @browser_user.")).to_be_visible()

    browser_log_out(page)
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    browser_log_in(page, "journey@example.com", "a browser passphrase", handle="browser_user")

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

    page.goto(live_server + "/logout")
    page.get_by_role("main").get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()


def test_registration_shows_every_problem_at_once(app, live_server, page):
    make_user(app, handle="taken_name")
    page.goto(live_server + "/register")
    page.get_by_label("Handle").fill("taken_name")
    page.get_by_label("Email").fill("not an email")
    page.get_by_label("Password").fill("1234567890")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#handle-error")).to_have_text("That handle is taken.")
    expect(page.locator("#email-error")).to_contain_text("That email address is not valid")
    expect(page.locator("#password-error")).to_contain_text("most common passwords")
    expect(page.get_by_label("Handle")).to_have_value("taken_name")


def test_the_login_rate_limit_shows_inside_the_form(app, live_server, page):
    app.config["WM_LOGIN_RATE_LIMIT"] = "2 per minute"
    try:
        page.goto(live_server + "/login")
        for attempt in range(3):
            page.get_by_label("Handle or email").fill("someone")
            page.get_by_label("Password").fill(f"wrong guess {attempt}")
            # wait for each answer: htmx drops a submit made while the form's last request is still out
            with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST"):
                page.get_by_role("button", name="Log in").click()
            if attempt < 2:
                expect(page.locator("#login-form")).to_contain_text("do not match")
        form = page.locator("#login-form")
        expect(form).to_contain_text("Too many attempts; try again in")
        expect(form.get_by_label("Handle or email")).to_have_value("someone")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        expect(page.get_by_role("heading", name="Too many requests")).to_have_count(0)
    finally:
        app.config["WM_LOGIN_RATE_LIMIT"] = "10 per minute"


def test_an_expired_form_keeps_what_was_typed(live_server, page):
    page.goto(live_server + "/register")
    page.get_by_label("Handle").fill("patient_user")
    page.get_by_label("Email").fill("patient@example.com")
    page.get_by_label("Password").fill("quiet river lantern")
    page.context.clear_cookies()  # the session (and its CSRF token) ran out while the form was open
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#register-form")).to_contain_text("submit it again")
    expect(page.get_by_label("Handle")).to_have_value("patient_user")
    expect(page.get_by_label("Email")).to_have_value("patient@example.com")
    page.get_by_label("Password").fill("quiet river lantern")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Your account is ready")).to_be_visible()


def restart_browser(browser, page):
    """A new browser session holding only the cookies that outlive closing the browser."""
    persistent = [cookie for cookie in page.context.cookies() if cookie["expires"] > 0]
    context = browser.new_context()
    context.add_cookies(persistent)
    return context.new_page()


@pytest.mark.parametrize("ticked", [True, False])
def test_keep_me_logged_in(app, browser, live_server, page, ticked):
    make_user(app, handle="remy")
    page.goto(live_server + "/login")
    page.get_by_label("Handle or email").fill("remy")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Keep me logged in on this device").set_checked(ticked)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Logged in as @remy.")).to_be_visible()
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["session"]["expires"] == -1  # the session itself always ends with the browser
    assert ("wm_remember" in cookies) == ticked
    later = restart_browser(browser, page)
    later.goto(live_server + "/")
    expect(later.locator(".menu summary")).to_have_count(1 if ticked else 0)
    later.context.close()
