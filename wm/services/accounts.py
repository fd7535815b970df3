"""Accounts services: registration, sign-in, credentials, roles."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from wm.extensions import db
from wm.models.accounts import Role, Tier, User
from wm.models.base import utcnow
from wm.services import Conflict, DomainError, Forbidden, NotFound, Origin
from wm.services.governance import audit

HANDLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,29}$")
RESERVED_HANDLES = {"admin", "api", "health", "login", "logout", "moderation", "register", "search",
                    "settings", "static", "studio", "support", "weekmotion"}
PASSWORD_MIN = 10
PASSWORD_MAX = 1024


class InvalidCredentials(DomainError):
    status = 401


def _hasher() -> PasswordHasher:
    return PasswordHasher(**current_app.config["WM_PASSWORD_HASH"])


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher().hash(password)


def _password_matches(user: User, password: str) -> bool:
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalize_handle(handle: str) -> str:
    """Check a handle's form; return it stripped (its case is kept for display)."""
    handle = (handle or "").strip().lstrip("@")
    if not HANDLE_RE.match(handle):
        raise DomainError("Handles are 3 to 30 letters, digits or underscores, starting with a letter.", "handle")
    if handle.lower() in RESERVED_HANDLES:
        raise Conflict("That handle is reserved.", "handle")
    return handle


def normalize_email(email: str) -> str:
    """Check an email address's form; return it lower-cased."""
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise DomainError(f"That email address is not valid: {exc}", "email") from None


def check_password_strength(password: str, field: str = "password") -> None:
    """Refuse passwords that are too short or absurdly long."""
    if len(password or "") < PASSWORD_MIN:
        raise DomainError(f"Use at least {PASSWORD_MIN} characters.", field)
    if len(password) > PASSWORD_MAX:
        raise DomainError(f"Use at most {PASSWORD_MAX} characters.", field)


def _ensure_unique(handle_key: str | None = None, email: str | None = None, exclude_id: int | None = None) -> None:
    if handle_key is not None:
        taken = db.session.scalar(select(User.id).where(User.handle_key == handle_key, User.id != (exclude_id or 0)))
        if taken:
            raise Conflict("That handle is taken.", "handle")
    if email is not None:
        taken = db.session.scalar(select(User.id).where(User.email == email, User.id != (exclude_id or 0)))
        if taken:
            raise Conflict("An account with that email already exists.", "email")


def _commit_unique() -> None:
    """Commit; a unique-index race lost to a concurrent request becomes a clear conflict."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("That handle or email was just taken; pick another.") from None


def register(handle: str, email: str, password: str, origin: Origin | None = None,
             role: Role = Role.viewer) -> User:
    """Create an account; handle and email are unique regardless of case."""
    handle = normalize_handle(handle)
    email = normalize_email(email)
    check_password_strength(password)
    _ensure_unique(handle.lower(), email)
    user = User(handle=handle, handle_key=handle.lower(), email=email, password_hash=hash_password(password),
                role=role, tier=Tier.free)
    db.session.add(user)
    db.session.flush()
    audit("account.created", "user", user.id, actor=user, payload={"handle": handle, "role": role.value},
          origin=origin)
    _commit_unique()
    return user


def authenticate(login: str, password: str, origin: Origin | None = None) -> User:
    """The user whose handle or email is ``login`` and whose password is ``password``."""
    key = (login or "").strip().lstrip("@").lower()
    user = db.session.scalar(select(User).where((User.handle_key == key) | (User.email == key)))
    if user is None:
        _hasher().hash(password or "")  # spend the same time as a real check, so timing tells nothing
        audit("auth.login_failed", "login", key[:64], payload={"reason": "unknown account"}, origin=origin)
        db.session.commit()
        raise InvalidCredentials("That handle or email and password do not match.")
    if not _password_matches(user, password or ""):
        audit("auth.login_failed", "user", user.id, payload={"reason": "wrong password"}, origin=origin)
        db.session.commit()
        raise InvalidCredentials("That handle or email and password do not match.")
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    audit("auth.login", "user", user.id, actor=user, origin=origin)
    db.session.commit()
    return user


def record_logout(user: User, origin: Origin | None = None) -> None:
    """Audit the end of a session."""
    audit("auth.logout", "user", user.id, actor=user, origin=origin)
    db.session.commit()


def load_user(session_id: str) -> User | None:
    """The user behind a Flask-Login id ``"<id>:<generation>"``, if that session is still valid."""
    user_id, _, generation = (session_id or "").partition(":")
    if not (user_id.isdigit() and generation.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_generation != int(generation):
        return None
    return user


def _require_current_password(user: User, current_password: str) -> None:
    if not _password_matches(user, current_password or ""):
        raise InvalidCredentials("Your current password is not right.", "current_password")


def change_email(user: User, current_password: str, new_email: str, origin: Origin | None = None) -> User:
    """Change ``user``'s email address after checking their current password."""
    _require_current_password(user, current_password)
    email = normalize_email(new_email)
    if email == user.email:
        raise DomainError("That is already your email address.", "email")
    _ensure_unique(email=email, exclude_id=user.id)
    audit("account.email_changed", "user", user.id, actor=user, payload={"from": user.email, "to": email},
          origin=origin)
    user.email = email
    _commit_unique()
    return user


def change_password(user: User, current_password: str, new_password: str, origin: Origin | None = None) -> User:
    """Change ``user``'s password after checking the current one; every other session is signed out."""
    _require_current_password(user, current_password)
    check_password_strength(new_password, "new_password")
    user.password_hash = hash_password(new_password)
    user.session_generation += 1
    audit("account.password_changed", "user", user.id, actor=user, origin=origin)
    db.session.commit()
    return user


def get_by_handle(handle: str) -> User:
    """The user with ``handle`` (any case)."""
    user = db.session.scalar(select(User).where(User.handle_key == (handle or "").lower()))
    if user is None:
        raise NotFound("No such account.")
    return user


def search_users(text: str, limit: int = 20) -> list[User]:
    """Accounts whose handle or display name contains ``text``."""
    text = (text or "").strip().lower()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    matches = User.handle_key.like(pattern, escape="\\") | func.lower(User.display_name).like(pattern, escape="\\")
    query = select(User).where(matches).order_by(User.handle_key).limit(limit)
    return list(db.session.scalars(query))


def list_users(page: int = 1, per_page: int = 50):
    """Accounts, newest first, one page at a time."""
    return db.paginate(select(User).order_by(User.id.desc()), page=page, per_page=per_page, error_out=False)


def set_role_and_tier(actor: User, user_id: int, role: str, tier: str, origin: Origin | None = None) -> User:
    """An admin sets another account's role and tier; the change is audited."""
    if not actor.has_role(Role.admin):
        raise Forbidden("Only admins change roles.")
    try:
        new_role, new_tier = Role(role), Tier(tier)
    except ValueError:
        raise DomainError("Unknown role or tier.") from None
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    if user.id == actor.id and new_role is not Role.admin:
        raise DomainError("You cannot remove your own admin role.")
    if (user.role, user.tier) == (new_role, new_tier):
        return user
    audit("permission.changed", "user", user.id, actor=actor,
          payload={"role": [user.role.value, new_role.value], "tier": [user.tier.value, new_tier.value]},
          origin=origin)
    user.role, user.tier = new_role, new_tier
    db.session.commit()
    return user


def create_admin(handle: str, email: str, password: str) -> User:
    """Create an admin account (the first one comes from ``wm users create-admin``)."""
    return register(handle, email, password, role=Role.admin)


# The content policy a viewer accepts to start a channel; its version is kept in the audit record.
CONTENT_POLICY_VERSION = "2026-11"


def start_channel(user: User, accepted_policy: bool, origin: Origin | None = None) -> User:
    """A viewer accepts the content policy and becomes a creator; the change is audited."""
    user = db.session.get(User, user.id)
    if user is None:
        raise NotFound("No such account.")
    if user.has_role(Role.creator):
        return user
    if user.role is not Role.viewer:
        raise DomainError(f"Your account has the {user.role.value} role; ask an admin to add a channel to it.")
    if not accepted_policy:
        raise DomainError("Accept the content policy to start your channel.", field="accept")
    audit("channel.started", "user", user.id, actor=user,
          payload={"role": [user.role.value, Role.creator.value], "policy": CONTENT_POLICY_VERSION}, origin=origin)
    user.role = Role.creator
    db.session.commit()
    return user


def revoke_channel(actor: User, user_id: int, origin: Origin | None = None) -> User:
    """An admin takes a creator's channel away (the account is a viewer again); audited."""
    if not actor.has_role(Role.admin):
        raise Forbidden("Only admins revoke channels.")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    if user.role is not Role.creator:
        raise DomainError(f"@{user.handle} has no channel to revoke.")
    audit("channel.revoked", "user", user.id, actor=actor,
          payload={"role": [user.role.value, Role.viewer.value]}, origin=origin)
    user.role = Role.viewer
    db.session.commit()
    return user
