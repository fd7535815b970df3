"""Accounts pages: register, log in and out, settings (with access tokens), public profiles."""

from __future__ import annotations

import math
import secrets
import time
from urllib.parse import unquote, urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, flash, g, redirect, request, session, url_for
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from wm.blueprints.accounts.forms import EmailForm, LoginForm, LogoutForm, PasswordForm, RegisterForm, TokenForm
from wm.extensions import limiter
from wm.forms import form_view, render_form, reshow_form, submit
from wm.models.accounts import User
from wm.models.base import utcnow
from wm.services import accounts as service
from wm.services import media
from wm.services.accounts import tokens
from wm.web import login_required, origin, redirect_to, redirect_url, render, wants_fragment

bp = Blueprint("accounts", __name__)

DEVICE_COOKIE = "wm_device"
DEVICE_COOKIE_SECONDS = 180 * 24 * 3600
DEVICE_ACCOUNTS = 5
TOKEN_CREATE_RATE_LIMIT = "10 per hour"
# The session holds a new token's secret only from its creation to the page that shows it (and pops it).
NEW_TOKEN_KEY = "wm_new_token"


def auth_rate_limit() -> str:
    """The per-address limit on posts of the login and account forms."""
    return current_app.config["WM_LOGIN_RATE_LIMIT"]


def local_path(target: str) -> str | None:
    """``target`` if it is a path on this site, else None.

    Browsers drop tabs and newlines inside URLs and read ``\\`` as ``/``, so ``/<tab>/evil`` and
    ``/\\evil`` lead off-site: any control character, space or backslash refuses the target, and so
    does a path that decodes to ``//`` (``/%2F%2Fevil``).
    """
    if not target or len(target) > 2000 or "\\" in target or target.startswith("//"):
        return None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    path = unquote(parts.path)
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
        return None
    if "\\" in path or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return None
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def safe_next(default: str) -> str:
    """The ``next`` target if it is a path on this site, else ``default``."""
    return local_path(request.values.get("next", "")) or default


def _cookie_options() -> dict:
    return {"httponly": True, "secure": current_app.config["SESSION_COOKIE_SECURE"], "samesite": "Lax"}


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="wm-device")


def known_device() -> tuple[str | None, list[str]]:
    """This device's id and the marks of the accounts that logged in on it, from its signed device cookie."""
    try:
        data = _device_serializer().loads(request.cookies.get(DEVICE_COOKIE, ""), max_age=DEVICE_COOKIE_SECONDS)
        return str(data["d"]), [str(mark) for mark in data["a"]]
    except (BadSignature, KeyError, TypeError, ValueError):
        return None, []


def remember_device(response: Response, user: User, device_id: str | None, marks: list[str]) -> None:
    """Mark this device as one ``user`` logs in from, exempting it from that account's login throttle."""
    mark = service.device_mark(user.id)
    marks = [mark, *[other for other in marks if other != mark]][:DEVICE_ACCOUNTS]
    value = _device_serializer().dumps({"d": device_id or secrets.token_urlsafe(16), "a": marks})
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_COOKIE_SECONDS, **_cookie_options())


def start_session(user: User, authenticated_at: float | None = None) -> None:
    """Log ``user`` in on a brand-new session id with a new CSRF token, so no earlier id is worth anything."""
    current_app.session_interface.rotate(session)
    g.pop("csrf_token", None)
    login_user(user)
    session["_auth_at"] = authenticated_at or time.time()


def end_session() -> None:
    """Log out and drop the session's id and content (its CSRF token too)."""
    logout_user()
    current_app.session_interface.rotate(session)
    g.pop("csrf_token", None)


def set_remember_cookie(response: Response, user: User) -> None:
    """Keep this device logged in: a fresh random token of its own, valid ``WM_REMEMBER_SECONDS``."""
    token = service.issue_remember_token(user, origin=origin())
    response.set_cookie(current_app.config["REMEMBER_COOKIE_NAME"], token,
                        max_age=current_app.config["WM_REMEMBER_SECONDS"], **_cookie_options())


def delete_remember_cookie(response: Response) -> None:
    """Forget this device's remember-me cookie."""
    response.delete_cookie(current_app.config["REMEMBER_COOKIE_NAME"], httponly=True,
                           secure=current_app.config["SESSION_COOKIE_SECURE"], samesite="Lax")


@bp.before_app_request
def restore_remembered_login() -> None:
    """Sign a remembered device back in when its session has ended (browser closed, idle timeout)."""
    token = request.cookies.get(current_app.config["REMEMBER_COOKIE_NAME"])
    if not token or "_user_id" in session:
        return
    found = service.user_from_remember_token(token)
    if found is None:
        g.wm_forget_remember_cookie = True
        return
    user, since = found
    start_session(user, authenticated_at=since.timestamp())


@bp.after_app_request
def drop_dead_remember_cookie(response: Response) -> Response:
    """A remember-me cookie that no longer works is removed from the browser."""
    if g.get("wm_forget_remember_cookie"):
        delete_remember_cookie(response)
    return response


@bp.errorhandler(RateLimitExceeded)
def rate_limited(exc: RateLimitExceeded) -> Response:
    """A rate-limited form is drawn again with the time to wait, instead of being replaced by an error page."""
    limit = limiter.current_limit
    wait = max(1, math.ceil(limit.reset_at - time.time())) if limit else 60
    return reshow_form(f"Too many attempts; try again in {wait} seconds.", 429, retry_after=wait)


@bp.route("/register", methods=["GET", "POST"])
@form_view
@limiter.limit(auth_rate_limit, methods=["POST"])
def register() -> Response:
    """Create an account."""
    if current_user.is_authenticated:
        return redirect(url_for("discovery.feed"))
    form = RegisterForm()
    if submit(form, lambda: service.register(form.handle.data, form.email.data, form.password.data,
                                             origin=origin())).ok:
        # The same answer whether the email was new or already had an account (see service.register).
        flash("Your account is ready: log in with your handle or email and your password.", "success")
        return redirect_to("accounts.login")
    return render_form("accounts/register.html", form, password_hint=service.PASSWORD_HINT)


@bp.route("/login", methods=["GET", "POST"])
@form_view
@limiter.limit(auth_rate_limit, methods=["POST"])
def login() -> Response:
    """Log in with a handle or an email address."""
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("discovery.feed")))
    form = LoginForm()
    device_id, device_marks = known_device()
    result = submit(form, lambda: service.authenticate(form.login.data, form.password.data, origin=origin(),
                                                       device_id=device_id, device_marks=device_marks))
    if result.ok and result.value is not None:
        user = result.value
        start_session(user)
        flash(f"Logged in as @{user.handle}.", "success")
        response = redirect_url(safe_next(url_for("discovery.feed")))
        remember_device(response, user, device_id, device_marks)
        if form.remember.data:
            set_remember_cookie(response, user)
        return response
    return render_form("accounts/login.html", form, next=safe_next(""))


@bp.route("/logout", methods=["GET", "POST"])
@form_view
def logout() -> Response:
    """Log out of this session (a GET shows the button that does it)."""
    form = LogoutForm()
    if not form.is_submitted() and not current_user.is_authenticated:
        return redirect(url_for("discovery.feed"))

    def record_logout() -> None:
        if current_user.is_authenticated:
            service.record_logout(current_user, origin=origin())

    if submit(form, record_logout).ok:
        token = request.cookies.get(current_app.config["REMEMBER_COOKIE_NAME"])
        if token:
            service.forget_remember_token(token)
        end_session()
        flash("You are logged out.", "info")
        response = redirect_to("discovery.feed")
        delete_remember_cookie(response)
        return response
    return render_form("accounts/logout.html", form)


@bp.get("/settings")
@login_required
def settings() -> Response:
    """Account settings: email and password."""
    return render("accounts/settings.html", email_form=EmailForm(prefix="email"),
                  password_form=PasswordForm(prefix="password"), password_hint=service.PASSWORD_HINT)


@bp.post("/settings/email")
@form_view
@login_required
@limiter.limit(auth_rate_limit)
def settings_email() -> Response:
    """Change the email address (asks for the current password)."""
    form = EmailForm(prefix="email")
    if submit(form, lambda: service.change_email(current_user, form.current_password.data, form.email.data,
                                                 origin=origin())).ok:
        flash("Your email address is changed.", "success")
        return redirect_to("accounts.settings")
    return render_form("accounts/settings.html", form, block="email_form", name="email_form",
                       password_form=PasswordForm(formdata=None, prefix="password"),
                       password_hint=service.PASSWORD_HINT)


@bp.post("/settings/password")
@form_view
@login_required
@limiter.limit(auth_rate_limit)
def settings_password() -> Response:
    """Change the password (asks for the current one; signs out every other session and device)."""
    form = PasswordForm(prefix="password")
    result = submit(form, lambda: service.change_password(current_user, form.current_password.data,
                                                          form.new_password.data, origin=origin()))
    if result.ok and result.value is not None:
        start_session(result.value)
        flash("Your password is changed. Other sessions and devices are signed out.", "success")
        response = redirect_to("accounts.settings")
        if request.cookies.get(current_app.config["REMEMBER_COOKIE_NAME"]):
            set_remember_cookie(response, result.value)  # this device stays remembered, with a new token
        return response
    return render_form("accounts/settings.html", form, block="password_form", name="password_form",
                       email_form=EmailForm(formdata=None, prefix="email"), password_hint=service.PASSWORD_HINT)


def row_context() -> dict:
    """What a row of the token list needs besides its token: the time, and the scopes the account may use now."""
    return {"now": utcnow(), "allowed": set(tokens.scopes_for(current_user)), "expiring_soon": tokens.is_expiring_soon}


def token_rows() -> dict:
    """The token list and what its rows need."""
    return {"tokens": tokens.list_tokens(current_user), **row_context()}


def token_form() -> TokenForm:
    """The new-token form, with a checkbox for each scope this account may give."""
    form = TokenForm()
    form.offer_scopes(tokens.scopes_for(current_user))
    return form


@bp.get("/settings/tokens")
@login_required
def settings_tokens() -> Response:
    """Personal access tokens for the API: make one (its secret shows this once), see them all, revoke one."""
    response = render("accounts/tokens.html", form=token_form(), new_token=session.pop(NEW_TOKEN_KEY, None),
                      **token_rows())
    response.headers["Cache-Control"] = "no-store"  # the page may hold a secret: no cache keeps a copy
    return response


@bp.post("/settings/tokens")
@form_view
@login_required
@limiter.limit(TOKEN_CREATE_RATE_LIMIT, key_func=lambda: f"tokens:{current_user.id}",
               deduct_when=lambda response: response.status_code < 400)  # a refused form costs nothing
def settings_token_create() -> Response:
    """Make a token, then show its secret once on the tokens page."""
    form = token_form()
    result = submit(form, lambda: tokens.create_token(current_user, form.name.data, form.scopes.data or [],
                                                      form.days.data, origin=origin()))
    if result.ok and result.value is not None:
        token, secret = result.value
        session[NEW_TOKEN_KEY] = {"id": token.public_id, "name": token.name, "secret": secret}
        return redirect_to("accounts.settings_tokens")
    return render_form("accounts/tokens.html", form, block="token_form", new_token=None, **token_rows())


@bp.post("/settings/tokens/<public_id>/revoke")
@login_required
def settings_token_revoke(public_id: str) -> Response:
    """Revoke one of your tokens at once: htmx swaps its row, a plain post comes back to the list."""
    token = tokens.revoke_token(current_user, public_id, origin=origin())
    if wants_fragment():
        return render("accounts/_token_row.html", block=None, token=token, new_token=None, **row_context())
    flash(f"The token “{token.name}” is revoked: anything still using it is refused from now on.", "success")
    return redirect_to("accounts.settings_tokens")


@bp.get("/@<handle>")
def profile(handle: str) -> Response:
    """A user's public profile."""
    user = service.get_by_handle(handle)
    return render("accounts/profile.html", user=user, videos=media.published_videos(owner_id=user.id))
