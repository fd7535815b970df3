"""Accounts services: registration, sign-in, credentials, remember-me devices, roles."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import re
import secrets
import time
from collections.abc import Collection
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from wm.extensions import cache, db
from wm.models.accounts import RememberToken, Role, Tier, User
from wm.models.base import utcnow
from wm.services import Conflict, DomainError, DomainErrors, Forbidden, NotFound, Origin, contains
from wm.services.governance import audit, latest_event

HANDLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,29}$")
RESERVED_HANDLES = {"admin", "api", "health", "login", "logout", "moderation", "register", "search",
                    "settings", "static", "studio", "support", "weekmotion"}
PASSWORD_MIN = 10
PASSWORD_MAX = 1024


COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[2] / "data" / "common-passwords.txt"
# Runs a person types without thinking: alphabet, digits, keyboard rows and columns.
WALKS = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop",
         "azertyuiop", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p", "qazwsxedcrfvtgbyhnujmikolp")
PASSWORD_HINT = (f"At least {PASSWORD_MIN} characters; not a common password, a keyboard or number run, "
                 "or your handle or email. A few unrelated words make a strong one.")

# Per-account login throttling (ASVS 2.2.1): a few free failures an hour, then each further one
# doubles the wait, so an account sees at most ~15 failures an hour (far under 100).
THROTTLE_WINDOW_SECONDS = 3600
THROTTLE_FREE_FAILURES = 5
THROTTLE_FIRST_DELAY_SECONDS = 30
THROTTLE_MAX_DELAY_SECONDS = 900
THROTTLE_MAX_FAILURES = 100


class InvalidCredentials(DomainError):
    status = 401


class TooManyAttempts(DomainError):
    """Too many recent failed logins for an account; ``retry_after`` says how long to wait."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed attempts to log in to this account; try again in {retry_after} seconds.")
        self.retry_after = retry_after


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


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of the most common passwords, lower-cased."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _is_run(text: str) -> bool:
    """True for a run someone types without thinking: one step up or down the alphabet or a keyboard."""
    if len(text) < 3:
        return False
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    if steps in ({1}, {-1}):
        return True
    return any(text in walk * 2 or text in (walk * 2)[::-1] for walk in WALKS)


def _is_repetition(text: str) -> bool:
    """True for few distinct characters, or one chunk repeated (``abc123abc123``)."""
    return len(set(text)) < 4 or (text + text).find(text, 1) < len(text)


def _follows(a: str, b: str) -> bool:
    """True if ``b`` is what a lazy typist puts after ``a``: the same key, the next letter or digit, a neighbour."""
    return a == b or abs(ord(a) - ord(b)) == 1 or any(a + b in walk or b + a in walk for walk in WALKS)


def _is_predictable(text: str) -> bool:
    """True when all but two characters follow from the one before: runs and walks glued together
    (``abcd1234abcd``, ``12341234``)."""
    return sum(not _follows(a, b) for a, b in itertools.pairwise(text)) <= 2


# Letters people swap for look-alike digits and symbols ("p@ssw0rd"); undone before the list and name checks.
UNLEET = str.maketrans("0134579@$!", "oieastgasi")


def password_problem(password: str, context: Collection[str] = ()) -> str | None:
    """Why ``password`` is too weak, or None; ``context`` holds the handle and email of its account."""
    password = password or ""
    if len(password) < PASSWORD_MIN:
        return f"Use at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"Use at most {PASSWORD_MAX} characters."
    lowered = password.lower()
    plain = lowered.translate(UNLEET)
    # The core without the digits and symbols people tack on: "Password2024!" is "password".
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", lowered) or lowered
    # Without any symbols: "1234567890!" is "1234567890".
    bare = re.sub(r"[\W_]+", "", lowered) or lowered
    if {lowered, plain, core, bare, re.sub(r"[\W_]+", "", plain)} & common_passwords():
        return "That is one of the most common passwords; attackers try it first. Pick something less usual."
    if any(_is_repetition(text) for text in (lowered, core, bare)):
        return "That password repeats itself too much. A few unrelated words make a strong one."
    if any(_is_run(text) or _is_predictable(text) for text in (lowered, core, bare)):
        return "That password is a run of keys or characters. A few unrelated words make a strong one."
    for word in context:
        word = (word or "").lower()
        if len(word) >= 3 and (word in lowered or word in plain or core == word):
            return "Your password must not contain your handle or email address."
    if "weekmotion" in lowered or "weekmotion" in plain:
        return "Your password must not contain the name of this site."
    return None


def check_password_strength(password: str, field: str = "password", context: Collection[str] = ()) -> None:
    """Refuse passwords that are too short, too long, common, patterned or made of the account's own names."""
    problem = password_problem(password, context)
    if problem:
        raise DomainError(problem, field)


def _email_words(email: str) -> list[str]:
    """The parts of an email address a person might reuse in a password."""
    local = (email or "").split("@", 1)[0]
    return [local, *re.split(r"[._+-]", local)]


def _handle_hold_key(handle_key: str) -> str:
    return f"accounts:handle-hold:{handle_key}"


def _ensure_unique(handle_key: str | None = None, email: str | None = None, exclude_id: int | None = None) -> None:
    if handle_key is not None:
        taken = db.session.scalar(select(User.id).where(User.handle_key == handle_key, User.id != (exclude_id or 0)))
        if taken or cache.exists(_handle_hold_key(handle_key)):
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


def _registration_problems(handle: str, email: str, password: str) -> tuple[str, str, list[DomainError]]:
    """Normalize the three fields, collecting every refusal instead of stopping at the first."""
    problems: list[DomainError] = []
    handle, email = handle or "", email or ""
    try:
        handle = normalize_handle(handle)
        _ensure_unique(handle_key=handle.lower())
    except DomainError as exc:
        problems.append(exc)
    try:
        email = normalize_email(email)
    except DomainError as exc:
        problems.append(exc)
    try:
        check_password_strength(password, context=[handle.lstrip("@"), *_email_words(email)])
    except DomainError as exc:
        problems.append(exc)
    return handle, email, problems


def register(handle: str, email: str, password: str, origin: Origin | None = None,
             role: Role = Role.viewer) -> User | None:
    """Create an account; handle and email are unique regardless of case.

    An email address that already has an account creates nothing and returns None, with no
    error: the caller answers exactly as for a new account, so nobody can probe which
    addresses are registered. The owner is told nothing yet (there is no mail sending); the
    attempt is audited on their account, and the handle is held for a day so that trying it
    again does not reveal what happened.
    """
    handle, email, problems = _registration_problems(handle, email, password)
    if problems:
        raise problems[0] if len(problems) == 1 else DomainErrors(problems)
    existing = db.session.scalar(select(User).where(User.email == email))
    if existing is not None:
        hash_password(password)  # spend the time a real registration spends, so timing tells nothing
        cache.set(_handle_hold_key(handle.lower()), 1, ex=24 * 3600)
        audit("account.registration_with_taken_email", "user", existing.id, payload={"handle": handle},
              origin=origin)
        db.session.commit()
        return None
    user = User(handle=handle, handle_key=handle.lower(), email=email, password_hash=hash_password(password),
                role=role, tier=Tier.free)
    db.session.add(user)
    db.session.flush()
    audit("account.created", "user", user.id, actor=user, payload={"handle": handle, "role": role.value},
          origin=origin)
    _commit_unique()
    return user


def _failures_key(subject: str) -> str:
    return "accounts:login-failures:" + hashlib.sha256(subject.encode()).hexdigest()


def _recent_failures(subject: str) -> list[float]:
    """Times of the failed logins of the last hour for ``subject``, oldest first."""
    key = _failures_key(subject)
    cache.zremrangebyscore(key, 0, time.time() - THROTTLE_WINDOW_SECONDS)
    return [score for _, score in cache.zrange(key, 0, -1, withscores=True)]


def _record_failure(subject: str) -> None:
    key = _failures_key(subject)
    cache.zadd(key, {secrets.token_hex(8): time.time()})
    cache.expire(key, THROTTLE_WINDOW_SECONDS)


def login_wait_seconds(subject: str) -> int:
    """How long ``subject`` must wait before its next login attempt is even checked (0: go ahead)."""
    failures = _recent_failures(subject)
    if len(failures) < THROTTLE_FREE_FAILURES:
        return 0
    if len(failures) >= THROTTLE_MAX_FAILURES:
        return math.ceil(failures[0] + THROTTLE_WINDOW_SECONDS - time.time())
    delay = min(THROTTLE_FIRST_DELAY_SECONDS * 2 ** (len(failures) - THROTTLE_FREE_FAILURES),
                THROTTLE_MAX_DELAY_SECONDS)
    return max(0, math.ceil(failures[-1] + delay - time.time()))


def device_mark(user_id: int) -> str:
    """What a device cookie keeps of an account that logged in on it: a keyed hash, since ids are not public."""
    secret = str(current_app.secret_key).encode()
    return hmac.new(secret, f"device-account:{user_id}".encode(), hashlib.sha256).hexdigest()[:24]


def authenticate(login: str, password: str, origin: Origin | None = None,
                 device_id: str | None = None, device_marks: Collection[str] = ()) -> User:
    """The user whose handle or email is ``login`` and whose password is ``password``.

    Failures are throttled per account, whatever address they come from. A device this account
    logged in from before (``device_id`` whose cookie holds its :func:`device_mark`) is throttled
    only by its own failures, so an attacker cannot lock the owner out of the devices they use.
    """
    key = (login or "").strip().lstrip("@").lower()
    user = db.session.scalar(select(User).where((User.handle_key == key) | (User.email == key)))
    account = f"user:{user.id}" if user is not None else f"login:{key[:254]}"
    known = bool(device_id) and user is not None and device_mark(user.id) in device_marks
    device = f"device:{device_id}:{account}" if known else None
    wait = login_wait_seconds(device or account)
    if wait:
        raise TooManyAttempts(wait)
    if user is None or not _password_matches(user, password or ""):
        if user is None:
            _hasher().hash(password or "")  # spend the same time as a real check, so timing tells nothing
            audit("auth.login_failed", "login", key[:64], payload={"reason": "unknown account"}, origin=origin)
        else:
            audit("auth.login_failed", "user", user.id, payload={"reason": "wrong password"}, origin=origin)
        db.session.commit()
        _record_failure(device or account)
        raise InvalidCredentials("That handle or email and password do not match.")
    cache.delete(_failures_key(account))
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


def _sign_out_everywhere(user: User) -> None:
    """End every session and remember-me device of ``user`` (in the caller's transaction)."""
    user.session_generation += 1
    db.session.execute(delete(RememberToken).where(RememberToken.user_id == user.id))


def _remember_hash(validator: str) -> str:
    return hashlib.sha256(validator.encode()).hexdigest()


def issue_remember_token(user: User, origin: Origin | None = None) -> str:
    """A new random remember-me token for one device (the cookie value); only its hash is stored."""
    now = utcnow()
    selector, validator = secrets.token_urlsafe(12), secrets.token_urlsafe(32)
    db.session.execute(delete(RememberToken).where(RememberToken.user_id == user.id, RememberToken.expires_at < now))
    db.session.add(RememberToken(
        user_id=user.id, selector=selector, validator_hash=_remember_hash(validator), created_at=now,
        expires_at=now + timedelta(seconds=current_app.config["WM_REMEMBER_SECONDS"]),
        user_agent=((origin.user_agent if origin else None) or "")[:255]))
    db.session.commit()
    return f"{selector}.{validator}"


def user_from_remember_token(token: str) -> tuple[User, datetime] | None:
    """The user a remember-me cookie stands for and when its password was entered, if the token is valid."""
    selector, _, validator = (token or "").partition(".")
    if not selector or not validator or len(selector) > 32:
        return None
    row = db.session.scalar(select(RememberToken).where(RememberToken.selector == selector))
    if row is None or not hmac.compare_digest(row.validator_hash, _remember_hash(validator)):
        return None
    if row.expires_at <= utcnow():
        forget_remember_token(token)
        return None
    user = db.session.get(User, row.user_id)
    return (user, row.created_at) if user is not None else None


def forget_remember_token(token: str) -> None:
    """Delete a device's remember-me token (at logout), so its cookie no longer works anywhere."""
    selector = (token or "").partition(".")[0]
    if selector:
        db.session.execute(delete(RememberToken).where(RememberToken.selector == selector[:32]))
        db.session.commit()


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
    """Change ``user``'s password after checking the current one; every other session and device is signed out."""
    _require_current_password(user, current_password)
    check_password_strength(new_password, "new_password", context=[user.handle, *_email_words(user.email)])
    user.password_hash = hash_password(new_password)
    _sign_out_everywhere(user)
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
    query = (select(User).where(contains(User.handle_key, text) | contains(User.display_name, text))
             .order_by(User.handle_key).limit(limit))
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
    if user.id != actor.id:
        _sign_out_everywhere(user)  # new privileges start with a new login, never on an old session
    db.session.commit()
    return user


def create_admin(handle: str, email: str, password: str) -> User:
    """Create an admin account (the first one comes from ``wm users create-admin``).

    The operator at the console may learn that an email is taken, unlike a visitor of the register page.
    """
    _ensure_unique(email=normalize_email(email))
    user = register(handle, email, password, role=Role.admin)
    if user is None:
        raise Conflict("An account with that email already exists.", "email")
    return user


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
    if latest_event("user", user.id, ("channel.revoked", "channel.started", "permission.changed")) == "channel.revoked":
        raise Forbidden("An admin closed your channel, so you cannot open it again yourself; ask the site's admins.")
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
    _sign_out_everywhere(user)
    db.session.commit()
    return user
