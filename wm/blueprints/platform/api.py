"""Platform API: who is calling, the API's own documentation, and the monitored status endpoints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

import marshmallow as ma
from flask import Response, current_app
from flask_login import current_user

from wm.api import PROBLEM_MIMETYPE, ProblemSchema, api_blueprint, current_token, deprecated, requires, token_scopes
from wm.blueprints.platform import viewer_is_admin
from wm.models.accounts import Scope
from wm.services import platform
from wm.web import PROBLEM_TYPES, problem, public_url_for, render

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
        "profile_url": public_url_for("accounts.profile", handle=current_user.handle),
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
@deprecated(since=date(2026, 11, 1), sunset=date(2027, 6, 1),
            notice="GET /api/v1/whoami is deprecated and ends on 2027-06-01; use GET /api/v1/me.", link="/api/v1/docs")
@requires(Scope.read)
@bp.response(200, MeSchema)
def whoami():
    """The signed-in account: the early name of /me, kept until its sunset."""
    return _me()


class AuthCheckSchema(ma.Schema):
    authenticated = ma.fields.Boolean(required=True)
    auth = ma.fields.String(required=True, allow_none=True, metadata={"enum": ["session", "token", None]})
    scopes = ma.fields.List(ma.fields.String(), required=True)


def no_store(view: Callable) -> Callable:
    """``Cache-Control: no-store`` on every answer of a monitored endpoint: a poll must reach the app."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        response = current_app.make_response(view(*args, **kwargs))
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


@bp.get("/auth/check")
@requires(None)
@no_store
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
    """The API reference, drawn from `openapi.json`."""
    return render("platform/api_docs.html", block=None)


@bp.get("/problems")
@requires(None)
@bp.doc(responses={200: {"description": "The problem types (HTML)", "content": {"text/html": {}}}})
def problems() -> Response:
    """What each problem `type` of the API's errors means."""
    return render("platform/problems.html", problems=PROBLEM_TYPES)


class FeedVideoSchema(ma.Schema):
    public_id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    channel = ma.fields.String(required=True, metadata={"description": "The handle of the video's channel"})
    created_at = ma.fields.AwareDateTime(required=True, metadata={
        "description": "The video's date, as its watch page shows it; the feed is in this order"})
    watch_url = ma.fields.String(required=True)


class FeedSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok"]})
    videos = ma.fields.List(ma.fields.Nested(FeedVideoSchema), required=True, metadata={
        "description": f"The feed's newest {platform.FEED_SIZE} videos, newest first (empty on a new site)"})


@bp.get("/feed")
@requires(None)
@no_store
@bp.response(200, FeedSchema)
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def feed():
    """Monitored: the feed is being served, with its newest videos; 503 when the database cannot serve it."""
    videos = platform.feed_videos()
    if videos is None:
        return problem(503, "The feed cannot be read from the database now.")
    return {"status": "ok", "videos": [
        {"public_id": video.public_id, "title": video.title, "channel": video.owner.handle,
         "created_at": video.created_at, "watch_url": public_url_for("media.watch", public_id=video.public_id)}
        for video in videos]}


def _check(name: str, **fields: ma.fields.Field) -> type[ma.Schema]:
    """The schema of one check: ``ok``, what only admins see, and ``fields``."""
    admin_only = {"description": "Admins only"}
    return ma.Schema.from_dict({
        "ok": ma.fields.Boolean(required=True),
        "ms": ma.fields.Float(metadata=admin_only),
        "error": ma.fields.String(metadata={"description": "Admins only: why the check failed"}),
        **fields,
    }, name=name)


UPLOAD_CHECKS = {
    "storage": ma.fields.Nested(_check("StorageCheck"), required=True, metadata={
        "description": "A probe object was written to the media storage and deleted"}),
    "uploads": ma.fields.Nested(_check(
        "UploadsCheck",
        free_bytes=ma.fields.Integer(metadata={"description": "Admins only: free space of the uploads folder"}),
        min_free_bytes=ma.fields.Integer(metadata={"description": "Admins only: WM_UPLOAD_MIN_FREE_BYTES"}),
    ), required=True, metadata={"description": "The uploads folder takes a file and has the free space it needs"}),
    "encode": ma.fields.Nested(_check(
        "EncodeCheck",
        workers=ma.fields.Integer(metadata={"description": "Encode workers alive"}),
        queued=ma.fields.Integer(metadata={"description": "Encodes waiting"}),
        oldest_queued_seconds=ma.fields.Float(allow_none=True, metadata={
            "description": "How long the oldest waiting encode has waited (null when none waits)"}),
    ), required=True, metadata={"description": "At least one encode worker is alive"}),
}
UploadChecksSchema = ma.Schema.from_dict(UPLOAD_CHECKS, name="UploadChecks")


class UploadStatusSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok"]})
    checks = ma.fields.Nested(UploadChecksSchema, required=True)


class UploadProblemSchema(ProblemSchema):
    checks = ma.fields.Nested(UploadChecksSchema, required=True)


@bp.get("/upload/status")
@requires(None)
@no_store
@bp.response(200, UploadStatusSchema)
@bp.alt_response(503, schema=UploadProblemSchema, content_type=PROBLEM_MIMETYPE,
                 description="Uploads fail or wait: storage or the uploads folder takes no write (or the folder is "
                             "short of space), or no encode worker is alive")
def upload_status():
    """Monitored: uploads are taken and encoded (storage, the uploads folder, the encode queue and its workers)."""
    report = platform.upload_report()
    shown = report if viewer_is_admin() else platform.public_report(report)
    if report["status"] != "ok":
        failing = ", ".join(name for name, check in report["checks"].items() if not check["ok"])
        return problem(503, f"Uploads cannot be taken or encoded now: {failing} failing.", checks=shown["checks"])
    return shown


class PaymentStatusSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["not_configured"]})
    detail = ma.fields.String(required=True)


@bp.get("/payment/status")
@requires(None)
@no_store
@bp.response(200, PaymentStatusSchema)
def payment_status():
    """Monitored: payments; `not_configured` until this server takes payments."""
    return platform.payment_report()
