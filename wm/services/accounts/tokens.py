"""Personal access tokens: created with scopes and an expiry, shown once, stored as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from wm.extensions import db
from wm.models.accounts import AccessToken, Role, Scope, User
from wm.models.base import utcnow
from wm.services import DomainError, DomainErrors, NotFound, Origin
from wm.services.governance import audit
from wm.validation import check_text, has_visible_text

PREFIX = "wmpat_"
EXPIRY_DAYS = (7, 30, 90, 365)
MAX_ACTIVE = 20
NAME_LENGTH = 60
# A token's last use is written at most this often, so an API client's every request is not also a write.
LAST_USE_GRANULARITY = timedelta(minutes=1)
SCOPE_TITLES = {
    Scope.read: "Read: your account, your videos (drafts and encode status too)",
    Scope.upload: "Upload: send videos with tus",
    Scope.manage: "Manage videos: edit details, publish, delete",
}


class InvalidToken(DomainError):
    status = 401


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def scopes_for(user: User) -> list[Scope]:
    """The scopes ``user`` may give a token: reading for everyone, uploading and managing for creators."""
    if user.has_role(Role.creator):
        return list(Scope)
    return [Scope.read]


def create_token(user: User, name: str, scopes: Collection[str], days: int,
                 origin: Origin | None = None) -> tuple[AccessToken, str]:
    """A new token and its secret, which is returned this once and never stored."""
    name = (name or "").strip()
    problems = []
    try:
        # The length first: a megabyte of name is refused without reading every character of it.
        if not 1 <= len(name) <= NAME_LENGTH:
            raise DomainError(f"Give the token a name of 1 to {NAME_LENGTH} characters, e.g. the script that "
                              "uses it.", "name")
        check_text(name, "The name", "name")
        if not has_visible_text(name):
            raise DomainError("Give the token a name you can see: letters or digits, not only invisible marks.",
                              "name")
    except DomainError as exc:
        problems.append(exc)
    allowed = scopes_for(user)
    chosen = sorted({str(scope) for scope in scopes})
    if not chosen:
        problems.append(DomainError("Choose at least one scope.", "scopes"))
    elif any(scope not in Scope.__members__ for scope in chosen):
        problems.append(DomainError(f"Choose scopes from the list: {', '.join(Scope)}.", "scopes"))
    elif any(scope not in allowed for scope in chosen):
        problems.append(DomainError(f"Your account can give only these scopes: {', '.join(allowed)}.", "scopes"))
    if days not in EXPIRY_DAYS:
        problems.append(DomainError(f"A token lasts {', '.join(map(str, EXPIRY_DAYS[:-1]))} or {EXPIRY_DAYS[-1]} "
                                    "days: choose one of those.", "days"))
    if problems:
        raise DomainErrors(problems)
    now = utcnow()
    active = db.session.scalar(select(func.count()).select_from(AccessToken).where(
        AccessToken.user_id == user.id, AccessToken.revoked_at.is_(None), AccessToken.expires_at > now))
    if active >= MAX_ACTIVE:
        raise DomainError(f"You have {MAX_ACTIVE} active tokens; revoke one you no longer use first.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = AccessToken(public_id=secrets.token_urlsafe(9)[:12], user_id=user.id, name=name,
                        secret_hash=_hash(secret), hint=secret[:len(PREFIX) + 4], scopes=" ".join(chosen),
                        created_at=now, expires_at=now + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    audit("token.created", "access_token", token.public_id, actor=user,
          payload={"name": name, "scopes": chosen, "days": days}, origin=origin)
    db.session.commit()
    return token, secret


def list_tokens(user: User) -> list[AccessToken]:
    """``user``'s tokens that still work or ended in the last 30 days, newest first."""
    since = utcnow() - timedelta(days=30)
    query = (select(AccessToken).where(AccessToken.user_id == user.id,
                                       func.coalesce(AccessToken.revoked_at, AccessToken.expires_at) > since)
             .order_by(AccessToken.id.desc()))
    return list(db.session.scalars(query))


def revoke_token(user: User, public_id: str, origin: Origin | None = None) -> AccessToken:
    """End one of ``user``'s tokens at once (revoking an ended token changes nothing)."""
    token = db.session.scalar(select(AccessToken).where(AccessToken.public_id == public_id,
                                                         AccessToken.user_id == user.id))
    if token is None:
        raise NotFound("There is no such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit("token.revoked", "access_token", token.public_id, actor=user, payload={"name": token.name},
              origin=origin)
        db.session.commit()
    return token


def authenticate_token(secret: str, origin: Origin) -> AccessToken:
    """The live token ``secret`` stands for (with its user), noting its use; a first use from an address is audited."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        raise InvalidToken("The bearer token is not a Weekmotion access token.")
    token = db.session.scalar(select(AccessToken).options(joinedload(AccessToken.user))
                             .where(AccessToken.secret_hash == _hash(secret)))
    now = utcnow()
    if token is None or not token.is_active(now):
        raise InvalidToken("The access token is unknown, expired or revoked.")
    new_address = token.last_used_ip != origin.ip_address
    if new_address or token.last_used_at is None or now - token.last_used_at >= LAST_USE_GRANULARITY:
        token.last_used_at = now
        token.last_used_ip = origin.ip_address
        if new_address:
            audit("token.used_from_new_address", "access_token", token.public_id, actor=token.user,
                  payload={"name": token.name}, origin=origin)
        db.session.commit()
    return token


def is_expiring_soon(token: AccessToken, now: datetime | None = None) -> bool:
    """True for a live token that ends within three days (the settings page says so)."""
    now = now or utcnow()
    return token.is_active(now) and token.expires_at - now < timedelta(days=3)
