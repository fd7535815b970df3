"""Personal access tokens: the tokens service, the Settings → Access tokens page, and tokens on the API."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.fixtures.apps import REDIS_URL, csrf_token
from tests.fixtures.users import log_in, make_user
from wm.extensions import db
from wm.models.accounts import AccessToken, User
from wm.models.base import utcnow
from wm.models.governance import AuditRecord
from wm.services import DomainErrors, Origin
from wm.services.accounts import revoke_channel, tokens

PAGE = "/settings/tokens"
SECRET = re.compile(r"wmpat_[A-Za-z0-9_-]{43}")


def bearer(secret: str, address: str = "127.0.0.1") -> dict:
    return {"headers": {"Authorization": f"Bearer {secret}"}, "environ_base": {"REMOTE_ADDR": address}}


def signed_in(app: Flask, role: str = "creator") -> FlaskClient:
    client = app.test_client()
    client.user = make_user(app, role=role)  # type: ignore[attr-defined]
    log_in(client, client.user.handle)  # type: ignore[attr-defined]
    return client


def create(client: FlaskClient, name: str = "deploy script", scopes=("read",), days="30", **kwargs):
    """Post the new-token form as the page's own form does."""
    data = {"name": name, "scopes": list(scopes), "days": days, "csrf_token": csrf_token(client)}
    return client.post(PAGE, data=data, **kwargs)


def create_and_read_secret(client: FlaskClient, **fields) -> str:
    response = create(client, **fields)
    assert response.status_code == 303 and response.headers["Location"] == PAGE, response.get_data(as_text=True)
    secrets_shown = SECRET.findall(client.get(PAGE).get_data(as_text=True))
    assert len(set(secrets_shown)) == 1
    return secrets_shown[0]


def token_rows(app: Flask, user: User) -> list[AccessToken]:
    with app.app_context():
        rows = list(db.session.scalars(select(AccessToken).where(AccessToken.user_id == user.id)
                                       .order_by(AccessToken.id)))
        db.session.expunge_all()
    return rows


def audit_rows(app: Flask, event_type: str) -> list[AuditRecord]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditRecord).where(AuditRecord.event_type == event_type)
                                       .order_by(AuditRecord.id)))
        db.session.expunge_all()
    return rows


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == f"/api/v1/problems#{slug}" and body["status"] == status
    return body


def test_only_the_hash_of_a_token_is_stored_and_its_secret_is_shown_once(app):
    client = signed_in(app)
    response = create(client, name="laptop uploads", scopes=["read", "upload"], days="90")
    assert response.status_code == 303
    page = client.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(html).group(0)
    assert "you won't see it again" in html.replace("&#39;", "'")
    assert f'id="new-token-secret" type="text" readonly value="{secret}"' in html
    [row] = token_rows(app, client.user)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.hint == secret[:10] and row.scopes == "read upload" and row.name == "laptop uploads"
    assert all(secret not in str(value) for value in vars(row).values())
    # Neither the next visit, nor the session behind it, nor the audit trail holds the secret.
    again = client.get(PAGE).get_data(as_text=True)
    assert secret not in again and "laptop uploads" in again and row.hint in again
    store = redis.Redis.from_url(REDIS_URL)
    assert all(secret.encode() not in (store.get(key) or b"") for key in store.scan_iter("session:*"))
    assert secret not in str([record.payload for record in audit_rows(app, "token.created")])
    assert client.get("/api/v1/me", **bearer(secret)).json["token"]["scopes"] == ["read", "upload"]


def test_the_tokens_page_is_linked_from_settings_and_the_account_menu_and_needs_a_login(app, client):
    for response in (client.get(PAGE), client.post(PAGE, data={"name": "x", "scopes": ["read"], "days": "30"})):
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    member = signed_in(app, "viewer")
    assert f'href="{PAGE}"' in member.get("/settings").get_data(as_text=True)
    assert f'<a href="{PAGE}">Access tokens</a>' in member.get("/").get_data(as_text=True)


def test_a_post_without_its_csrf_token_creates_nothing(app):
    client = signed_in(app)
    response = client.post(PAGE, data={"name": "forged", "scopes": ["read"], "days": "30"})
    assert response.status_code == 400
    assert token_rows(app, client.user) == []


@pytest.mark.parametrize(("name", "message"), [
    ("", "Give the token a name of 1 to 60 characters"),
    ("   ", "Give the token a name of 1 to 60 characters"),
    ("x" * 61, "Give the token a name of 1 to 60 characters"),
    ("x" * 100_000, "Give the token a name of 1 to 60 characters"),
    ("nul\x00byte", "must not contain control or text-direction characters (found U+0000)"),
    ("escape\x1b[31m", "(found U+001B)"),
    ("gpj.\u202eexe", "(found U+202E)"),
    ("\u200b\u200b", "a name you can see"),
    ("\u200e", "a name you can see"),
])
def test_names_with_control_characters_or_too_long_are_refused(app, name, message):
    client = signed_in(app)
    response = create(client, name=name)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert 'id="name-error"' in response.get_data(as_text=True)
    assert token_rows(app, client.user) == []


@pytest.mark.parametrize(("scopes", "days", "errors"), [
    (["admin"], "30", {"scopes": "Choose scopes from the list: read, upload, manage."}),
    ([], "30", {"scopes": "Choose at least one scope."}),
    (["read"], "8", {"days": "A token lasts 7, 30, 90 or 365 days: choose one of those."}),
    (["read"], "abc", {"days": "A token lasts 7, 30, 90 or 365 days"}),
    (["read"], "٣٠", {"days": "A token lasts 7, 30, 90 or 365 days"}),
    (["read"], "9" * 5000, {"days": "A token lasts 7, 30, 90 or 365 days"}),
    (["read", "root"], "-1", {"scopes": "Choose scopes from the list", "days": "A token lasts"}),
])
def test_bad_scopes_and_days_are_refused_with_clear_errors_beside_their_fields(app, scopes, days, errors):
    client = signed_in(app)
    response = create(client, scopes=scopes, days=days)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for field, message in errors.items():
        assert re.search(rf'<p class="error" id="{field}-error">{re.escape(message)}', html), (field, html)
    assert "deploy script" in html  # what was typed stays in the form
    assert token_rows(app, client.user) == []


def test_a_viewer_may_give_a_token_only_the_read_scope(app):
    viewer, creator = signed_in(app, "viewer"), signed_in(app, "creator")
    viewer_page, creator_page = viewer.get(PAGE).get_data(as_text=True), creator.get(PAGE).get_data(as_text=True)
    assert re.findall(r'name="scopes"[^>]*value="(\w+)"', viewer_page) == ["read"]
    assert re.findall(r'name="scopes"[^>]*value="(\w+)"', creator_page) == ["read", "upload", "manage"]
    assert "start your channel" in viewer_page and "start your channel" not in creator_page
    refused = create(viewer, scopes=["read", "upload"])
    assert refused.status_code == 400
    assert "Your account can give only these scopes: read." in refused.get_data(as_text=True)
    with app.app_context(), pytest.raises(DomainErrors, match="only these scopes: read"):
        tokens.create_token(db.session.get(User, viewer.user.id), "direct", ["manage"], 30)
    assert token_rows(app, viewer.user) == []
    create_and_read_secret(viewer, scopes=["read"])
    assert [row.scopes for row in token_rows(app, viewer.user)] == ["read"]


def test_a_creator_demoted_to_viewer_loses_upload_and_manage_at_once(app, admin_client):
    creator = signed_in(app)
    secret = create_and_read_secret(creator, scopes=["read", "upload", "manage"])
    gate = {"X-Original-Method": "POST", "X-Original-Content-Length": "10"}
    headers = bearer(secret)
    assert creator.get("/api/v1/me", **headers).json["token"]["scopes"] == ["manage", "read", "upload"]
    assert creator.get("/_edge/upload-gate", headers={**headers["headers"], **gate}).status_code == 204
    with app.app_context():
        revoke_channel(db.session.get(User, admin_client.user.id), creator.user.id)
    assert creator.get("/api/v1/me", **headers).json["token"]["scopes"] == ["read"]
    assert creator.get("/api/v1/auth/check", **headers).json["scopes"] == ["read"]
    refused = creator.get("/_edge/upload-gate", headers={**headers["headers"], **gate})
    assert_problem(refused, 403, "insufficient-scope")
    # The page says which of the token's scopes the account no longer gives (after a new login: demotion ends
    # every session).
    log_in(creator, creator.user.handle)
    assert "<s>upload</s>" in creator.get(PAGE).get_data(as_text=True)


def test_revoking_works_at_once_on_the_api_and_is_audited(app):
    client = signed_in(app)
    secret = create_and_read_secret(client)
    assert client.get("/api/v1/me", **bearer(secret)).status_code == 200
    [row] = token_rows(app, client.user)
    response = client.post(f"{PAGE}/{row.public_id}/revoke", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    page = client.get(PAGE).get_data(as_text=True)
    assert "is revoked" in page and '<span class="state state-revoked">revoked</span>' in page
    assert f"{PAGE}/{row.public_id}/revoke" not in page  # no Revoke button on a revoked token
    body = assert_problem(client.get("/api/v1/me", **bearer(secret)), 401, "invalid-token")
    assert "revoked" in body["detail"]
    [record] = audit_rows(app, "token.revoked")
    assert (record.target_id, record.actor_id, record.payload) == (row.public_id, client.user.id,
                                                                   {"name": "deploy script"})


def test_revoking_with_htmx_answers_the_row_alone(app):
    client = signed_in(app)
    with app.app_context():
        token, _ = tokens.create_token(db.session.get(User, client.user.id), "ci", ["read"], 30)
        public_id = token.public_id
    response = client.post(f"{PAGE}/{public_id}/revoke",
                           headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.strip().startswith(f'<tr id="token-{public_id}"')
    assert "state-revoked" in html and "<html" not in html and "/revoke" not in html


def test_another_users_token_cannot_be_revoked_and_is_a_404(app):
    owner, other = signed_in(app), signed_in(app)
    secret = create_and_read_secret(owner)
    [row] = token_rows(app, owner.user)
    response = other.post(f"{PAGE}/{row.public_id}/revoke", data={"csrf_token": csrf_token(other)})
    assert response.status_code == 404
    assert other.post(f"{PAGE}/no-such-token/revoke", data={"csrf_token": csrf_token(other)}).status_code == 404
    assert owner.get("/api/v1/me", **bearer(secret)).status_code == 200
    assert token_rows(app, owner.user)[0].revoked_at is None and audit_rows(app, "token.revoked") == []
    assert row.public_id not in other.get(PAGE).get_data(as_text=True)


def test_the_list_shows_expiry_warnings_last_use_and_state(app):
    client = signed_in(app)
    soon = create_and_read_secret(client, name="short lived", days="7")
    create_and_read_secret(client, name="a week", days="7")
    create_and_read_secret(client, name="never used", days="365")
    ended = create_and_read_secret(client, name="ended")
    assert client.get("/api/v1/me", **bearer(soon, "203.0.113.9")).status_code == 200
    with app.app_context():
        rows = {row.name: row for row in db.session.scalars(select(AccessToken))}
        assert rows["short lived"].expires_at - utcnow() > timedelta(days=6, hours=23)
        assert rows["never used"].expires_at - utcnow() > timedelta(days=364)
        rows["ended"].expires_at = utcnow() - timedelta(hours=1)
        rows["short lived"].expires_at = utcnow() + timedelta(days=2, hours=1)
        db.session.commit()
    page = client.get(PAGE).get_data(as_text=True)
    rows_html = {name: re.search(rf"<tr id=\"token-[^\"]+\"[^>]*>\s*<td class=\"title\">{name} .*?</tr>", page,
                                 re.S).group(0) for name in ("short lived", "a week", "never used", "ended")}
    assert '<strong class="warn">in 2 days</strong>' in rows_html["short lived"]
    assert "warn" not in rows_html["a week"]  # a week is what was asked for: nothing to warn of yet
    assert "from 203.0.113.9" in rows_html["short lived"] and "state-active" in rows_html["short lived"]
    assert "never</td>" in rows_html["never used"] and "warn" not in rows_html["never used"]
    assert "state-expired" in rows_html["ended"] and "/revoke" not in rows_html["ended"]
    assert_problem(client.get("/api/v1/me", **bearer(ended)), 401, "invalid-token")


def test_use_records_the_time_and_address_and_a_new_address_is_audited(app, client):
    user = make_user(app, role="creator")
    with app.app_context():
        token, secret = tokens.create_token(db.session.get(User, user.id), "cron", ["read"], 30,
                                            origin=Origin("198.51.100.1", "pytest"))
        public_id = token.public_id
    for address in ("198.51.100.7", "198.51.100.7", "198.51.100.8"):
        assert client.get("/api/v1/me", **bearer(secret, address)).status_code == 200
    [row] = token_rows(app, user)
    assert row.last_used_ip == "198.51.100.8" and utcnow() - row.last_used_at < timedelta(minutes=1)
    used = audit_rows(app, "token.used_from_new_address")
    assert [(r.ip_address, r.actor_id, r.target_id) for r in used] == [
        ("198.51.100.7", user.id, public_id), ("198.51.100.8", user.id, public_id)]
    [created] = audit_rows(app, "token.created")
    assert created.ip_address == "198.51.100.1"
    assert created.payload == {"name": "cron", "scopes": ["read"], "days": 30}


def test_token_events_read_well_on_the_admin_audit_trail(app, admin_client):
    client = signed_in(app)
    create_and_read_secret(client, name="release bot", scopes=["read", "upload"], days="90")
    [row] = token_rows(app, client.user)
    client.post(f"{PAGE}/{row.public_id}/revoke", data={"csrf_token": csrf_token(client)})
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert re.search(r"token\.created</td><td[^>]*>access_token " + re.escape(row.public_id) +
                     r"</td>\s*<td data-label=\"Details\">name: release bot; scopes: read, upload; days: 90</td>",
                     page), page
    assert re.search(r"token\.revoked</td>[^\n]*\n\s*<td data-label=\"Details\">name: release bot</td>", page)


def test_token_creation_is_rate_limited_per_user(app):
    client, neighbour = signed_in(app), signed_in(app)
    for n in range(10):
        assert create(client, name=f"token {n}").status_code == 303
    refused = create(client, name="one too many")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many attempts; try again in" in html and "one too many" in html
    assert len(token_rows(app, client.user)) == 10
    assert create(neighbour, name="mine").status_code == 303  # the limit is the user's, not the address's


def test_each_token_has_its_own_rate_limit_answered_with_a_problem(app, client, monkeypatch):
    user = make_user(app)
    with app.app_context():
        _, busy = tokens.create_token(db.session.get(User, user.id), "busy", ["read"], 30)
        _, calm = tokens.create_token(db.session.get(User, user.id), "calm", ["read"], 30)
    monkeypatch.setitem(app.config, "WM_API_TOKEN_RATE_LIMIT", "3 per minute")
    for _ in range(3):
        assert client.get("/api/v1/me", **bearer(busy)).status_code == 200
    limited = client.get("/api/v1/me", **bearer(busy))
    assert_problem(limited, 429, "rate-limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get("/api/v1/me", **bearer(calm)).status_code == 200
    assert client.get("/api/v1/auth/check").status_code == 200  # the address itself is not limited


def test_a_token_reaches_no_html_page_and_no_session(app, client):
    user = make_user(app)
    with app.app_context():
        _, secret = tokens.create_token(db.session.get(User, user.id), "scraper", ["read"], 30)
    response = client.get(PAGE, **bearer(secret))
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.post(PAGE, data={"name": "via token", "scopes": ["read"], "days": "30"},
                       **bearer(secret)).status_code == 302
    assert token_rows(app, user)[0].name == "scraper" and len(token_rows(app, user)) == 1
