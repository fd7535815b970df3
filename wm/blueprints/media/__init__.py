"""Watching videos: the watch page, per-viewer playlists, and signed media files."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request, send_file
from flask_login import current_user

from wm.models.media import Video
from wm.services import media as service
from wm.services.media import keys, playback
from wm.storage import storage
from wm.web import render

bp = Blueprint("media", __name__)


def viewer():
    return current_user if current_user.is_authenticated else None


def viewable(public_id: str) -> Video:
    return service.visible_video(public_id, viewer())


def playlist_response(text: str) -> Response:
    response = Response(text, mimetype="application/vnd.apple.mpegurl")
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.get("/v/<public_id>")
def watch(public_id: str) -> Response:
    """The watch page."""
    video = viewable(public_id)
    offer = playback.offer(video, viewer())
    return render("media/watch.html", video=video, preview_seconds=offer.preview_seconds, poster=offer.poster,
                  fallback=offer.mp4)


def playing(public_id: str, grant: str | None) -> tuple[Video, bool]:
    """The video, and whether it plays whole: for the session's viewer, or as a playback grant says."""
    if grant is None:
        video = viewable(public_id)
        return video, service.can_watch_whole(video, viewer())
    video = service.get_video(public_id)
    return video, playback.granted_whole(video, grant)


@bp.get("/v/<public_id>/hls/master.m3u8")
@bp.get("/v/<public_id>/g/<grant>/master.m3u8")
def master(public_id: str, grant: str | None = None) -> Response:
    """The master playlist."""
    video, _ = playing(public_id, grant)
    return playlist_response(playback.master_playlist(video))


@bp.get("/v/<public_id>/hls/<name>/index.m3u8")
@bp.get("/v/<public_id>/g/<grant>/<name>/index.m3u8")
def rendition(public_id: str, name: str, grant: str | None = None) -> Response:
    """One rendition's playlist, signed for this viewer (cut short for a preview)."""
    video, whole = playing(public_id, grant)
    return playlist_response(playback.media_playlist(video, name, whole))


@bp.get("/v/<public_id>/storyboard.vtt")
@bp.get("/v/<public_id>/g/<grant>/storyboard.vtt")
def storyboard(public_id: str, grant: str | None = None) -> Response:
    """The scrub-bar preview index (cut at the preview like the playlists)."""
    response = Response(playback.storyboard_vtt(*playing(public_id, grant)), mimetype="text/vtt")
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.get("/m/<path:key>")
def media_file(key: str) -> Response:
    """A signed media file, when nginx is not in front to serve it (make run without nginx, tests)."""
    if not keys.is_published(key):
        abort(404)
    valid = playback.verify(request.path, request.args.get("md5", ""), request.args.get("expires", ""))
    if valid is None:
        abort(403)
    if valid is False:
        abort(410)
    path = storage().local_path(key)
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, conditional=True, max_age=3600)
