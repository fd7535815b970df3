"""Accounts: users with a role and a membership tier."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

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
