"""Platform API: who is calling, the API's own documentation, and the monitored status endpoints."""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask import Response, url_for
from flask_login import current_user

from wm.api import api_blueprint, current_token, deprecated, requires, token_scopes
from wm.models.accounts import Scope
from wm.web import PROBLEM_TYPES, render

bp = api_blueprint("platform_api", __name__, "Who is calling, and the endpoints uptime checks poll.")


class TokenSchema(ma.Schema):
    name = ma.fields.String(required=True)
    scopes = ma.fields.List(ma.fields.String(), required=True)
    expires_at = ma.fields.AwareDateTime(required=True)


class MeSchema(ma.Schema):
    handle = ma.fields.String(required=True)
    display_name = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata={"enum": ["viewer", "creator", "moderator", "admin"]})
    tier = ma.fields.String(required=True, metadata={"enum": ["free", "pro"]})
    created_at = ma.fields.AwareDateTime(required=True)
    profile_url = ma.fields.String(required=True)
    auth = ma.fields.String(required=True, metadata={"enum": ["session", "token"]})
    token = ma.fields.Nested(TokenSchema, allow_none=True, required=True,
                             metadata={"description": "The access token used, null for a session"})


def _me() -> dict:
    token = current_token()
    return {
        "handle": current_user.handle, "display_name": current_user.display_name, "role": current_user.role.value,
        "tier": current_user.tier.value, "created_at": current_user.created_at,
        "profile_url": url_for("accounts.profile", handle=current_user.handle, _external=True),
        "auth": "token" if token else "session",
        "token": None if token is None else {"name": token.name, "scopes": sorted(token_scopes()),
                                             "expires_at": token.expires_at},
    }


@bp.get("/me")
@requires(Scope.read)
@bp.response(200, MeSchema)
def me():
    """The signed-in account (by session or token)."""
    return _me()


@bp.get("/whoami")
@requires(Scope.read)
@deprecated(since=date(2026, 11, 1), sunset=date(2027, 6, 1),
            notice="GET /api/v1/whoami is deprecated and ends on 2027-06-01; use GET /api/v1/me.", link="/api/v1/docs")
@bp.response(200, MeSchema)
def whoami():
    """The signed-in account: the early name of /me, kept until its sunset."""
    return _me()


class AuthCheckSchema(ma.Schema):
    authenticated = ma.fields.Boolean(required=True)
    auth = ma.fields.String(required=True, allow_none=True, metadata={"enum": ["session", "token", None]})
    scopes = ma.fields.List(ma.fields.String(), required=True)


@bp.get("/auth/check")
@requires(None)
@bp.response(200, AuthCheckSchema)
def auth_check():
    """Whether the request's credentials work (monitored: it loads the session or token as every call does)."""
    token = current_token()
    if token is not None:
        return {"authenticated": True, "auth": "token", "scopes": sorted(token_scopes())}
    if current_user.is_authenticated:
        return {"authenticated": True, "auth": "session", "scopes": [str(scope) for scope in Scope]}
    return {"authenticated": False, "auth": None, "scopes": []}


@bp.get("/docs")
@requires(None)
@bp.doc(responses={200: {"description": "The API reference page (HTML)", "content": {"text/html": {}}}})
def docs() -> Response:
    """The API reference, drawn from ``openapi.json``."""
    return render("platform/api_docs.html", block=None)


@bp.get("/problems")
@requires(None)
@bp.doc(responses={200: {"description": "The problem types (HTML)", "content": {"text/html": {}}}})
def problems() -> Response:
    """What each problem ``type`` of the API's errors means."""
    return render("platform/problems.html", problems=PROBLEM_TYPES)
