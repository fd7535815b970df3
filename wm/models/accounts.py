"""Accounts: users with a role and a membership tier."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wm.extensions import db
from wm.models.base import UTCDateTime, utcnow


class Role(enum.StrEnum):
    """What a user may do, from least to most trusted."""

    viewer = "viewer"
    creator = "creator"
    moderator = "moderator"
    admin = "admin"


class Tier(enum.StrEnum):
    """Membership tier; ``pro`` unlocks pro-tier content."""

    free = "free"
    pro = "pro"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handle: Mapped[str] = mapped_column(String(30))
    handle_key: Mapped[str] = mapped_column(String(30), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), default=Role.viewer)
    tier: Mapped[Tier] = mapped_column(Enum(Tier, native_enum=False, length=16), default=Tier.free)
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def get_id(self) -> str:
        """Flask-Login id: bumping ``session_generation`` signs out every other session."""
        return f"{self.id}:{self.session_generation}"

    def has_role(self, *roles: Role) -> bool:
        """True if the user holds one of ``roles``; admins hold every role."""
        return self.role is Role.admin or self.role in roles

    @property
    def name(self) -> str:
        return self.display_name or self.handle

    def __repr__(self) -> str:
        return f"<User @{self.handle} {self.role.value}>"


class RememberToken(db.Model):
    """One device's "keep me logged in" token: the cookie holds ``selector.validator``, the row its hash."""

    __tablename__ = "remember_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(32), unique=True)
    validator_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(255), default="")


class Scope(enum.StrEnum):
    """What a personal access token may do on the API (a session may do all of them)."""

    read = "read"
    upload = "upload"
    manage = "manage"


class AccessToken(db.Model):
    """A personal access token for the API: the holder sends ``wmpat_<secret>``, the row keeps its SHA-256."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(User)

    @property
    def scope_set(self) -> frozenset[Scope]:
        return frozenset(Scope(name) for name in self.scopes.split() if name in Scope.__members__)

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``, as the settings page shows it."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.expires_at > now else "expired"
