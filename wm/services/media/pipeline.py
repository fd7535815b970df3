"""The media pipeline: ingest a finished upload, encode it, publish it, delete its files. Each step is safe to run
twice; the RQ jobs in ``jobs/media.py`` call these with ids."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from rq import Callback
from sqlalchemy import select, update

from wm.extensions import db
from wm.models.media import Upload, Video, VideoState
from wm.queues import enqueue_after_commit
from wm.services import DomainError
from wm.services.media import encode as encoder
from wm.services.media import keys, set_state, uploads_dir
from wm.services.media.probe import InvalidMedia, check_limits, probe
from wm.services.media.upload import assemble, parts_dir
from wm.storage import delete_prefix, storage

PROGRESS_EVERY_SECONDS = 1.0


def _live_video(video_id: int, state: VideoState) -> Video | None:
    video = db.session.get(Video, video_id)
    if video is None or video.deleted_at is not None or video.state is not state:
        return None
    return video


def ingest(video_id: int) -> str:
    """Check the finished upload with ffprobe; keep it under ``raw/`` and queue the encode, or refuse it."""
    video = _live_video(video_id, VideoState.processing)
    if video is None:
        return "skipped"
    upload = db.session.scalar(select(Upload).where(Upload.video_id == video_id))
    store = storage()
    if upload is None and store.exists(keys.raw_key(video.public_id)):  # a previous run stored it, then died
        _queue_encode(video)
        db.session.commit()
        return "requeued"
    try:
        if upload is None:
            raise InvalidMedia("The uploaded file went missing; upload it again.")
        local = assemble(upload)
        info = probe(local)
        check_limits(info, current_app.config["WM_MAX_SOURCE_PIXELS"], current_app.config["WM_MAX_SOURCE_SECONDS"])
    except DomainError as exc:
        if upload is not None:
            (uploads_dir() / f"{upload.id}.source").unlink(missing_ok=True)
            shutil.rmtree(parts_dir(upload), ignore_errors=True)
            db.session.delete(upload)
        set_state(video_id, VideoState.failed, exc.message, source_bytes=0)
        return "refused"
    store.put_file(keys.raw_key(video.public_id), local)
    video.duration, video.width, video.height = info.duration, info.width or None, info.height or None
    video.audio_only = not info.has_video
    video.is_long = info.duration >= current_app.config["WM_LONG_VIDEO_SECONDS"]
    video.source_bytes = local.stat().st_size
    _queue_encode(video)
    db.session.delete(upload)
    db.session.commit()
    local.unlink(missing_ok=True)
    return "queued"


def _queue_encode(video: Video) -> None:
    enqueue_after_commit("encode", "jobs.media.encode", video.id, on_failure=Callback("jobs.media.encode_failed"))


def encode(video_id: int, on_progress: Callable[[int], None] | None = None) -> str:
    """Encode the ladder, poster, storyboard and MP4 in one ffmpeg pass, then publish atomically; stop (and
    publish nothing) if the video is deleted meanwhile. ``on_progress`` hears each percent that is saved."""
    video = _live_video(video_id, VideoState.processing)
    if video is None:
        return "skipped"
    store = storage()
    video.encode_attempt += 1
    video.encode_progress = 0
    db.session.commit()
    attempt, public_id = video.encode_attempt, video.public_id
    delete_prefix(store, keys.stage_prefix(keys.PROCESSING, public_id))  # whatever an earlier, killed run left
    for key in list(store.keys(keys.stage_prefix(keys.PUBLISHED, public_id))):
        if not (video.published_prefix and key.startswith(video.published_prefix)):
            store.delete(key)  # a killed run's half-finished publish; players never pointed at it
    work = Path(current_app.config["WM_VAR_DIR"]) / "work" / public_id
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        raw = keys.raw_key(public_id)
        source = store.local_path(raw) or store.fetch(raw, work / "source")
        info = probe(source)
        plan = encoder.build_plan(source, work / "out", info, current_app.config["WM_ENCODE_PRESET"],
                                  current_app.config["WM_ENCODE_CRF"], current_app.config["WM_MAX_SOURCE_SECONDS"])
        try:
            encoder.run(plan, _progress_reporter(video_id, on_progress))
        except encoder.EncodeCancelled:
            return "deleted"
        if not info.has_video:
            encoder.audio_poster(plan)
        renditions = encoder.write_master(plan)
        encoder.write_mp4(plan)
        encoder.write_storyboard_vtt(plan)
        processing = keys.processing_prefix(public_id, attempt)
        files = [p for p in sorted(plan.out.rglob("*")) if p.is_file()]
        for path in files:
            store.put_file(processing + path.relative_to(plan.out).as_posix(), path)
        stored_bytes = sum(p.stat().st_size for p in files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if _is_deleted(video_id):  # deleted while we were encoding: publish nothing, its files are being removed
        delete_prefix(store, keys.stage_prefix(keys.PROCESSING, public_id))
        return "deleted"
    published = keys.published_prefix(public_id, attempt)
    for key in list(store.keys(processing)):
        store.copy(key, published + key[len(processing):])
    video = db.session.get(Video, video_id)
    old_prefix = video.published_prefix
    video.published_prefix, video.renditions, video.stored_bytes = published, renditions, stored_bytes
    video.state, video.encode_progress, video.failure_reason, video.source_bytes = VideoState.ready, 100, None, 0
    db.session.commit()  # the player switches to the new ladder here, all of it at once
    delete_prefix(store, keys.stage_prefix(keys.PROCESSING, public_id))
    delete_prefix(store, keys.stage_prefix(keys.RAW, public_id))
    if old_prefix and old_prefix != published:
        delete_prefix(store, old_prefix)
    return published


def _is_deleted(video_id: int) -> bool:
    deleted_at = db.session.scalar(select(Video.deleted_at).where(Video.id == video_id))
    db.session.commit()  # end the read, so the next check sees the newest row (MariaDB's repeatable read)
    return deleted_at is not None


def _progress_reporter(video_id: int, on_progress: Callable[[int], None] | None) -> Callable[[int], None]:
    """Save each new percent (at most once a second) and stop the encode once the video is deleted."""
    last, saved = [0.0], [-1]

    def report(percent: int) -> None:
        if time.monotonic() - last[0] < PROGRESS_EVERY_SECONDS and percent < 99:
            return
        last[0] = time.monotonic()
        if _is_deleted(video_id):
            raise encoder.EncodeCancelled("The video was deleted.")
        if percent == saved[0]:
            return
        saved[0] = percent
        db.session.execute(update(Video).where(Video.id == video_id).values(encode_progress=percent))
        db.session.commit()
        if on_progress is not None:
            on_progress(percent)

    return report


def encode_failed(video_id: int, reason: str) -> None:
    """The encode's last retry failed: tell the creator why."""
    set_state(video_id, VideoState.failed, f"Encoding failed: {reason}")


def hard_delete(video_id: int) -> dict:
    """Remove every stored file of a deleted video (its row stays, soft-deleted)."""
    video = db.session.get(Video, video_id)
    if video is None or video.deleted_at is None:
        return {"deleted": 0}
    store = storage()
    count = sum(delete_prefix(store, keys.stage_prefix(stage, video.public_id)) for stage in keys.STAGES)
    video.published_prefix, video.stored_bytes, video.source_bytes = None, 0, 0
    db.session.commit()
    return {"deleted": count}


def sweep_orphans() -> dict:
    """Delete stored files that no live video points to, and upload files with no upload row."""
    store = storage()
    videos = {v.public_id: v for v in db.session.scalars(select(Video))}
    removed = 0
    for stage in keys.STAGES:
        for key in list(store.keys(f"{stage}/")):
            video = videos.get(keys.public_id_of(key))
            orphan = video is None or video.deleted_at is not None
            if stage == keys.PUBLISHED and video is not None and not orphan:
                orphan = video.published_prefix is None or not key.startswith(video.published_prefix)
            if stage == keys.RAW and video is not None and video.state is VideoState.ready:
                orphan = True
            if orphan and store.age(key) > 3600:  # a young file may belong to an encode running now
                store.delete(key)
                removed += 1
    known = set(db.session.scalars(select(Upload.id)))
    for path in uploads_dir().iterdir():
        if path.name.split(".")[0] in known or path.name == ".incoming" or time.time() - path.stat().st_mtime < 3600:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed += 1
    return {"removed": removed}
