"""Videos and channels API: the feed's videos, a video with its playback URLs for the caller, the owner's edits,
encode status, and a channel with its videos. The same services as the watch page, the studio and the profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import marshmallow as ma
from flask_login import current_user

from wm.api import (
    Cursor,
    PageQuery,
    answers,
    api_blueprint,
    current_token,
    field_errors,
    page_schema,
    requires,
    token_scopes,
)
from wm.models.accounts import Role, Scope, User
from wm.models.media import DESCRIPTION_MAX, TITLE_MAX, AccessTier, Video, VideoState, Visibility
from wm.services import accounts
from wm.services import media as service
from wm.services.media import playback
from wm.services.media.upload import progress_percent
from wm.validation import MULTILINE_TEXT, SOME_TEXT
from wm.web import origin, public_url, public_url_for

bp = api_blueprint("media_api", __name__, "Videos and channels: the feed, a video and how to play it, a creator's "
                                          "edits, publishing, deleting and encode status.")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class ChannelRefSchema(ma.Schema):
    handle = ma.fields.String(required=True)
    display_name = ma.fields.String(required=True)
    url = ma.fields.String(required=True, metadata={"description": "The channel's page"})


class VideoSchema(ma.Schema):
    public_id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    channel = ma.fields.Nested(ChannelRefSchema, required=True)
    duration = ma.fields.Float(required=True, allow_none=True, metadata={"description": "Seconds; null until probed"})
    access_tier = ma.fields.Enum(AccessTier, by_value=True, required=True,
                                 metadata={"description": "pro: others than pro members see a preview"})
    visibility = ma.fields.Enum(Visibility, by_value=True, required=True)
    state = ma.fields.Enum(VideoState, by_value=True, required=True)
    is_long = ma.fields.Boolean(required=True)
    audio_only = ma.fields.Boolean(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    poster = ma.fields.String(required=True, allow_none=True, metadata={"description": "Signed, expiring image URL"})
    watch_url = ma.fields.String(required=True)
    url = ma.fields.String(required=True, metadata={"description": "This video in the API"})


class PlaybackSchema(ma.Schema):
    hls = ma.fields.String(required=True, metadata={
        "description": "Master playlist (HLS) for the caller: whole, or cut at the preview; needs no credentials "
                       "and expires with the other URLs (6 hours)"})
    mp4 = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "Progressive file (MP4, or M4A for audio), only for callers who may watch it all"})
    poster = ma.fields.String(required=True)
    storyboard = ma.fields.String(required=True, allow_none=True,
                                  metadata={"description": "WebVTT of scrub-bar thumbnails; null for audio"})
    preview_seconds = ma.fields.Integer(required=True, allow_none=True,
                                        metadata={"description": "How much the caller may play; null: all of it"})


class VideoDetailSchema(VideoSchema):
    description = ma.fields.String(required=True)
    width = ma.fields.Integer(required=True, allow_none=True)
    height = ma.fields.Integer(required=True, allow_none=True)
    source_bytes = ma.fields.Integer(required=True, metadata={"description": "Size of the uploaded file"})
    stored_bytes = ma.fields.Integer(required=True, metadata={"description": "Size of the encoded files"})
    failure_reason = ma.fields.String(required=True, allow_none=True)
    playback = ma.fields.Nested(PlaybackSchema, required=True, allow_none=True,
                                metadata={"description": "null until the video is ready"})


VideoPageSchema = page_schema(VideoSchema, "VideoPage")


class VideoListQuery(PageQuery):
    channel = ma.fields.String(validate=ma.validate.Length(max=30), metadata={"description": "A channel's handle"})
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=200),
                         metadata={"description": "Words the title contains (any case)"})
    tier = ma.fields.Enum(AccessTier, by_value=True)
    long = ma.fields.Boolean(metadata={"description": "true: long videos only; false: short ones only"})


class VideoChangesSchema(ma.Schema):
    title = ma.fields.String(validate=[ma.validate.Length(max=TITLE_MAX), ma.validate.Regexp(
        SOME_TEXT, error="A title is one line of text, without control or text-direction characters.")])
    description = ma.fields.String(validate=[ma.validate.Length(max=DESCRIPTION_MAX), ma.validate.Regexp(
        MULTILINE_TEXT, error="A description has no control or text-direction characters (line breaks are fine).")])
    visibility = ma.fields.Enum(Visibility, by_value=True)
    access_tier = ma.fields.Enum(AccessTier, by_value=True)


class StatusSchema(ma.Schema):
    public_id = ma.fields.String(required=True)
    state = ma.fields.Enum(VideoState, by_value=True, required=True)
    progress = ma.fields.Integer(required=True, metadata={
        "description": "Percent of the current state: bytes received while uploading, encoded while processing"})
    failure_reason = ma.fields.String(required=True, allow_none=True)
    watch_url = ma.fields.String(required=True)


class ChannelSchema(ma.Schema):
    handle = ma.fields.String(required=True)
    display_name = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    video_count = ma.fields.Integer(required=True, metadata={"description": "Published videos"})
    url = ma.fields.String(required=True, metadata={"description": "The channel's page"})
    videos = ma.fields.Nested(VideoPageSchema, required=True, metadata={
        "description": "Its newest videos; continue with GET /api/v1/videos?channel=<handle>&cursor=<next_cursor>"})


def reader() -> User | None:
    """The caller as a viewer of what is not public: a session, or a token that may read (else nobody)."""
    if not current_user.is_authenticated or (current_token() is not None and Scope.read not in token_scopes()):
        return None
    return current_user


def absolute(url: str | None) -> str | None:
    """``url`` made absolute on this site (an S3 URL is already)."""
    return None if url is None else public_url(url)


def channel_ref(user: User) -> dict:
    return {"handle": user.handle, "display_name": user.display_name,
            "url": public_url_for("accounts.profile", handle=user.handle)}


def video_item(video: Video) -> dict:
    """What a list shows of a video (the same for every caller)."""
    return {
        "public_id": video.public_id, "title": video.title, "channel": channel_ref(video.owner),
        "duration": video.duration, "access_tier": video.access_tier, "visibility": video.visibility,
        "state": video.state, "is_long": video.is_long, "audio_only": video.audio_only,
        "created_at": video.created_at, "poster": absolute(playback.poster_url(video)),
        "watch_url": public_url_for("media.watch", public_id=video.public_id),
        "url": public_url_for("media_api.video", public_id=video.public_id),
    }


def playback_urls(video: Video, viewer: User | None) -> dict | None:
    """The watch page's player for ``viewer``, as URLs that work without its session (playlists under a grant)."""
    if not video.playable:
        return None
    offer = playback.offer(video, viewer)
    grant = playback.grant(video, offer.whole)
    return {
        "hls": public_url_for("media.master", public_id=video.public_id, grant=grant),
        "mp4": absolute(offer.mp4), "poster": absolute(offer.poster),
        "storyboard": None if video.audio_only else public_url_for("media.storyboard", public_id=video.public_id,
                                                                   grant=grant),
        "preview_seconds": offer.preview_seconds,
    }


def video_detail(video: Video, viewer: User | None) -> dict:
    """A video with everything about it, and how ``viewer`` may play it."""
    return {
        **video_item(video), "description": video.description, "width": video.width, "height": video.height,
        "source_bytes": video.source_bytes, "stored_bytes": video.stored_bytes,
        "failure_reason": video.failure_reason, "playback": playback_urls(video, viewer),
    }


def published_listing(owner_id: int | None, args: dict) -> str:
    """The name of a list of published videos with its filters (a channel's page continues in the same list)."""
    return f"videos:{owner_id}:{args.get('q')}:{args.get('tier')}:{args.get('long')}"


def after(args: dict, listing: str) -> service.After | None:
    """Where the page asked for starts: after the video the cursor names (None: from the newest)."""
    if "cursor" not in args:
        return None
    microseconds, video_id = Cursor.decode(listing, args["cursor"], int, int)
    return EPOCH + microseconds * MICROSECOND, video_id


def page(videos: list[Video], limit: int, listing: str) -> dict:
    """A page of the first ``limit`` of ``videos`` (fetched with one more, to know whether another page follows)."""
    shown = videos[:limit]
    last = shown[-1] if len(videos) > limit else None
    cursor = None if last is None else Cursor.encode(listing, (last.created_at - EPOCH) // MICROSECOND, last.id)
    return {"items": [video_item(video) for video in shown], "next_cursor": cursor}


@bp.get("/videos")
@requires(None)
@bp.arguments(VideoListQuery, location="query")
@bp.response(200, VideoPageSchema)
@answers(404)
def videos(args: dict) -> dict:
    """Published videos, newest first: the feed, or one channel's; filtered by title words, tier or length."""
    owner_id = accounts.get_by_handle(args["channel"]).id if "channel" in args else None
    listing = published_listing(owner_id, args)
    found = service.published_videos(owner_id=owner_id, limit=args["limit"] + 1, after=after(args, listing),
                                     title=args.get("q"), tier=args.get("tier"), long=args.get("long"))
    return page(found, args["limit"], listing)


@bp.get("/videos/<public_id>")
@requires(None)
@bp.response(200, VideoDetailSchema)
@answers(404)
def video(public_id: str) -> dict:
    """A video, with its playback URLs for the caller (a pro video plays only its preview to others than pro
    members). Drafts and private videos are found only by their owner (a session, or a token with `read`)."""
    viewer = reader()
    return video_detail(service.visible_video(public_id, viewer), viewer)


@bp.patch("/videos/<public_id>")
@requires(Scope.manage, Role.creator)
@bp.arguments(VideoChangesSchema)
@bp.response(200, VideoDetailSchema)
@answers(404, 409, 415)
def update_video(changes: dict, public_id: str) -> dict:
    """Change your video's title, description, visibility or access tier (what is left out stays)."""
    with field_errors():
        video = service.update_details(current_user, public_id, changes.get("title"), changes.get("description"),
                                       changes.get("visibility"), changes.get("access_tier"), origin=origin(),
                                       staff=current_token() is None)
    return video_detail(video, current_user)


@bp.post("/videos/<public_id>/publish")
@requires(Scope.manage, Role.creator)
@bp.response(200, VideoDetailSchema)
@answers(404, 409)
def publish_video(public_id: str) -> dict:
    """Publish your video: it is in the feed as soon as it is ready (at once if it is)."""
    return video_detail(service.publish(current_user, public_id, origin=origin(), staff=current_token() is None),
                        current_user)


@bp.delete("/videos/<public_id>")
@requires(Scope.manage, Role.creator)
@bp.response(204)
@answers(404)
def delete_video(public_id: str) -> None:
    """Delete your video (its files are removed in the background)."""
    service.delete_video(current_user, public_id, origin=origin(), staff=current_token() is None)


@bp.get("/videos/<public_id>/status")
@requires(Scope.read)
@bp.response(200, StatusSchema)
@answers(404)
def video_status(public_id: str) -> dict:
    """Where your video stands: poll this after an upload until `state` is ready or failed."""
    video = service.owned_video(current_user, public_id, staff=current_token() is None)
    return {"public_id": video.public_id, "state": video.state, "progress": progress_percent(video),
            "failure_reason": video.failure_reason,
            "watch_url": public_url_for("media.watch", public_id=video.public_id)}


@bp.get("/me/videos")
@requires(Scope.read)
@bp.arguments(PageQuery, location="query")
@bp.response(200, VideoPageSchema)
def my_videos(args: dict) -> dict:
    """Your videos in every state and visibility, newest first."""
    listing = f"me/videos:{current_user.id}"
    return page(service.list_own_videos(current_user, after=after(args, listing), limit=args["limit"] + 1),
                args["limit"], listing)


@bp.get("/channels/<handle>")
@requires(None)
@bp.arguments(PageQuery(only=("limit",)), location="query")
@bp.response(200, ChannelSchema)
@answers(404)
def channel(args: dict, handle: str) -> dict:
    """A channel and its newest published videos."""
    user = accounts.get_by_handle(handle)
    return {**channel_ref(user), "created_at": user.created_at, "video_count": service.published_count(user.id),
            "videos": page(service.published_videos(owner_id=user.id, limit=args["limit"] + 1), args["limit"],
                           published_listing(user.id, {}))}
