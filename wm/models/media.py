"""Media: videos and the resumable uploads that bring their sources in."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wm.extensions import db
from wm.models.base import UTCDateTime, utcnow

TITLE_MAX = 200
DESCRIPTION_MAX = 5000


class Visibility(enum.StrEnum):
    draft = "draft"
    unlisted = "unlisted"
    published = "published"
    private = "private"


class AccessTier(enum.StrEnum):
    free = "free"
    pro = "pro"


class VideoState(enum.StrEnum):
    uploading = "uploading"
    processing = "processing"
    ready = "ready"
    failed = "failed"


class Video(db.Model):
    __tablename__ = "videos"
    __table_args__ = (
        Index("ix_videos_owner_id_created_at", "owner_id", "created_at"),
        # The feed's keyset pages, newest first by (created_at, id): time first, so a deep page is a range read
        # from its cursor on (with state, visibility and deleted_at after it, MariaDB picked a scan from the newest
        # row of the equal prefix instead, 30 times slower at page 400); the filter columns are read from the index.
        Index("ix_videos_listing", "created_at", "id", "state", "visibility", "deleted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(11), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[Visibility] = mapped_column(Enum(Visibility, native_enum=False, length=16),
                                                   default=Visibility.draft)
    access_tier: Mapped[AccessTier] = mapped_column(Enum(AccessTier, native_enum=False, length=16),
                                                    default=AccessTier.free)
    state: Mapped[VideoState] = mapped_column(Enum(VideoState, native_enum=False, length=16),
                                              default=VideoState.uploading)
    failure_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    source_name: Mapped[str] = mapped_column(String(255), default="")
    source_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_long: Mapped[bool] = mapped_column(Boolean, default=False)
    audio_only: Mapped[bool] = mapped_column(Boolean, default=False)
    encode_progress: Mapped[int] = mapped_column(Integer, default=0)
    encode_attempt: Mapped[int] = mapped_column(Integer, default=0)
    published_prefix: Mapped[str | None] = mapped_column(String(120), nullable=True)
    renditions: Mapped[list] = mapped_column(JSON, default=list)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    owner = relationship("User", lazy="joined")

    @property
    def playable(self) -> bool:
        return self.state is VideoState.ready and self.published_prefix is not None and self.deleted_at is None


class Upload(db.Model):
    """One tus upload: bytes land in a local file under ``var/uploads`` until the last one arrives."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    video = relationship("Video", lazy="joined")
