"""The JSON API's spine, shared by every domain's ``api.py``.

- One OpenAPI 3.1 document generated from the code: routes are flask-smorest blueprints whose marshmallow
  schemas validate each request and describe it (``/api/v1/openapi.json``, read at ``/api/v1/docs``).
- Who calls: the web client's session (with its CSRF token on changes), or a personal access token sent as
  ``Authorization: Bearer wmpat_…``, which only ever opens API routes that declare a scope it holds.
- Every error is ``application/problem+json`` (``wm.web.problem``); every answer says ``X-API-Version``.
- Rate limits per address on every API route, and per token as well.

Adding a resource: in ``wm/blueprints/<domain>/api.py`` make ``bp = api_blueprint("videos", __name__, ...)``,
write views with ``@bp.arguments`` / ``@bp.response`` and ``@requires(scope, roles)``, list ``bp`` in
``wm.blueprints.API_BLUEPRINTS``, and add its rows to the authorization matrix test.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import wraps
from typing import Any, NoReturn

import marshmallow as ma
from flask import Flask, Request, Response, current_app, g, request
from flask import abort as flask_abort
from flask_login import current_user
from flask_smorest import Api, Blueprint, abort
from flask_smorest.utils import prepare_response
from itsdangerous import BadSignature, URLSafeSerializer
from webargs.flaskparser import FlaskParser, is_json_request

from wm.extensions import csrf, limiter
from wm.models.accounts import AccessToken, Role, Scope
from wm.services import DomainError
from wm.services.accounts import tokens
from wm.web import origin, problem

PREFIX = "/api/v1"
API_VERSION = "1"
PROBLEM_MIMETYPE = "application/problem+json"
# Paths where a bearer token is read: the API, and nginx's check before it stores a tus body.
TOKEN_PATHS = (PREFIX + "/", "/_edge/upload-gate")


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(required=True, metadata={"description": "Stable URI of the kind of problem"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    errors = ma.fields.Dict(metadata={"description": "Validation errors by location and field"})


class WeekmotionApi(Api):
    """flask-smorest's Api with problem+json error responses and the app's own error handlers."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        """``wm.web`` already answers every error, as problem+json on API paths."""

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


api = WeekmotionApi()


class ArgumentsParser(FlaskParser):
    """webargs' parser, but a body that a view reads as JSON and is sent as something else is a 415, not ignored."""

    def load_json(self, req: Request, schema: ma.Schema) -> Any:
        if req.content_length and not is_json_request(req):
            flask_abort(415, "Send the body as JSON, with Content-Type: application/json.")
        return super().load_json(req, schema)


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    """A blueprint of API routes under ``/api/v1``, rate-limited per address and per token."""
    blueprint = ApiBlueprint(name, import_name, url_prefix=PREFIX, description=description)
    limiter.limit(lambda: current_app.config["WM_API_RATE_LIMIT"])(blueprint)
    limiter.limit(lambda: current_app.config["WM_API_TOKEN_RATE_LIMIT"], key_func=_token_key,
                  exempt_when=lambda: current_token() is None)(blueprint)
    return blueprint


def _token_key() -> str:
    token = current_token()
    return f"token:{token.public_id}" if token is not None else "token:none"


def current_token() -> AccessToken | None:
    """The live access token this request came with (None for a session, an anonymous request or a bad token).

    Read on first use: the rate limiter asks for it (per-token limits) before ``_authenticate`` runs.
    """
    bearer = _bearer()
    return bearer if isinstance(bearer, AccessToken) else None


def _bearer() -> AccessToken | Response | None:
    """The request's bearer token, or the 401 problem it earns, or None without one; worked out once a request."""
    if "wm_bearer" not in g:
        g.wm_bearer = _read_bearer()
    return g.wm_bearer


def _read_bearer() -> AccessToken | Response | None:
    header = request.headers.get("Authorization")
    if header is None or not request.path.startswith(TOKEN_PATHS):
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer":
        return None  # another scheme (a proxy's Basic auth in front of a staging site) is not ours to read
    if not secret.strip():
        return _unauthenticated()
    try:
        return tokens.authenticate_token(secret.strip(), origin())
    except DomainError as exc:
        response = problem(401, exc.message, "invalid-token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="weekmotion", error="invalid_token"'
        return response


def token_scopes() -> frozenset[Scope]:
    """The scopes the request's token holds that its user's role still allows."""
    token = current_token()
    if token is None:
        return frozenset()
    return token.scope_set & frozenset(tokens.scopes_for(token.user))


def requires(scope: Scope | None, *roles: Role) -> Callable:
    """Declare what a route needs: a token must hold ``scope``; the user (by session or token) one of ``roles``.

    ``scope=None`` opens the route to anyone, signed in or not (a token still needs no scope there).
    """

    signed_in = scope is not None or bool(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if signed_in and not current_user.is_authenticated:
                return _unauthenticated()
            if roles and not current_user.has_role(*roles):
                return problem(403, f"This needs a {' or '.join(roles)} account.")
            return view(*args, **kwargs)

        wrapped._wm_scope = scope  # type: ignore[attr-defined]
        security = [{}] if scope is None else []
        responses = {429: "TOO_MANY_REQUESTS"}
        if signed_in:
            security += [{"session": []}, {"bearer": [str(scope)] if scope else []}]
            responses |= {401: "UNAUTHORIZED", 403: "FORBIDDEN"}
        return Blueprint.doc(security=security, responses=responses)(wrapped)

    return decorator


def answers(*statuses: int) -> Callable:
    """Document the refusals a route may answer besides those of its arguments and ``requires``."""
    return Blueprint.doc(responses={status: http.HTTPStatus(status).name for status in statuses})


def accepts_token(scope: Scope) -> Callable:
    """Let a token holding ``scope`` call a view outside the API blueprints (tus, nginx's upload gate).

    The view checks the user itself; only the token's scope is checked here (in ``_authenticate``).
    """

    def decorator(view: Callable) -> Callable:
        view._wm_scope = scope  # type: ignore[attr-defined]
        return view

    return decorator


def deprecated(since: date, sunset: date, notice: str, link: str | None = None) -> Callable:
    """Mark a route deprecated: ``Deprecation`` (RFC 9745), ``Sunset`` (RFC 8594) and ``X-Deprecation-Notice``.

    The spec's policy: a deprecated route keeps working at least six months after the notice.
    """
    if sunset - since < timedelta(days=182):
        raise ValueError("a deprecated route keeps working at least six months after its notice")
    deprecation = "@" + str(int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp()))
    sunset_header = format_datetime(datetime(sunset.year, sunset.month, sunset.day, tzinfo=UTC), usegmt=True)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            response = current_app.make_response(view(*args, **kwargs))
            response.headers["Deprecation"] = deprecation
            response.headers["Sunset"] = sunset_header
            response.headers["X-Deprecation-Notice"] = notice
            if link:
                response.headers["Link"] = f'<{link}>; rel="deprecation"'
            return response

        return Blueprint.doc(deprecated=True, description=notice)(wrapped)

    return decorator


def _unauthenticated() -> Response:
    response = problem(401, "Log in, or send Authorization: Bearer with an access token.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="weekmotion"'
    return response


def _authenticate() -> Response | None:
    """Read a bearer token on API paths; check CSRF for everything else; refuse a token where it has no use."""
    token = _bearer()
    if token is None:
        # A forged request only matters when it carries someone's session: an anonymous API call gets its 401.
        if not request.path.startswith(PREFIX + "/") or current_user.is_authenticated:
            csrf.protect(apply_exemptions=True)
        return None
    if isinstance(token, Response):
        return token
    # Flask-Login's current_user for this request only (set here, after a remember-me cookie may have signed its
    # device in, so the token's user wins); the session is not touched.
    g._login_user = token.user
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return None  # 404 or 405 follows
    if not hasattr(view, "_wm_scope"):
        return problem(403, "An access token opens only the API's own routes.", "insufficient-scope")
    needed = view._wm_scope
    if needed is not None and needed not in token_scopes():
        response = problem(403, f"This needs a token with the {needed} scope.", "insufficient-scope")
        response.headers["WWW-Authenticate"] = (f'Bearer realm="weekmotion", error="insufficient_scope", '
                                                f'scope="{needed}"')
        return response
    return None


def refuse_fields(location: str, errors: dict[str, list[str]]) -> NoReturn:
    """Answer a 422 problem naming each refused field under ``location``, as webargs' own validation does."""
    abort(422, messages={location: errors})


@contextmanager
def field_errors(location: str = "json") -> Iterator[None]:
    """A service's refusal of named fields (a plain 400 ``DomainError``) becomes a 422 naming them under ``location``;
    other refusals (404, 409, …) pass as they are."""
    try:
        yield
    except DomainError as exc:
        if exc.status != 400 or not all(refusal.field for refusal in exc.refusals):
            raise
        refuse_fields(location, exc.by_field())


class Cursor:
    """Opaque, signed keyset cursors: a page starts after the last row of the one before, stable under inserts.

    A cursor belongs to one listing (a name for the list and its filters): it leads nowhere in another.
    """

    @staticmethod
    def _serializer(listing: str) -> URLSafeSerializer:
        return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"api-cursor:{listing}")

    @classmethod
    def encode(cls, listing: str, *values: Any) -> str:
        return cls._serializer(listing).dumps(list(values))

    @classmethod
    def decode(cls, listing: str, text: str, *types: type) -> tuple:
        """The values ``encode`` was given for ``listing``, each checked against ``types``; a 422 problem for
        anything else (a cursor of another listing included)."""
        try:
            values = cls._serializer(listing).loads(text)
        except BadSignature:
            values = None
        if not isinstance(values, list) or len(values) != len(types) or not all(
                isinstance(value, kind) and not isinstance(value, bool)
                for value, kind in zip(values, types, strict=True)):
            refuse_fields("query", {"cursor": ["The cursor is not one this list gave out; start again without it."]})
        return tuple(values)


class Count(ma.fields.Integer):
    """A whole number written with the ASCII digits 0-9 only (``int()`` would also take "٣" or "1_0")."""

    def _validated(self, value):
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            raise self.make_error("invalid")
        return super()._validated(value)


class PageQuery(ma.Schema):
    """``?cursor=…&limit=…`` of a paginated list."""

    cursor = ma.fields.String(validate=ma.validate.Length(max=400), metadata={
        "description": "The next_cursor of the page before; leave out for the first page"})
    limit = Count(load_default=20, validate=ma.validate.Range(min=1, max=100),
                              metadata={"description": "Items per page (1-100)"})


def page_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page of ``item``: ``{"items": [...], "next_cursor": "…" | null}``."""
    return ma.Schema.from_dict({
        "items": ma.fields.List(ma.fields.Nested(item), required=True),
        "next_cursor": ma.fields.String(required=True, allow_none=True, metadata={
            "description": "Pass as cursor for the next page; null on the last page"}),
    }, name=name)


def init_api(app: Flask, blueprints: list[Blueprint]) -> None:
    """Build the OpenAPI document from ``blueprints`` and hook token auth, CSRF and versioning into the app."""
    app.config.update(API_TITLE="Weekmotion API", API_VERSION="1.0.0", OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX=PREFIX, OPENAPI_JSON_PATH="openapi.json",
                      API_SPEC_OPTIONS={"info": {"description": DESCRIPTION}})
    # The CSRF check runs in _authenticate, which skips it for a request that brings a bearer token.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    api.init_app(app)
    # The document itself is public, to anyone and any token.
    app.view_functions["api-docs.openapi_json"] = requires(None)(app.view_functions["api-docs.openapi_json"])
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                                   "description": "A personal access token (Settings → Access tokens)"})
    api.spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session",
                                                    "description": "The web client's session; changes also need "
                                                                   "its X-CSRFToken header"})
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    app.before_request(_authenticate)

    @app.after_request
    def api_version(response: Response) -> Response:
        if request.path.startswith(PREFIX + "/"):
            response.headers["X-API-Version"] = API_VERSION
            if current_token() is not None:
                # One holder's answer: never kept by a cache (a session's answers are no-store already).
                response.headers["Cache-Control"] = "no-store"
        return response


DESCRIPTION = """The JSON API of a Weekmotion server: the same operations as its pages.

**Auth.** Send `Authorization: Bearer wmpat_…` with a personal access token made under Settings → Access tokens
(scopes `read`, `upload`, `manage`), or use the web session (state changes also need its `X-CSRFToken` header).

**Errors** are `application/problem+json` (RFC 9457); each `type` is listed at `/api/v1/problems`.

**Pages** of lists are keyset cursors: pass `next_cursor` back as `cursor` until it is `null`.

**Uploads** use tus 1.0 at `/api/v1/uploads/` (token scope `upload`).

**Versions.** Every answer carries `X-API-Version`; a deprecated route adds `Deprecation`, `Sunset` and
`X-Deprecation-Notice` at least six months before it goes."""

