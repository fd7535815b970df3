"""The one way a view handles a form: validate, call the service, map refusals onto fields, show it again.

A form that cannot be processed is never replaced by an error page: an expired CSRF token or a
rate limit re-renders the same form, with what the user typed and a message saying what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Response, current_app, g, request
from flask_wtf import FlaskForm

from wm.extensions import limiter
from wm.services import DomainError
from wm.web import error_page, form_error_status, render

T = TypeVar("T")

EXPIRED_MESSAGE = ("The form expired or was not sent from this site. We kept what you typed "
                   "(except passwords): check it and submit it again.")


@dataclass(frozen=True)
class Refusal:
    """Why a form view is being shown again before it could run, and with which status."""

    message: str
    status: int


@dataclass(frozen=True)
class Submission(Generic[T]):
    """The outcome of :func:`submit`: ``ok`` with the service's result, or the form to show again."""

    ok: bool
    value: T | None = None


def form_view(view: Callable) -> Callable:
    """Mark a view as a form view, so CSRF failures and rate limits re-render its form instead of an error page."""
    view.wm_form_view = True  # type: ignore[attr-defined]
    return view


def is_form_view(endpoint: str | None) -> bool:
    """True if ``endpoint``'s view was marked with :func:`form_view`."""
    view = current_app.view_functions.get(endpoint or "")
    return bool(getattr(view, "wm_form_view", False))


@limiter.request_filter
def _showing_form_again() -> bool:
    # The view runs a second time only to draw its form; that must not count (or trip) a limit again.
    return "wm_form_refusal" in g


def reshow_form(message: str, status: int, retry_after: int | None = None) -> Response:
    """Run the current form view again, so it draws its form with the posted values and ``message``."""
    g.wm_form_refusal = Refusal(message, status)
    g.wm_retry_after = retry_after
    view = current_app.view_functions[request.endpoint]
    try:
        return current_app.make_response(current_app.ensure_sync(view)(**(request.view_args or {})))
    except DomainError as exc:  # raised inside an error handler, nothing else would catch it
        return error_page(exc.status, exc.message)


def attach_error(form: FlaskForm, exc: DomainError) -> None:
    """Show a domain error beside the field it names (each, for several), or above the form."""
    for error in exc.refusals:
        field = form._fields.get(error.field) if error.field else None
        if field is not None:
            field.errors = [*field.errors, error.message]
        else:
            form.form_errors.append(error.message)


def submit(form: FlaskForm, action: Callable[[], T]) -> Submission[T]:
    """Validate a posted ``form`` and run ``action``; on a refusal, put the reasons on the form."""
    refusal: Refusal | None = g.get("wm_form_refusal")
    if refusal is not None:
        form.form_errors.append(refusal.message)
        return Submission(False)
    if not form.validate_on_submit():
        return Submission(False)
    try:
        return Submission(True, action())
    except DomainError as exc:
        attach_error(form, exc)
        if exc.status == 429:
            g.wm_form_status, g.wm_retry_after = 429, getattr(exc, "retry_after", None)
        return Submission(False)


def form_status(form: FlaskForm) -> int:
    """200 for a fresh form; a form shown again gets 422 (htmx, which swaps it) or 400, or 429 when throttled."""
    refusal: Refusal | None = g.get("wm_form_refusal")
    if refusal is not None:
        return refusal.status
    if not form.is_submitted():
        return 200
    return g.get("wm_form_status") or form_error_status()


def render_form(template: str, form: FlaskForm, block: str = "form", name: str = "form", **context: Any) -> Response:
    """Render a form page (or its form block for htmx) with the status that fits ``form``'s state."""
    status = form_status(form)
    response = render(template, block=block, status=status, **{name: form}, **context)
    retry_after = g.get("wm_retry_after")
    if status == 429 and retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response
