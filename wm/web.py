"""HTTP helpers every blueprint shares: page-or-fragment rendering, auth decorators, errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from wm.extensions import login_manager
from wm.models.accounts import Role
from wm.services import DomainError, Origin

__all__ = [
    "BoundedIntConverter",
    "fragment_of",
    "is_htmx",
    "login_required",
    "origin",
    "query_int",
    "redirect_to",
    "redirect_url",
    "render",
    "role_required",
    "wants_fragment",
]

# The largest id or count a database column holds (signed BIGINT); bigger numbers are never valid input.
MAX_INT = 2**63 - 1


class BoundedIntConverter(IntegerConverter):
    """The ``int`` URL converter, limited to ASCII digits and to what a BIGINT column holds (else 404)."""

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_INT,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def query_int(name: str, default: int, minimum: int = 1, maximum: int = 10**6) -> int:
    """An integer query parameter between ``minimum`` and ``maximum``; anything else is a clear 400."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or not minimum <= int(value) <= maximum:
        abort(400, f"The {name} parameter must be a whole number from {minimum} to {maximum}.")
    return int(value)


@lru_cache(maxsize=256)
def _content_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def static_url(filename: str) -> str:
    """URL of a static file with its content hash, so the edge may cache it for a year."""
    path = Path(current_app.static_folder or "") / filename
    return url_for("static", filename=filename, v=_content_hash(str(path)))


def is_htmx() -> bool:
    """True for any request htmx sent."""
    return request.headers.get("HX-Request") == "true"


def is_api_request() -> bool:
    """Whether the request is for the JSON API (answered in JSON and problems, never pages or redirects)."""
    return request.path.startswith("/api/")


def wants_fragment() -> bool:
    """The one place that decides page or fragment, for every response (errors included).

    A fragment only for a targeted htmx request; a boosted navigation and a history restore get the
    whole page, which htmx swaps into ``<body>``.
    """
    return (is_htmx() and request.headers.get("HX-Boosted") != "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def fragment_of(page_endpoint: str) -> Callable:
    """Serve a fragment-only view to targeted htmx requests; anything else gets ``page_endpoint``'s whole page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not wants_fragment():
                return current_app.view_functions[page_endpoint](*args, **kwargs)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def render(template: str, block: str | None = "content", status: int = 200, **context: Any) -> Response:
    """Render ``template`` whole, or only its ``block`` when htmx asked for a fragment.

    ``block=None`` is for templates that are fragments themselves: always rendered whole.
    """
    if block is not None and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def public_url(url: str) -> str:
    """``url`` (a path, or an absolute URL kept as it is) on the site's public address ``WM_PUBLIC_URL``, never
    on the Host a request claims (which nginx passes on as the client sent it)."""
    return urljoin(current_app.config["WM_PUBLIC_URL"] + "/", url)


def public_url_for(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, ...)`` on the site's public address (see ``public_url``)."""
    return public_url(url_for(endpoint, **values))


def redirect_to(endpoint: str, **values: Any) -> Response:
    """Redirect to an endpoint after a successful post."""
    return redirect_url(url_for(endpoint, **values))


def redirect_url(url: str) -> Response:
    """Redirect after a successful post; an htmx fragment request gets ``HX-Redirect`` instead."""
    if wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def form_error_status() -> int:
    """Validation errors: 422 for htmx (configured to swap), 400 for plain posts."""
    return 422 if is_htmx() else 400


def origin() -> Origin:
    """The request's address and user agent, for the audit log."""
    return Origin(ip_address=request.remote_addr, user_agent=request.user_agent.string or None)


def role_required(*roles: Role) -> Callable:
    """Require a signed-in user holding one of ``roles`` (admins pass every check)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.has_role(*roles):
                if Role.creator in roles and current_user.role is Role.viewer and not is_api_request():
                    # A viewer is one step away from the studio: show that step instead of a dead end.
                    return redirect_url(url_for("studio.start"))
                return error_page(403, "You do not have access to this page.")
            return view(*args, **kwargs)

        return wrapped

    return decorator


@login_manager.unauthorized_handler
def _unauthorized() -> Response:
    if is_api_request():
        return error_page(401, "Log in first.")
    login_url = url_for("accounts.login", next=request.full_path.rstrip("?"))
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = login_url
        return response
    flash("Please log in to see that page.", "info")
    return redirect(login_url)


ERROR_TITLES = {
    400: "Bad request",
    401: "Log in needed",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Too large",
    415: "Unsupported media type",
    422: "Cannot process",
    429: "Too many requests",
    460: "Checksum mismatch",
    500: "Something went wrong",
    503: "Unavailable",
}

# The API's problem types (RFC 9457): a stable ``type`` for each kind of refusal, with its title (naming the type,
# in the API's words rather than the pages') and what it means, as /api/v1/problems explains it.
PROBLEMS = {
    "bad-request": ("Bad request",
                    "The request is malformed: a header, parameter or body could not be read."),
    "unauthorized": ("Unauthorized",
                     "No valid credentials: log in, or send Authorization: Bearer with a live access token."),
    "invalid-token": ("Invalid token",
                      "The bearer token is unknown, expired or revoked."),
    "forbidden": ("Forbidden",
                  "The caller is known but may not do this (role, ownership or membership)."),
    "insufficient-scope": ("Insufficient scope",
                           "The access token lacks the scope this operation needs; create one that has it."),
    "csrf": ("CSRF token missing",
             "A session request that changes state must carry the page's X-CSRFToken header."),
    "not-found": ("Not found",
                  "There is no such resource, or the caller may not know it exists."),
    "method-not-allowed": ("Method not allowed",
                           "The resource does not answer this HTTP method; the Allow header lists those it does."),
    "conflict": ("Conflict",
                 "The resource's current state does not allow this (e.g. publishing a video that is not ready)."),
    "gone": ("Gone",
             "The resource existed but is no more (e.g. an unfinished upload past its Upload-Expires)."),
    "checksum-mismatch": ("Checksum mismatch",
                          "A tus chunk did not match its Upload-Checksum; it was dropped, so send it again."),
    "too-large": ("Too large",
                  "The request body is larger than this endpoint accepts."),
    "unsupported-media-type": ("Unsupported media type",
                               "The body's Content-Type is not one this endpoint reads (JSON: application/json)."),
    "validation": ("Invalid values",
                   "The request was read but its values break the rules; its errors member names each field."),
    "tus-version": ("Unsupported tus version",
                    "The Tus-Resumable header names a tus version this server does not speak; Tus-Version lists it."),
    "rate-limited": ("Too many requests",
                     "Too many requests from this address or token; wait for Retry-After seconds."),
    "server-error": ("Server error",
                     "Something failed on the server; it has been logged."),
    "unavailable": ("Unavailable",
                    "A service the platform needs is down; try again shortly."),
}
PROBLEM_TYPES = {slug: meaning for slug, (_, meaning) in PROBLEMS.items()}
STATUS_PROBLEMS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                   405: "method-not-allowed", 409: "conflict", 412: "tus-version", 410: "gone", 413: "too-large",
                   415: "unsupported-media-type", 422: "validation", 429: "rate-limited", 460: "checksum-mismatch",
                   500: "server-error", 503: "unavailable"}


def problem_type(slug: str) -> str:
    """The ``type`` URI of a problem: its entry on the API's problem page."""
    return f"/api/v1/problems#{slug}"


def problem_body(status: int, detail: str, slug: str | None = None, **extra: Any) -> dict[str, Any]:
    """The members of a problem (RFC 9457), for the app's answers and for nginx's own alike."""
    slug = slug or STATUS_PROBLEMS.get(status, "bad-request" if status < 500 else "server-error")
    return {"type": problem_type(slug), "title": PROBLEMS[slug][0] if slug in PROBLEMS else "Error", "status": status,
            "detail": detail, **extra}


def problem(status: int, detail: str, slug: str | None = None, **extra: Any) -> Response:
    """An ``application/problem+json`` answer (RFC 9457)."""
    response = make_response(problem_body(status, detail, slug, **extra), status)
    response.mimetype = "application/problem+json"
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(status: int, message: str, slug: str | None = None, **extra: Any) -> Response:
    """An error page, whole or as a fragment that htmx swaps into the main area; a problem on API paths."""
    if is_api_request():
        return problem(status, message, slug, **extra)
    title = ERROR_TITLES.get(status, "Error")
    response = render("errors/error.html", status=status, code=status, title=title, message=message)
    if wants_fragment():
        response.headers["HX-Retarget"] = "#main"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def register_error_handlers(app: Flask) -> None:
    """Turn HTTP errors, CSRF failures and domain errors into error pages."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        from wm.forms import EXPIRED_MESSAGE, is_form_view, reshow_form  # wm.forms builds on this module

        if is_form_view(request.endpoint):
            return reshow_form(EXPIRED_MESSAGE, 400)
        if is_api_request():
            return problem(403, f"Send the page's X-CSRFToken header with a session request: {exc.description}",
                           "csrf")
        return error_page(400, f"The form expired or was not sent from this site ({exc.description}). "
                               "Reload the page and try again.")

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        errors = exc.by_field()
        return error_page(exc.status, exc.message, **({"errors": errors} if errors else {}))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 429:
            message = "You are going a bit fast. Wait a minute and try again."
        else:
            message = exc.description or ERROR_TITLES.get(exc.code or 500, "Error")
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages")  # webargs' validation errors, by location and field
        if errors and is_api_request():
            detail = ("Some values are not valid: see errors." if exc.code == 422
                      else "The body could not be read: see errors.")
            response = problem(exc.code or 400, detail, errors=errors)
        else:
            response = error_page(exc.code or 500, message)
        allow = dict(exc.get_headers()).get("Allow")
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(RecursionError)
    def too_deep(exc: RecursionError) -> Response:
        # Reading a body nested deeper than Python recurses (JSON of 100,000 brackets) is the body's fault.
        return error_page(400, "The request body is nested too deeply to read.")

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_page(500, "The error has been logged. Please try again in a moment.")


# Pages under these prefixes show one account's data even when the view forgot to say so.
PRIVATE_PREFIXES = ("/studio", "/admin", "/moderation", "/settings")

PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
                      "payment=(), usb=(), fullscreen=(self)")


def storage_origin(app: Flask) -> str:
    """The origin media URLs point at when storage is S3 (``''`` for local storage, which is 'self')."""
    if "wm_storage_origin" not in app.extensions:
        origin_ = ""
        if app.config["WM_STORAGE_URL"].startswith("s3:"):
            try:
                url = app.extensions["wm_storage"].url("csp-probe")
            except Exception:  # no AWS credentials yet: fall back to the configured endpoint
                url = dict(parse_qsl(urlsplit(app.config["WM_STORAGE_URL"]).query)).get("endpoint", "")
            parts = urlsplit(url or "")
            origin_ = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
        app.extensions["wm_storage_origin"] = origin_
    return app.extensions["wm_storage_origin"]


def content_security_policy(app: Flask) -> str:
    """No inline script or style; media from this site (hls.js plays ``blob:`` sources) or the S3 endpoint."""
    s3 = storage_origin(app)
    extra = f" {s3}" if s3 else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data:{extra}",
        f"media-src 'self' blob:{extra}",
        f"connect-src 'self'{extra}",
        "worker-src 'self' blob:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _shows_private_data() -> bool:
    # Flask-Login's mark of a signed-in session (also set by a remember-me login); reading it loads no user.
    return "_user_id" in session or request.path.startswith(PRIVATE_PREFIXES)


def register_response_policy(app: Flask) -> None:
    """Security headers on every response, and the htmx history rules, in the app so they hold without nginx."""
    https = app.config["WM_PUBLIC_URL"].startswith("https://")

    @app.after_request
    def response_policy(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(app))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if https:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if "Cache-Control" not in headers and _shows_private_data():
            headers["Cache-Control"] = "no-store"
        if response.mimetype == "text/html":
            # wants_fragment() reads all three: a cache must not hand a fragment to a boosted navigation.
            response.vary.update(("HX-Request", "HX-Boosted", "HX-History-Restore-Request"))
        if request.method not in ("GET", "HEAD") and request.headers.get("HX-Boosted") == "true":
            # htmx would put a boosted form's POST URL in the address bar, where a reload answers 405;
            # a successful post redirects (and htmx shows the target URL), anything else keeps the form's URL.
            headers.setdefault("HX-Push-Url", "false")
        return response
