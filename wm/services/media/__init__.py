"""Media services: videos, their uploads, encoding and publishing."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import Select, and_, func, or_, select

from wm.extensions import db
from wm.models.accounts import Role, User
from wm.models.base import utcnow
from wm.models.media import DESCRIPTION_MAX, TITLE_MAX, AccessTier, Video, VideoState, Visibility
from wm.queues import enqueue_after_commit
from wm.services import Conflict, DomainError, DomainErrors, NotFound, Origin, contains
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


def owned_video(owner: User, public_id: str, staff: bool = True) -> Video:
    """``owner``'s video with ``public_id``; another creator's video is "not found", never "forbidden".

    An admin manages any video when ``staff`` (a session); an access token acts only on its holder's own.
    """
    video = get_video(public_id)
    if video.owner_id != owner.id and not (staff and owner.has_role(Role.admin)):
        raise NotFound("No such video.")
    return video


# Where a page of a newest-first list starts: the (created_at, id) of the last video of the page before.
After = tuple[datetime, int]


def _newest_first(query: Select, after: After | None, limit: int | None) -> list[Video]:
    """``query``'s videos newest first, by (created_at, id); a keyset page after ``after`` when given."""
    if after is not None:
        created_at, video_id = after
        query = query.where(or_(Video.created_at < created_at,
                                and_(Video.created_at == created_at, Video.id < video_id)))
    query = query.order_by(Video.created_at.desc(), Video.id.desc())
    return list(db.session.scalars(query if limit is None else query.limit(limit)))


def list_own_videos(owner: User, after: After | None = None, limit: int | None = None) -> list[Video]:
    """``owner``'s videos in every state, newest first (all of them, or a page)."""
    return _newest_first(select(Video).where(Video.owner_id == owner.id, Video.deleted_at.is_(None)), after, limit)


def _published(owner_id: int | None) -> Select:
    query = select(Video).where(Video.state == VideoState.ready, Video.visibility == Visibility.published,
                                Video.deleted_at.is_(None))
    return query if owner_id is None else query.where(Video.owner_id == owner_id)


def published_videos(owner_id: int | None = None, limit: int = 24, after: After | None = None,
                     title: str | None = None, tier: AccessTier | None = None,
                     long: bool | None = None) -> list[Video]:
    """Ready, published videos, newest first (of one creator, or of everyone), optionally those whose title
    contains ``title``, of one access tier, or long (or short) ones only."""
    query = _published(owner_id)
    if title:
        query = query.where(contains(Video.title, title))
    if tier is not None:
        query = query.where(Video.access_tier == tier)
    if long is not None:
        query = query.where(Video.is_long.is_(long))
    return _newest_first(query, after, limit)


def published_count(owner_id: int) -> int:
    """How many videos a creator has published (and are ready)."""
    return db.session.scalar(_published(owner_id).with_only_columns(func.count(Video.id)))


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


def visible_video(public_id: str, viewer: User | None) -> Video:
    """The video with ``public_id`` if ``viewer`` (None: anyone) may see it; else "not found", as if there were none."""
    video = get_video(public_id)
    check_can_view(video, viewer)
    return video


def _title(text: str) -> str:
    title = text.strip()
    if not title:
        raise DomainError("Give the video a title.", "title")
    if len(title) > TITLE_MAX:
        raise DomainError(f"Titles are at most {TITLE_MAX} characters.", "title")
    return check_text(title, "The title", "title")


def _description(text: str) -> str:
    if len(text) > DESCRIPTION_MAX:
        raise DomainError(f"Descriptions are at most {DESCRIPTION_MAX} characters.", "description")
    return check_text(text, "The description", "description", multiline=True).strip()


def _visibility(text: str) -> Visibility:
    try:
        return Visibility(text)
    except ValueError:
        raise DomainError(f"The visibility is one of {', '.join(Visibility)}.", "visibility") from None


def _access_tier(text: str) -> AccessTier:
    try:
        return AccessTier(text)
    except ValueError:
        raise DomainError(f"Who can watch is one of {', '.join(AccessTier)}.", "access_tier") from None


def update_details(owner: User, public_id: str, title: str | None = None, description: str | None = None,
                   visibility: str | None = None, tier: str | None = None, origin: Origin | None = None,
                   staff: bool = True) -> Video:
    """Edit a video's title, description, visibility and access tier (``None`` keeps that one as it is)."""
    video = owned_video(owner, public_id, staff)
    changes, problems = {}, []
    for name, text, parse in (("title", title, _title), ("description", description, _description),
                              ("visibility", visibility, _visibility), ("access_tier", tier, _access_tier)):
        if text is None:
            continue
        try:
            changes[name] = parse(text)
        except DomainError as exc:
            problems.append(exc)
    if problems:
        raise problems[0] if len(problems) == 1 else DomainErrors(problems)
    if changes.get("visibility", video.visibility) is not Visibility.draft:
        check_publishable(video)
    newly_published = video.visibility is not Visibility.published and changes.get("visibility") is Visibility.published
    for name, value in changes.items():
        setattr(video, name, value)
    if newly_published:
        audit("content.published", "video", video.public_id, actor=owner, origin=origin)
    db.session.commit()
    return video


def delete_video(owner: User, public_id: str, origin: Origin | None = None, staff: bool = True) -> None:
    """Hide a video now and queue the removal of its files."""
    video = owned_video(owner, public_id, staff)
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
        raise Conflict("This video could not be processed, so it cannot be shown to anyone; upload it again.",
                       "visibility")


def publish(owner: User, public_id: str, origin: Origin | None = None, staff: bool = True) -> Video:
    """Publish ``owner``'s video: it shows in the feed as soon as it is ready (at once if it is)."""
    video = owned_video(owner, public_id, staff)
    check_publishable(video)
    video.visibility = Visibility.published
    audit("content.published", "video", video.public_id, actor=owner, origin=origin)
    db.session.commit()
    return video
