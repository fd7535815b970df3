"""Accounts pages: register, log in and out, settings, public profiles."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm

from wm.blueprints.accounts.forms import EmailForm, LoginForm, PasswordForm, RegisterForm
from wm.extensions import limiter
from wm.services import DomainError, media
from wm.services import accounts as service
from wm.web import form_error_status, login_required, origin, redirect_to, redirect_url, render

bp = Blueprint("accounts", __name__)


def auth_rate_limit() -> str:
    return current_app.config["WM_LOGIN_RATE_LIMIT"]


def safe_next(default: str) -> str:
    """The ``next`` target if it is a path on this site, else ``default``."""
    target = request.values.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def attach_error(form: FlaskForm, exc: DomainError) -> None:
    """Show a domain error beside its field, or above the form when it names none."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(auth_rate_limit, methods=["POST"])
def register() -> Response:
    """Create an account."""
    if current_user.is_authenticated:
        return redirect(url_for("discovery.feed"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = service.register(form.handle.data, form.email.data, form.password.data, origin=origin())
        except DomainError as exc:
            attach_error(form, exc)
        else:
            login_user(user)
            flash(f"Welcome to Weekmotion, @{user.handle}!", "success")
            return redirect_to("discovery.feed")
    status = form_error_status() if form.is_submitted() else 200
    return render("accounts/register.html", block="form", status=status, form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(auth_rate_limit, methods=["POST"])
def login() -> Response:
    """Log in with a handle or an email address."""
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("discovery.feed")))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.login.data, form.password.data, origin=origin())
        except DomainError as exc:
            attach_error(form, exc)
        else:
            login_user(user, remember=form.remember.data)
            flash(f"Logged in as @{user.handle}.", "success")
            return redirect_url(safe_next(url_for("discovery.feed")))
    status = form_error_status() if form.is_submitted() else 200
    return render("accounts/login.html", block="form", status=status, form=form, next=safe_next(""))


@bp.post("/logout")
def logout() -> Response:
    """Log out of this session."""
    if current_user.is_authenticated:
        service.record_logout(current_user, origin=origin())
    logout_user()
    flash("You are logged out.", "info")
    return redirect_to("discovery.feed")


@bp.get("/settings")
@login_required
def settings() -> Response:
    """Account settings: email and password."""
    return render("accounts/settings.html", email_form=EmailForm(prefix="email"),
                  password_form=PasswordForm(prefix="password"))


@bp.post("/settings/email")
@login_required
@limiter.limit(auth_rate_limit)
def settings_email() -> Response:
    """Change the email address (asks for the current password)."""
    form = EmailForm(prefix="email")
    if form.validate_on_submit():
        try:
            service.change_email(current_user, form.current_password.data, form.email.data, origin=origin())
        except DomainError as exc:
            attach_error(form, exc)
        else:
            flash("Your email address is changed.", "success")
            return redirect_to("accounts.settings")
    return render("accounts/settings.html", block="email_form", status=form_error_status(),
                  email_form=form, password_form=PasswordForm(formdata=None, prefix="password"))


@bp.post("/settings/password")
@login_required
@limiter.limit(auth_rate_limit)
def settings_password() -> Response:
    """Change the password (asks for the current one; signs out every other session)."""
    form = PasswordForm(prefix="password")
    if form.validate_on_submit():
        try:
            user = service.change_password(current_user, form.current_password.data, form.new_password.data,
                                           origin=origin())
        except DomainError as exc:
            attach_error(form, exc)
        else:
            login_user(user)
            flash("Your password is changed. Other sessions are signed out.", "success")
            return redirect_to("accounts.settings")
    return render("accounts/settings.html", block="password_form", status=form_error_status(),
                  email_form=EmailForm(formdata=None, prefix="email"), password_form=form)


@bp.get("/@<handle>")
def profile(handle: str) -> Response:
    """A user's public profile."""
    user = service.get_by_handle(handle)
    return render("accounts/profile.html", user=user, videos=media.published_videos(owner_id=user.id))
