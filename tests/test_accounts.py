"""Accounts: register, log in by handle or email, log out, settings, profiles (MariaDB and SQLite)."""

from __future__ import annotations

from sqlalchemy import select

from tests.fixtures.apps import PASSWORD, csrf_token, post_form
from tests.fixtures.users import log_in, make_user
from wm.extensions import db
from wm.models.accounts import Role, User
from wm.models.governance import AuditRecord


def register(client, handle="alice", email="alice@example.com", password=PASSWORD, **kwargs):
    return post_form(client, "/register", {"handle": handle, "email": email, "password": password},
                     page="/register", **kwargs)


def audit_events(app) -> list[str]:
    with app.app_context():
        return [r.event_type for r in db.session.scalars(select(AuditRecord).order_by(AuditRecord.id))]


def test_register_creates_a_viewer_and_logs_in(any_app):
    client = any_app.test_client()
    response = register(client)
    assert response.status_code == 303
    assert "@alice" in client.get("/").get_data(as_text=True)
    with any_app.app_context():
        user = db.session.scalar(select(User).where(User.handle_key == "alice"))
        assert user.role is Role.viewer and user.tier.value == "free"
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert audit_events(any_app) == ["account.created"]


def test_handle_and_email_are_unique_regardless_of_case(any_app):
    make_user(any_app, handle="Alice")
    client = any_app.test_client()
    response = register(client, handle="ALICE", email="other@example.com")
    assert response.status_code == 400
    assert "That handle is taken." in response.get_data(as_text=True)
    response = register(client, handle="bob", email="ALICE@EXAMPLE.COM")
    assert response.status_code == 400
    assert "An account with that email already exists." in response.get_data(as_text=True)
    with any_app.app_context():
        assert db.session.query(User).count() == 1


def test_register_shows_every_bad_field_inline(client):
    response = register(client, handle="1x", email="not-an-email", password="short")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Handles are 3 to 30 letters" in html
    response = register(client, handle="good_name", email="not-an-email")
    assert "That email address is not valid" in response.get_data(as_text=True)
    response = register(client, handle="good_name", email="g@example.com", password="short")
    assert "Use at least 10 characters." in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_register_errors_come_back_as_a_422_fragment_for_htmx(htmx_client):
    token = csrf_token(htmx_client, "/register")
    response = htmx_client.post("/register", data={"handle": "x", "email": "a@example.com",
                                                   "password": PASSWORD, "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert "Handles are 3 to 30 letters" in html


def test_reserved_and_hostile_handles_are_refused(client):
    assert "reserved" in register(client, handle="admin").get_data(as_text=True)
    response = register(client, handle="<script>alert(1)</script>")
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


def test_log_in_by_handle_or_email_and_log_out(any_app):
    user = make_user(any_app, handle="Carol")
    client = any_app.test_client()
    log_in(client, "carol")
    assert "@Carol" in client.get("/").get_data(as_text=True)
    post_form(client, "/logout", {})
    assert "Log in" in client.get("/").get_data(as_text=True)
    log_in(client, user.email.upper())
    assert "@Carol" in client.get("/").get_data(as_text=True)
    assert audit_events(any_app)[1:] == ["auth.login", "auth.logout", "auth.login"]


def test_wrong_password_is_refused_and_audited(app, client):
    make_user(app, handle="dave")
    response = post_form(client, "/login", {"login": "dave", "password": "wrong password!"}, page="/login")
    assert response.status_code == 400
    assert "do not match" in response.get_data(as_text=True)
    response = post_form(client, "/login", {"login": "nobody", "password": "wrong password!"}, page="/login")
    assert "do not match" in response.get_data(as_text=True)
    assert audit_events(app)[-2:] == ["auth.login_failed", "auth.login_failed"]


def test_login_redirects_only_to_local_next(app, client):
    make_user(app, handle="erin")
    response = post_form(client, "/login?next=/settings", {"login": "erin", "password": PASSWORD}, page="/login")
    assert response.headers["Location"] == "/settings"
    post_form(client, "/logout", {})
    response = post_form(client, "/login?next=//evil.example/x", {"login": "erin", "password": PASSWORD},
                         page="/login")
    assert response.headers["Location"] == "/"


def test_change_email_asks_for_the_current_password(app, viewer_client):
    response = post_form(viewer_client, "/settings/email",
                         {"email-email": "new@example.com", "email-current_password": "not my password"},
                         page="/settings")
    assert response.status_code == 400
    assert "Your current password is not right." in response.get_data(as_text=True)
    response = post_form(viewer_client, "/settings/email",
                         {"email-email": "New@Example.com", "email-current_password": PASSWORD}, page="/settings")
    assert response.status_code == 303
    assert "new@example.com" in viewer_client.get("/settings").get_data(as_text=True)
    assert "account.email_changed" in audit_events(app)


def test_change_email_to_a_taken_address_is_refused(app, viewer_client):
    other = make_user(app, handle="frank")
    response = post_form(viewer_client, "/settings/email",
                         {"email-email": other.email, "email-current_password": PASSWORD}, page="/settings")
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)


def test_change_password_signs_out_other_sessions(app):
    make_user(app, handle="grace")
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, "grace")
    log_in(phone, "grace")
    response = post_form(laptop, "/settings/password",
                         {"password-current_password": PASSWORD, "password-new_password": "a brand new passphrase"},
                         page="/settings")
    assert response.status_code == 303
    assert laptop.get("/settings").status_code == 200
    assert phone.get("/settings").status_code == 302
    post_form(laptop, "/logout", {})
    response = post_form(laptop, "/login", {"login": "grace", "password": PASSWORD}, page="/login")
    assert response.status_code == 400
    log_in(laptop, "grace", "a brand new passphrase")


def test_change_password_refuses_a_wrong_current_or_a_short_new_one(viewer_client):
    response = post_form(viewer_client, "/settings/password",
                         {"password-current_password": "wrong wrong",
                          "password-new_password": "a brand new passphrase"},
                         page="/settings")
    assert "Your current password is not right." in response.get_data(as_text=True)
    response = post_form(viewer_client, "/settings/password",
                         {"password-current_password": PASSWORD, "password-new_password": "short"}, page="/settings")
    assert response.status_code == 400
    assert "Use at least 10 characters." in response.get_data(as_text=True)


def test_public_profile(app, client):
    make_user(app, handle="Heidi", role="creator")
    response = client.get("/@heidi")
    assert response.status_code == 200
    assert "@Heidi" in response.get_data(as_text=True)
    assert client.get("/@nobody_here").status_code == 404


def test_search_finds_channels_and_escapes_wildcards(app, client):
    make_user(app, handle="ivan_films")
    make_user(app, handle="judy")
    html = client.get("/search?q=FILMS").get_data(as_text=True)
    assert "@ivan_films" in html and "@judy" not in html
    assert "No channels match" in client.get("/search?q=%25").get_data(as_text=True)


def test_an_oversized_form_post_is_refused_with_413(app, client):
    response = post_form(client, "/register", {"handle": "big", "email": "b@example.com",
                                               "password": "x" * (17 * 1024 * 1024)}, page="/register")
    assert response.status_code == 413
    assert "Too large" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).count() == 0
