"""Media services: videos, their uploads, encoding and publishing."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from wm.extensions import db
from wm.models.accounts import Role, User
from wm.models.base import utcnow
from wm.models.media import AccessTier, Video, VideoState, Visibility
from wm.queues import enqueue_after_commit
from wm.services import DomainError, NotFound, Origin
from wm.services.governance import audit
from wm.validation import check_text

PUBLIC_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"


def new_public_id() -> str:
    """An unguessable 11-character id (66 random bits), like the ones video sites use."""
    return "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(11))


def uploads_dir() -> Path:
    """Where tus uploads collect their bytes (shared by the web and worker processes)."""
    folder = Path(current_app.config["WM_VAR_DIR"]) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def get_video(public_id: str, include_deleted: bool = False) -> Video:
    """The video with ``public_id``."""
    video = db.session.scalar(select(Video).where(Video.public_id == public_id))
    if video is None or (video.deleted_at is not None and not include_deleted):
        raise NotFound("No such video.")
    return video


def owned_video(owner: User, public_id: str) -> Video:
    """``owner``'s video with ``public_id``; another creator's video is "not found", never "forbidden"."""
    video = get_video(public_id)
    if video.owner_id != owner.id and not owner.has_role(Role.admin):
        raise NotFound("No such video.")
    return video


def list_own_videos(owner: User) -> list[Video]:
    """``owner``'s videos, newest first."""
    query = (select(Video).where(Video.owner_id == owner.id, Video.deleted_at.is_(None))
             .order_by(Video.created_at.desc(), Video.id.desc()))
    return list(db.session.scalars(query))


def published_videos(owner_id: int | None = None, limit: int = 24) -> list[Video]:
    """Ready, published videos, newest first (of one creator, or of everyone)."""
    query = select(Video).where(Video.state == VideoState.ready, Video.visibility == Visibility.published,
                                Video.deleted_at.is_(None))
    if owner_id is not None:
        query = query.where(Video.owner_id == owner_id)
    return list(db.session.scalars(query.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit)))


def used_bytes(owner_id: int) -> int:
    """Storage a creator uses: sources (announced lengths of uploads still arriving) and encodes."""
    stored = db.session.scalar(select(func.coalesce(func.sum(Video.source_bytes + Video.stored_bytes), 0))
                               .where(Video.owner_id == owner_id, Video.deleted_at.is_(None)))
    return int(stored or 0)


def can_watch_whole(video: Video, viewer: User | None) -> bool:
    """Pro videos play whole only for pro members, their owner and staff; others get the preview."""
    if video.access_tier is AccessTier.free:
        return True
    if viewer is None:
        return False
    return viewer.id == video.owner_id or viewer.tier.value == "pro" or viewer.has_role(Role.moderator)


def check_can_view(video: Video, viewer: User | None) -> None:
    """Drafts and private videos are visible to their owner (and staff) only."""
    if video.visibility in (Visibility.published, Visibility.unlisted):
        return
    if viewer is not None and (viewer.id == video.owner_id or viewer.has_role(Role.moderator)):
        return
    raise NotFound("No such video.")


def update_details(owner: User, public_id: str, title: str, description: str, visibility: str, tier: str) -> Video:
    """Edit a video's title, description, visibility and access tier."""
    video = owned_video(owner, public_id)
    title = (title or "").strip()
    if not title:
        raise DomainError("Give the video a title.", "title")
    if len(title) > 200:
        raise DomainError("Titles are at most 200 characters.", "title")
    if len(description or "") > 5000:
        raise DomainError("Descriptions are at most 5000 characters.", "description")
    check_text(title, "The title", "title")
    check_text(description or "", "The description", "description", multiline=True)
    try:
        video.visibility, video.access_tier = Visibility(visibility), AccessTier(tier)
    except ValueError:
        raise DomainError("Unknown visibility or tier.") from None
    if video.visibility is not Visibility.draft:
        check_publishable(video)
    video.title, video.description = title, (description or "").strip()
    db.session.commit()
    return video


def delete_video(owner: User, public_id: str, origin: Origin | None = None) -> None:
    """Hide a video now and queue the removal of its files."""
    video = owned_video(owner, public_id)
    video.deleted_at = utcnow()
    audit("content.deleted", "video", video.public_id, actor=owner, origin=origin)
    enqueue_after_commit("maintenance", "jobs.media.hard_delete", video.id)
    db.session.commit()


def set_state(video_id: int, state: VideoState, reason: str | None = None, **fields) -> None:
    """Move a video to ``state`` in a transaction of its own."""
    video = db.session.get(Video, video_id)
    video.state, video.failure_reason = state, reason
    for name, value in fields.items():
        setattr(video, name, value)
    db.session.commit()



def check_publishable(video: Video) -> None:
    """Only a video that is ready or on its way there can be shown to others; a failed one cannot."""
    if video.state is VideoState.failed:
        raise DomainError("This video could not be processed, so it cannot be shown to anyone; upload it again.",
                          "visibility")


def publish(owner: User, public_id: str, origin: Origin | None = None) -> Video:
    """Publish ``owner``'s video: it shows in the feed as soon as it is ready (at once if it is)."""
    video = owned_video(owner, public_id)
    check_publishable(video)
    video.visibility = Visibility.published
    audit("content.published", "video", video.public_id, actor=owner, origin=origin)
    db.session.commit()
    return video
