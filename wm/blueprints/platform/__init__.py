"""Platform operations: health, and the gates nginx asks before it takes an upload body or an API call."""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, make_response, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from wm.api import PROBLEM_MIMETYPE, accepts_token, current_token
from wm.extensions import limiter
from wm.models.accounts import Role, Scope
from wm.services.platform import health_report
from wm.web import problem

bp = Blueprint("platform", __name__)


def viewer_is_admin() -> bool:
    """True for a signed-in admin; False also when the account cannot be loaded (the database may be down)."""
    try:
        return bool(current_user.is_authenticated and current_user.has_role(Role.admin))
    except Exception:  # loading the user needs the database, which may be what is down
        return False


@bp.get("/health")
@limiter.exempt
def health() -> Response:
    """Health of the database and Redis, 503 when either is down; the details only for admins."""
    report = health_report()
    body = report if viewer_is_admin() else {"status": report["status"]}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if report["status"] == "ok" else 503


def _let_through() -> Response:
    response = make_response("", 204)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_request
def gate_refusal_headers(response: Response) -> Response:
    """nginx's ``auth_request`` keeps a gate's status and headers only: a refusal's problem type and detail go
    there too, for nginx's own problem+json answer (the detail JSON-escaped, as nginx writes it in verbatim)."""
    if request.path.startswith("/_edge/") and response.mimetype == PROBLEM_MIMETYPE:
        body = response.get_json()
        response.headers["X-Gate-Type"] = body["type"]
        response.headers["X-Gate-Detail"] = json.dumps(body["detail"])[1:-1]
    return response


def _refuse_non_creator() -> Response | None:
    if not current_user.is_authenticated:
        return problem(401, "Log in first, or send Authorization: Bearer with an access token of the upload scope.")
    if not current_user.has_role(Role.creator):
        return problem(403, "Only creators upload videos.")
    return None


@bp.get("/_edge/upload-gate")
@limiter.exempt
@accepts_token(Scope.upload)
def upload_gate() -> Response:
    """nginx's ``auth_request`` before it stores an upload body: 204 for a creator with a valid CSRF token,
    or with an access token of the upload scope (which needs no CSRF token: it is no ambient credential).

    A bad token or one without that scope is refused before this runs (``wm.api``), in the same problem terms."""
    has_body = request.headers.get("X-Original-Content-Length", "0") not in ("", "0") or bool(
        request.headers.get("X-Original-Transfer-Encoding"))
    if request.headers.get("X-Original-Method") == "OPTIONS" and not has_body:
        return _let_through()  # tus discovery needs no account, as long as it brings nothing to store
    refusal = _refuse_non_creator()
    if refusal is not None:
        return refusal
    if current_token() is not None:
        return _let_through()
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError as exc:
        return problem(403, f"Send the page's X-CSRFToken header with a session request ({exc}).", "csrf")
    return _let_through()


@bp.get("/_edge/form-upload-gate")
@limiter.exempt
def form_upload_gate() -> Response:
    """nginx's ``auth_request`` before it stores a studio form upload: 204 for a creator.

    A form post carries its CSRF token in the body, which the app checks once nginx has taken it.
    """
    return _refuse_non_creator() or _let_through()
