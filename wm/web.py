"""HTTP helpers every blueprint shares: page-or-fragment rendering, auth decorators, errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block
from werkzeug.exceptions import HTTPException

from wm.extensions import login_manager
from wm.models.accounts import Role
from wm.services import DomainError, Origin

__all__ = [
    "is_htmx",
    "login_required",
    "origin",
    "redirect_to",
    "redirect_url",
    "render",
    "role_required",
    "wants_fragment",
]


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


def wants_fragment() -> bool:
    """A fragment only for an htmx request that is neither boosted nor a history restore."""
    return (is_htmx() and request.headers.get("HX-Boosted") != "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


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
                return error_page(403, "You do not have access to this page.")
            return view(*args, **kwargs)

        return wrapped

    return decorator


@login_manager.unauthorized_handler
def _unauthorized() -> Response:
    if request.path.startswith("/api/"):
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
    413: "Too large",
    422: "Cannot process",
    429: "Too many requests",
    500: "Something went wrong",
}


def error_page(status: int, message: str) -> Response:
    """An error page, whole or as a fragment that htmx swaps into the main area."""
    title = ERROR_TITLES.get(status, "Error")
    if request.path.startswith("/api/"):
        response = make_response({"type": "about:blank", "title": title, "status": status, "detail": message}, status)
        response.mimetype = "application/problem+json"
        return response
    response = render("errors/error.html", status=status, code=status, title=title, message=message)
    if is_htmx():
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
        return error_page(400, f"The form expired or was not sent from this site ({exc.description}). "
                               "Reload the page and try again.")

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        return error_page(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 429:
            message = "You are going a bit fast. Wait a minute and try again."
        else:
            message = exc.description or ERROR_TITLES.get(exc.code or 500, "Error")
        response = error_page(exc.code or 500, message)
        allow = dict(exc.get_headers()).get("Allow")
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_page(500, "The error has been logged. Please try again in a moment.")
