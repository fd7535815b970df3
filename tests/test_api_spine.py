"""The API's spine: versions, problem+json errors, bearer tokens next to sessions, deprecation, cursors."""

from __future__ import annotations

from datetime import date, timedelta
from email.utils import parsedate_to_datetime

import pytest
from markupsafe import escape
from werkzeug.exceptions import UnprocessableEntity

from tests.fixtures.apps import csrf_token
from tests.fixtures.users import bearer, log_in, make_user, token_for
from wm.api import Cursor, deprecated
from wm.extensions import db
from wm.models.accounts import AccessToken
from wm.models.base import utcnow
from wm.services.accounts import tokens
from wm.web import PROBLEM_TYPES


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == f"/api/v1/problems#{slug}" and body["status"] == status
    assert body["title"] and body["detail"]
    return body


def test_every_api_answer_says_its_version_and_errors_are_problems(client):
    for url, status in (("/api/v1/auth/check", 200), ("/api/v1/openapi.json", 200), ("/api/v1/me", 401),
                        ("/api/v1/no-such-thing", 404)):
        response = client.get(url)
        assert response.status_code == status and response.headers["X-API-Version"] == "1", url
    assert "X-API-Version" not in client.get("/").headers
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not-found")
    response = client.delete("/api/v1/me")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]
    unauthorized = client.get("/api/v1/me")
    assert_problem(unauthorized, 401, "unauthorized")
    assert unauthorized.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_problem_type_is_explained_on_the_problems_page(client):
    page = client.get("/api/v1/problems").get_data(as_text=True)
    for slug, meaning in PROBLEM_TYPES.items():
        assert f'id="{slug}"' in page and str(escape(meaning)) in page


def test_a_token_opens_the_api_as_its_owner_and_nothing_else(app, client):
    user = make_user(app, role="creator")
    secret = token_for(app, user, ("read",))
    me = client.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200
    assert me.json["handle"] == user.handle and me.json["auth"] == "token"
    assert me.json["token"]["scopes"] == ["read"]
    # No cookie came back: a token request leaves no session behind.
    assert "Set-Cookie" not in me.headers
    # HTML pages never see the token: they treat the request as anonymous.
    settings = client.get("/settings", headers=bearer(secret))
    assert settings.status_code == 302 and settings.headers["Location"].startswith("/login")
    assert f"@{user.handle}" not in client.get("/", headers=bearer(secret)).get_data(as_text=True)
    check = client.get("/api/v1/auth/check", headers=bearer(secret)).json
    assert check == {"authenticated": True, "auth": "token", "scopes": ["read"]}


@pytest.mark.parametrize("header", ["Bearer wmpat_not-a-real-token", "Bearer something-else", "Bearer ",
                                    "Bearer " + "x" * 500])
def test_a_bad_authorization_header_is_a_401_problem_even_with_a_session(app, client, header):
    user = make_user(app)
    log_in(client, user.handle)
    response = client.get("/api/v1/me", headers={"Authorization": header})
    body = assert_problem(response, 401, "unauthorized" if header == "Bearer " else "invalid-token")
    assert "token" in body["detail"].lower() or "bearer" in body["detail"].lower()
    assert client.get("/api/v1/me").status_code == 200  # the session itself still works


def test_expired_and_revoked_tokens_stop_at_once(app, client):
    user = make_user(app)
    expired, revoked = token_for(app, user), token_for(app, user)
    with app.app_context():
        rows = db.session.scalars(db.select(AccessToken).order_by(AccessToken.id)).all()
        rows[0].expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        tokens.revoke_token(db.session.merge(user), rows[1].public_id)
    for secret in (expired, revoked):
        response = client.get("/api/v1/me", headers=bearer(secret))
        assert_problem(response, 401, "invalid-token")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_session_uses_the_api_and_needs_its_csrf_token_to_change_things(app, client):
    user = make_user(app, role="creator")
    log_in(client, user.handle)
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json["auth"] == "session" and me.json["token"] is None
    headers = {"Tus-Resumable": "1.0.0", "Upload-Length": "10"}
    forged = client.post("/api/v1/uploads/", headers=headers)
    assert_problem(forged, 403, "csrf")
    made = client.post("/api/v1/uploads/", headers={**headers, "X-CSRFToken": csrf_token(client)})
    assert made.status_code == 201


def test_a_deprecated_route_says_when_it_ends_and_what_replaces_it(client, app):
    secret = token_for(app, make_user(app))
    response = client.get("/api/v1/whoami", headers=bearer(secret))
    assert response.status_code == 200 and response.json == client.get("/api/v1/me", headers=bearer(secret)).json
    assert response.headers["Deprecation"].startswith("@")
    deprecated_on = date.fromtimestamp(int(response.headers["Deprecation"][1:]))
    sunset = parsedate_to_datetime(response.headers["Sunset"]).date()
    assert sunset - deprecated_on >= timedelta(days=182)
    assert "/api/v1/me" in response.headers["X-Deprecation-Notice"]
    assert "Deprecation" not in client.get("/api/v1/me", headers=bearer(secret)).headers
    document = client.get("/api/v1/openapi.json").json
    assert document["paths"]["/api/v1/whoami"]["get"]["deprecated"] is True
    assert "deprecated" not in document["paths"]["/api/v1/me"]["get"]


def test_a_route_cannot_be_deprecated_for_less_than_six_months():
    with pytest.raises(ValueError, match="six months"):
        deprecated(since=date(2026, 11, 1), sunset=date(2027, 3, 1), notice="too soon")


def test_the_document_is_openapi_3_1_with_both_ways_to_authenticate(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    assert set(document["components"]["securitySchemes"]) == {"bearer", "session"}
    assert {"session": []} in document["paths"]["/api/v1/me"]["get"]["security"]
    assert {"bearer": ["read"]} in document["paths"]["/api/v1/me"]["get"]["security"]
    problem = document["components"]["responses"]["UNAUTHORIZED"]["content"]
    assert list(problem) == ["application/problem+json"]


def test_cursors_round_trip_and_refuse_anything_forged(app):
    with app.test_request_context():
        text = Cursor.encode("feed", "2026-11-25T10:00:00", 42)
        assert Cursor.decode("feed", text, str, int) == ("2026-11-25T10:00:00", 42)
        for forged in (text[:-2] + "xx", "", "not-a-cursor", Cursor.encode("feed", True, 1),
                       Cursor.encode("feed", "a"), Cursor.encode("feed", "a", "b"),
                       Cursor.encode("another list", "2026-11-25T10:00:00", 42)):
            with pytest.raises(UnprocessableEntity) as refused:
                Cursor.decode("feed", forged, str, int)
            assert list(refused.value.data["messages"]["query"]) == ["cursor"]


def test_another_authorization_scheme_is_left_alone(app, client):
    """A proxy's Basic auth in front of a staging site reaches every path: it is not the API's to read."""
    basic = {"Authorization": "Basic dXNlcjpwdw=="}
    assert client.get("/api/v1/auth/check", headers=basic).json["authenticated"] is False
    assert_problem(client.get("/api/v1/me", headers=basic), 401, "unauthorized")
    log_in(client, make_user(app).handle)
    assert client.get("/api/v1/me", headers=basic).json["auth"] == "session"


def test_answers_to_a_token_are_never_cached(app, client):
    secret = token_for(app, make_user(app))
    assert client.get("/api/v1/me", headers=bearer(secret)).headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/auth/check", headers=bearer(secret)).headers["Cache-Control"] == "no-store"
