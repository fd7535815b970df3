"""Resumable uploads (tus 1.0): create, append at an offset, finish, terminate, expire.

Bytes are streamed to ``var/uploads/<id>`` in fixed-size reads, so memory stays flat whatever the
file size. One writer at a time per upload (a Redis lock); the offset in the database is the truth,
and anything on disk past it (a write cut short) is truncated before the next append.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select
from werkzeug.exceptions import ClientDisconnected

from wm.extensions import db, redis_client
from wm.models.accounts import Role, User
from wm.models.base import utcnow
from wm.models.media import Upload, Video, VideoState
from wm.queues import enqueue_after_commit
from wm.services import Conflict, DomainError, Forbidden, NotFound, Origin
from wm.services.governance import audit
from wm.services.media import new_public_id, uploads_dir, used_bytes

READ_SIZE = 1024 * 1024
LOCK_SECONDS = 600


class TooLarge(DomainError):
    status = 413


class Gone(DomainError):
    status = 410


class ChecksumMismatch(DomainError):
    status = 460  # tus: "Checksum Mismatch"


class UnsupportedChecksum(DomainError):
    status = 400


def upload_path(upload: Upload) -> Path:
    return uploads_dir() / upload.id


def create(owner: User, length: int, metadata: dict[str, str], origin: Origin | None = None) -> Upload:
    """Start an upload of ``length`` bytes; refuse it before any byte is stored if it cannot fit."""
    if not owner.has_role(Role.creator):
        raise Forbidden("Only creators upload videos.")
    limit = current_app.config["WM_MAX_UPLOAD_BYTES"]
    if length > limit:
        raise TooLarge(f"The file is {length} bytes; the largest upload is {limit} bytes.")
    quota = current_app.config["WM_CREATOR_QUOTA_BYTES"]
    if used_bytes(owner.id) + length > quota:
        raise TooLarge(f"This upload would take you past your storage quota of {quota} bytes.")
    filename = (metadata.get("filename") or "video")[:255]
    title = (metadata.get("title") or Path(filename).stem or "Untitled")[:200]
    video = Video(public_id=new_public_id(), owner_id=owner.id, title=title, source_name=filename,
                  source_bytes=length, state=VideoState.uploading)
    db.session.add(video)
    db.session.flush()
    hours = current_app.config["WM_UPLOAD_EXPIRY_HOURS"]
    upload = Upload(id=uuid.uuid4().hex, owner_id=owner.id, video_id=video.id, length=length,
                    metadata_={k: v[:500] for k, v in metadata.items()}, expires_at=utcnow() + timedelta(hours=hours))
    db.session.add(upload)
    audit("upload.created", "video", video.public_id, actor=owner, payload={"bytes": length}, origin=origin)
    upload_path(upload).touch()
    db.session.commit()
    return upload


def get(owner: User, upload_id: str) -> Upload:
    """``owner``'s upload ``upload_id``: another user's upload is "not found"; an expired one is gone."""
    upload = db.session.get(Upload, upload_id) if len(upload_id) == 32 else None
    if upload is None or upload.owner_id != owner.id:
        raise NotFound("No such upload.")
    if upload.completed_at is None and upload.expires_at < utcnow():
        raise Gone("This upload expired; start it again.")
    return upload


@contextmanager
def _writer_lock(upload_id: str) -> Iterator[None]:
    key, token = f"upload-lock:{upload_id}", secrets.token_hex(8)
    if not redis_client.set(key, token, nx=True, ex=LOCK_SECONDS):
        raise Conflict("Another request is writing to this upload right now.")
    try:
        yield
    finally:
        if redis_client.get(key) == token.encode():
            redis_client.delete(key)


def parse_checksum(header: str | None) -> bytes | None:
    """The digest of an ``Upload-Checksum: sha1 <base64>`` header."""
    if not header:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm.lower() != "sha1":
        raise UnsupportedChecksum("Only sha1 checksums are supported.")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise UnsupportedChecksum("The checksum is not valid base64.") from None


def append(upload: Upload, offset: int, body: BinaryIO, body_length: int | None, checksum: bytes | None) -> Upload:
    """Write ``body`` at ``offset``; with a checksum, keep the bytes only if they match it."""
    with _writer_lock(upload.id):
        db.session.refresh(upload)
        if upload.completed_at is not None:
            raise Conflict("This upload is already complete.")
        if offset != upload.offset:
            raise Conflict(f"Upload-Offset is {offset} but the upload is at {upload.offset}.")
        if body_length is not None and offset + body_length > upload.length:
            raise TooLarge("The body goes past Upload-Length.")
        digest, written, disconnected = hashlib.sha1(), 0, False
        with upload_path(upload).open("r+b") as file:
            file.seek(offset)
            file.truncate()
            try:
                while offset + written < upload.length:
                    chunk = body.read(min(READ_SIZE, upload.length - offset - written))
                    if not chunk:
                        break
                    file.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
            except ClientDisconnected:
                disconnected = True
            if checksum is not None and (disconnected or digest.digest() != checksum):
                file.truncate(offset)
                raise ChecksumMismatch("The chunk does not match its Upload-Checksum.")
            file.flush()
        upload.offset = offset + written
        if upload.offset == upload.length:
            finish(upload)
        db.session.commit()
    return upload


def upload_whole_file(owner: User, path: Path, title: str | None = None) -> Video:
    """Upload a file from disk in one go (demo data, imports)."""
    metadata = {"filename": path.name, **({"title": title} if title else {})}
    upload = create(owner, path.stat().st_size, metadata)
    with path.open("rb") as body:
        append(upload, 0, body, path.stat().st_size, None)
    return upload.video


def finish(upload: Upload) -> None:
    """All bytes are in: the video goes to processing and ingest is queued (after the commit)."""
    upload.completed_at = utcnow()
    upload.video.state = VideoState.processing
    upload.video.encode_progress = 0
    enqueue_after_commit("high", "jobs.media.ingest", upload.video_id)


def terminate(upload: Upload, owner: User, origin: Origin | None = None) -> None:
    """tus termination: drop the bytes and the video that was waiting for them."""
    with _writer_lock(upload.id):
        if upload.completed_at is not None:
            raise Conflict("This upload is complete; delete the video instead.")
        upload.video.deleted_at = utcnow()
        audit("upload.terminated", "video", upload.video.public_id, actor=owner, origin=origin)
        upload_path(upload).unlink(missing_ok=True)
        db.session.delete(upload)
        db.session.commit()


def expire_uploads() -> dict:
    """Remove partial uploads past their expiry, with the videos that were waiting for them."""
    now = utcnow()
    expired = list(db.session.scalars(select(Upload).where(Upload.completed_at.is_(None), Upload.expires_at < now)))
    for upload in expired:
        upload_path(upload).unlink(missing_ok=True)
        upload.video.deleted_at = now
        db.session.delete(upload)
    db.session.commit()
    return {"expired": len(expired)}
