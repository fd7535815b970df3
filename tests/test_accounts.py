"""Accounts: register, log in by handle or email, log out, settings, profiles (MariaDB and SQLite)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from tests.fixtures.apps import PASSWORD, REDIS_URL, csrf_token, post_form
from tests.fixtures.users import log_in, make_user
from wm.extensions import db
from wm.models.accounts import RememberToken, Role, User
from wm.models.governance import AuditRecord


def register(client, handle="alice", email="alice@example.com", password=PASSWORD, **kwargs):
    return post_form(client, "/register", {"handle": handle, "email": email, "password": password},
                     page="/register", **kwargs)


def audit_events(app) -> list[str]:
    with app.app_context():
        return [r.event_type for r in db.session.scalars(select(AuditRecord).order_by(AuditRecord.id))]


def test_register_creates_a_viewer_and_asks_to_log_in(any_app):
    client = any_app.test_client()
    response = register(client)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "Your account is ready" in client.get("/login").get_data(as_text=True)
    with any_app.app_context():
        user = db.session.scalar(select(User).where(User.handle_key == "alice"))
        assert user.role is Role.viewer and user.tier.value == "free"
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert audit_events(any_app) == ["account.created"]
    log_in(client, "alice")
    assert "@alice" in client.get("/").get_data(as_text=True)


def test_a_taken_handle_is_reported_regardless_of_case(any_app):
    make_user(any_app, handle="Alice")
    response = register(any_app.test_client(), handle="ALICE", email="other@example.com")
    assert response.status_code == 400
    assert "That handle is taken." in response.get_data(as_text=True)
    with any_app.app_context():
        assert db.session.query(User).count() == 1


def test_registering_a_taken_email_answers_like_a_new_account_and_creates_nothing(any_app):
    make_user(any_app, handle="alice")
    fresh, probe = any_app.test_client(), any_app.test_client()
    new_account = register(fresh, handle="bob", email="bob@example.com")
    taken_email = register(probe, handle="mallory", email="ALICE@EXAMPLE.COM")
    assert (taken_email.status_code, taken_email.headers["Location"]) == (new_account.status_code,
                                                                          new_account.headers["Location"])
    flash = "Your account is ready: log in with your handle or email and your password."
    assert flash in fresh.get("/login").get_data(as_text=True)
    assert flash in probe.get("/login").get_data(as_text=True)
    with any_app.app_context():
        assert {u.handle for u in db.session.scalars(select(User))} == {"alice", "bob"}
    assert "account.registration_with_taken_email" in audit_events(any_app)
    # Trying the same handle again must not reveal that nothing was created.
    response = register(any_app.test_client(), handle="mallory", email="m2@example.com")
    assert "That handle is taken." in response.get_data(as_text=True)
    assert "already exists" not in taken_email.get_data(as_text=True)


def test_register_shows_every_problem_at_once(app, client):
    response = register(client, handle="1x", email="not-an-email", password="short")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Handles are 3 to 30 letters" in html
    assert "That email address is not valid" in html
    assert "Use at least 10 characters." in html
    assert html.count('aria-invalid="true"') == 3
    make_user(app, handle="taken_name")
    html = register(client, handle="taken_name", email="", password="1234567890").get_data(as_text=True)
    assert "That handle is taken." in html
    assert "That email address is not valid" in html
    assert "most common passwords" in html
    assert 'value="taken_name"' in html


def test_register_errors_come_back_as_a_422_fragment_for_htmx(htmx_client):
    token = csrf_token(htmx_client, "/register")
    response = htmx_client.post("/register", data={"handle": "x", "email": "a@example.com",
                                                   "password": PASSWORD, "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert "Handles are 3 to 30 letters" in html


@pytest.mark.parametrize(("password", "reason"), [
    ("1234567890", "most common passwords"),
    ("aaaaaaaaaa", "repeats itself"),
    ("abababababab", "repeats itself"),
    ("password2024!", "most common passwords"),
    ("qwertyuiop1", "most common passwords"),
    ("0987654321", "run of keys"),
    ("abcdefghijkl", "run of keys"),
    ("2wsx3edc4rfv", "run of keys"),
    ("zelda_fan_forever", "must not contain your handle"),
    ("my mailbox zeldafan77", "must not contain your handle or email"),
    ("weekmotion rocks!", "name of this site"),
    ("1234567890!", "most common passwords"),
    ("!1234567890", "most common passwords"),
    ("123456789!", "most common passwords"),
    ("zyxw9876-zyxw", "run of keys"),
    ("12341234!!", "repeats itself"),
    ("abcd1234abcd", "run of keys"),
    ("WeekM0tion!", "name of this site"),
    ("P@ssw0rd2024", "most common passwords"),
])
def test_weak_passwords_are_refused_with_a_reason(client, password, reason):
    response = register(client, handle="zelda_fan", email="zeldafan77@example.com", password=password)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert reason in html
    assert "A few unrelated words make a strong one." in html  # the strength hint under the field


def test_a_weak_new_password_is_refused_in_settings(viewer_client):
    response = post_form(viewer_client, "/settings/password",
                         {"password-current_password": PASSWORD, "password-new_password": "aaaaaaaaaaaa"},
                         page="/settings")
    assert response.status_code == 400
    assert "repeats itself" in response.get_data(as_text=True)


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


def test_login_redirects_to_a_local_next(app, client):
    make_user(app, handle="erin")
    response = post_form(client, "/login?next=/settings%3Ftab%3D1", {"login": "erin", "password": PASSWORD},
                         page="/login")
    assert response.headers["Location"] == "/settings?tab=1"


EVIL_NEXT = ["//evil.example/x", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\\evil.example",
             "\\/evil.example", "///evil.example", "https:evil.example", "https://evil.example",
             "/%2F%2Fevil.example", "/%09/evil.example", "javascript:alert(1)", " //evil.example",
             "/%5Cevil.example", "\x00/evil.example", "http:/\\/evil.example"]


@pytest.mark.parametrize("evil", EVIL_NEXT)
def test_login_never_redirects_off_site(app, client, htmx_client, evil):
    make_user(app, handle="erin")
    page = client.get("/login", query_string={"next": evil})
    assert page.status_code == 200 and "evil.example" not in page.get_data(as_text=True)
    response = post_form(client, "/login", {"login": "erin", "password": PASSWORD, "next": evil}, page="/login")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get("/login", query_string={"next": evil}).headers["Location"] == "/"
    token = csrf_token(htmx_client, "/login")
    response = htmx_client.post("/login", query_string={"next": evil},
                                data={"login": "erin", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/"


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


# Sessions: a new id at every change of privilege, bounded lifetimes, nothing stored for anonymous visitors.

def session_id(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def session_keys() -> dict[str, int]:
    store = redis.Redis.from_url(REDIS_URL)
    return {key.decode(): store.ttl(key) for key in store.scan_iter("session:*")}


def test_login_logout_and_password_change_each_issue_a_new_session_id_and_csrf_token(app, client):
    make_user(app, handle="fiona")
    before_token = csrf_token(client, "/login")
    before = session_id(client)
    log_in(client, "fiona")
    after_login = session_id(client)
    assert after_login and after_login != before
    assert f"session:{before}" not in session_keys()
    assert csrf_token(client, "/settings") != before_token
    post_form(client, "/settings/password", {"password-current_password": PASSWORD,
                                             "password-new_password": "an entirely new phrase"}, page="/settings")
    after_change = session_id(client)
    assert after_change != after_login and f"session:{after_login}" not in session_keys()
    post_form(client, "/logout", {})
    assert session_id(client) != after_change and f"session:{after_change}" not in session_keys()


def test_a_planted_session_id_is_worthless_after_login(app):
    make_user(app, handle="gina")
    attacker, victim = app.test_client(), app.test_client()
    csrf_token(attacker, "/login")
    victim.set_cookie("session", session_id(attacker))
    log_in(victim, "gina")
    assert "@gina" in victim.get("/").get_data(as_text=True)
    assert "@gina" not in attacker.get("/").get_data(as_text=True)


def test_a_role_change_by_an_admin_signs_the_user_out(app, admin_client):
    user = make_user(app, handle="hank")
    client = app.test_client()
    log_in(client, "hank")
    post_form(admin_client, f"/admin/users/{user.id}/role", {"role": "creator", "tier": "free"}, page="/admin/")
    assert client.get("/settings").status_code == 302
    log_in(client, "hank")
    assert client.get("/studio/").status_code == 200


def test_anonymous_visits_store_nothing_and_form_sessions_are_short_lived(app):
    make_user(app, handle="ivy")
    for _ in range(20):
        visitor = app.test_client()
        for url in ("/", "/@ivy", "/search?q=x", "/no/such/page"):
            visitor.get(url)
    assert session_keys() == {}
    for _ in range(5):
        app.test_client().get("/login")
        app.test_client().get("/register")
    keys = session_keys()
    assert len(keys) == 10
    assert all(0 < ttl <= app.config["WM_SESSION_ANONYMOUS_SECONDS"] <= 2 * 3600 for ttl in keys.values())


def test_signed_in_sessions_have_an_idle_and_an_absolute_lifetime(app, client):
    make_user(app, handle="jack")
    log_in(client, "jack")
    ttl = session_keys()[f"session:{session_id(client)}"]
    assert app.config["WM_SESSION_IDLE_SECONDS"] - 60 < ttl <= app.config["WM_SESSION_IDLE_SECONDS"]
    with client.session_transaction() as session:
        session["_auth_at"] = time.time() - app.config["WM_SESSION_MAX_SECONDS"] - 1
    assert client.get("/settings").status_code == 302


# Remember-me: a random token per device, stored hashed, ended by logout and by time.

def remember_cookie(client):
    return client.get_cookie("wm_remember")


def log_in_remembered(client, handle):
    response = post_form(client, "/login", {"login": handle, "password": PASSWORD, "remember": "y"}, page="/login")
    assert response.status_code == 303
    return remember_cookie(client)


def close_browser(client) -> None:
    """What closing the browser does: session cookies go, persistent ones stay."""
    client.delete_cookie("session")


def test_each_device_gets_its_own_remember_token_stored_hashed(app):
    make_user(app, handle="kim")
    laptop, phone = app.test_client(), app.test_client()
    laptop_cookie, phone_cookie = log_in_remembered(laptop, "kim"), log_in_remembered(phone, "kim")
    assert laptop_cookie.value != phone_cookie.value
    assert timedelta(days=29) < laptop_cookie.expires - laptop_cookie.expires.now(laptop_cookie.expires.tzinfo) \
        <= timedelta(days=30)
    with app.app_context():
        stored = [row.validator_hash for row in db.session.scalars(select(RememberToken))]
    assert len(stored) == 2 and not any(part in stored for part in laptop_cookie.value.split("."))
    close_browser(laptop)
    assert "@kim" in laptop.get("/").get_data(as_text=True)


def test_a_remember_token_stops_working_after_logout(app):
    make_user(app, handle="leo")
    laptop = app.test_client()
    stolen = log_in_remembered(laptop, "leo").value
    post_form(laptop, "/logout", {})
    assert remember_cookie(laptop) is None
    thief = app.test_client()
    thief.set_cookie("wm_remember", stolen)
    assert "@leo" not in thief.get("/").get_data(as_text=True)
    assert remember_cookie(thief) is None  # the dead cookie is removed


def test_a_remember_token_stops_working_when_it_expires(app):
    make_user(app, handle="mia")
    laptop = app.test_client()
    log_in_remembered(laptop, "mia")
    with app.app_context():
        for row in db.session.scalars(select(RememberToken)):
            row.expires_at = row.expires_at - timedelta(days=31)
        db.session.commit()
    close_browser(laptop)
    assert "@mia" not in laptop.get("/").get_data(as_text=True)


def test_an_unticked_login_sets_no_persistent_cookie(app, client):
    make_user(app, handle="ned")
    log_in(client, "ned")
    assert remember_cookie(client) is None
    assert client.get_cookie("session").expires is None
    close_browser(client)
    assert "@ned" not in client.get("/").get_data(as_text=True)


# Throttling per account, whatever the address; a device the account used before still gets in.

def client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_failures_from_many_addresses_throttle_the_account_but_not_its_known_device(app):
    make_user(app, handle="olga")
    make_user(app, handle="mallory")
    laptop, attacker_own_device = client_at(app, "10.0.0.1"), client_at(app, "10.9.0.1")
    log_in(laptop, "olga")
    post_form(laptop, "/logout", {})
    log_in(attacker_own_device, "mallory")  # a device known for another account is no pass for olga's
    post_form(attacker_own_device, "/logout", {})
    for n in range(5):
        response = post_form(client_at(app, f"10.1.0.{n}"), "/login", {"login": "olga", "password": f"guess {n} nope"},
                             page="/login")
        assert response.status_code == 400
    for client, login, password in ((client_at(app, "10.2.0.1"), "olga", "guess 6 nope"),
                                    (client_at(app, "10.2.0.2"), "OLGA@example.com", PASSWORD),
                                    (attacker_own_device, "olga", PASSWORD)):
        response = post_form(client, "/login", {"login": login, "password": password}, page="/login")
        html = response.get_data(as_text=True)
        assert response.status_code == 429
        assert "Too many failed attempts to log in to this account; try again in" in html
        wait = int(re.search(r"try again in (\d+) seconds", html).group(1))
        assert 'id="login-form"' in html and 0 < wait <= 30 <= int(response.headers["Retry-After"])
    log_in(laptop, "olga")


def test_unknown_accounts_are_throttled_the_same_way(client):
    for n in range(6):
        client.environ_base["REMOTE_ADDR"] = f"10.3.0.{n}"
        response = post_form(client, "/login", {"login": "nobody_here", "password": "wrong password"}, page="/login")
    assert response.status_code == 429


def test_the_address_rate_limit_keeps_the_form_and_says_how_long_to_wait(app, client, htmx_client):
    app.config["WM_LOGIN_RATE_LIMIT"] = "2 per minute"
    try:
        statuses = [post_form(client, "/login", {"login": "someone", "password": "y" * 10}, page="/login")
                    for _ in range(3)]
        token = csrf_token(htmx_client, "/login")
        fragment = htmx_client.post("/login", data={"login": "someone", "password": "y" * 10, "csrf_token": token})
    finally:
        app.config["WM_LOGIN_RATE_LIMIT"] = "10 per minute"
    limited = statuses[-1]
    html = limited.get_data(as_text=True)
    assert [r.status_code for r in statuses] == [400, 400, 429]
    assert 'id="login-form"' in html and 'value="someone"' in html
    assert "Too many attempts; try again in" in html and "Retry-After" in limited.headers
    assert fragment.status_code == 429
    assert fragment.get_data(as_text=True).lstrip().startswith("<form") and "HX-Retarget" not in fragment.headers


# Forms that could not be processed are shown again, never replaced.

def test_an_expired_csrf_token_keeps_the_form_and_its_values(client, htmx_client):
    csrf_token(client, "/register")
    response = client.post("/register", data={"handle": "kept_handle", "email": "kept@example.com",
                                              "password": PASSWORD, "csrf_token": "expired"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="register-form"' in html and 'value="kept_handle"' in html and 'value="kept@example.com"' in html
    assert "submit it again" in html
    response = post_form(client, "/register", {"handle": "kept_handle", "email": "kept@example.com",
                                               "password": PASSWORD}, page="/register")
    assert response.status_code == 303
    response = htmx_client.post("/login", data={"login": "kept_handle", "password": PASSWORD})
    assert response.status_code == 400 and "HX-Retarget" not in response.headers
    assert response.get_data(as_text=True).lstrip().startswith("<form") and 'value="kept_handle"' in \
        response.get_data(as_text=True)


def test_logout_by_get_shows_a_log_out_button(viewer_client, client):
    response = viewer_client.get("/logout")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'action="/logout" method="post"' in html and ">Log out</button>" in html
    assert "@" + viewer_client.user.handle in html
    assert client.get("/logout").status_code == 302
