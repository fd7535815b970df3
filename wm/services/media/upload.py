"""Resumable uploads (tus 1.0): create, append at an offset, finish, terminate, expire.

Each PATCH becomes one part file, ``var/uploads/<id>/<offset>``: behind nginx the part is the very
file nginx buffered the request body into, renamed (no copy at all); without nginx the request
stream is written in fixed-size reads, so memory stays flat whatever the size. The ingest job joins
the parts. One writer at a time per upload (a Redis lock); the offset in the database is the truth,
and a part left by a request that died before its commit is overwritten by the next one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select, text
from werkzeug.exceptions import ClientDisconnected

from wm.extensions import db, redis_client
from wm.models.accounts import Role, User
from wm.models.base import utcnow
from wm.models.media import Upload, Video, VideoState
from wm.queues import enqueue_after_commit
from wm.services import Conflict, DomainError, Forbidden, NotFound, Origin
from wm.services.governance import audit
from wm.services.media import new_public_id, uploads_dir, used_bytes
from wm.validation import check_text

READ_SIZE = 4 * 1024 * 1024
LOCK_SECONDS = 600


class TooLarge(DomainError):
    status = 413


class Gone(DomainError):
    status = 410


class ChecksumMismatch(DomainError):
    status = 460  # tus: "Checksum Mismatch"


class UnsupportedChecksum(DomainError):
    status = 400


def max_patch_bytes() -> int:
    """The largest PATCH body taken, by the app and by nginx alike: eight of the studio's chunks, so that
    clients choosing bigger chunks (tuspy, scripts) work too."""
    return current_app.config["WM_UPLOAD_CHUNK_BYTES"] * 8


def parts_dir(upload: Upload) -> Path:
    return uploads_dir() / upload.id


def incoming_dir() -> Path:
    """Where nginx writes request bodies of upload chunks (same file system as the uploads)."""
    return uploads_dir() / ".incoming"


def offloaded_body(path: str, key: str) -> Path | None:
    """The chunk nginx already wrote to disk (``X-Upload-Body-File``), if the request really came from nginx."""
    from wm.services.media.playback import media_secret

    if not path or not key or not hmac.compare_digest(key, media_secret()):
        return None
    file = Path(path).resolve()
    if file.parent != incoming_dir().resolve() or not file.is_file():
        return None
    return file


def create(owner: User, length: int, metadata: dict[str, str], origin: Origin | None = None) -> Upload:
    """Start an upload of ``length`` bytes; refuse it before any byte is stored if it cannot fit."""
    if not owner.has_role(Role.creator):
        raise Forbidden("Only creators upload videos.")
    limit = current_app.config["WM_MAX_UPLOAD_BYTES"]
    if length > limit:
        raise TooLarge(f"The file is {length} bytes; the largest upload is {limit} bytes.")
    quota = current_app.config["WM_CREATOR_QUOTA_BYTES"]
    _lock_owner(owner.id)
    if used_bytes(owner.id) + length > quota:
        raise TooLarge(f"This upload would take you past your storage quota of {quota} bytes.")
    for key, value in metadata.items():
        check_text(value, f"Upload-Metadata {key}")
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
    parts_dir(upload).mkdir(parents=True, exist_ok=True)
    db.session.commit()
    return upload


def _lock_owner(owner_id: int) -> None:
    """Start a transaction that holds ``owner_id``'s user row until it ends: quota checks and reservations of one
    creator run one at a time, on MariaDB (a row lock) and SQLite (the database's write lock) alike."""
    # A fresh transaction: MariaDB's repeatable read would otherwise sum a snapshot from before the lock.
    db.session.commit()
    # A write as the first statement takes the lock before anything is read; raw SQL so no onupdate column moves.
    db.session.execute(text("UPDATE users SET id = id WHERE id = :id"), {"id": owner_id})


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


def append(upload: Upload, offset: int, body: BinaryIO | Path, body_length: int | None,
           checksum: bytes | None) -> Upload:
    """Store ``body`` (a stream, or a file nginx wrote) as the part at ``offset``; if it has a checksum,
    only when it matches."""
    with _writer_lock(upload.id):
        db.session.refresh(upload)
        if upload.completed_at is not None:
            raise Conflict("This upload is already complete.")
        if offset != upload.offset:
            raise Conflict(f"Upload-Offset is {offset} but the upload is at {upload.offset}.")
        if body_length is not None and offset + body_length > upload.length:
            raise TooLarge("The body goes past Upload-Length.")
        folder = parts_dir(upload)
        folder.mkdir(parents=True, exist_ok=True)
        # Offsets only move on commit, so a part left by a request that died before its commit has
        # this very name: writing the new part replaces it.
        part = folder / f"{offset:016d}"
        if isinstance(body, Path):
            os.replace(body, part)
            written, disconnected = part.stat().st_size, False
        else:
            written, disconnected = _write_stream(body, part, upload.length - offset)
        if checksum is not None and (disconnected or _sha1(part) != checksum):
            part.unlink()
            raise ChecksumMismatch("The chunk does not match its Upload-Checksum.")
        if written == 0:
            part.unlink()
        upload.offset = offset + written
        if upload.offset == upload.length:
            finish(upload)
        db.session.commit()
    return upload


def _write_stream(body: BinaryIO, part: Path, limit: int) -> tuple[int, bool]:
    """Write at most ``limit`` bytes of a request stream to ``part``: (bytes written, client gone?)."""
    written = 0
    with part.open("wb") as file:
        try:
            while written < limit:
                piece = body.read(min(READ_SIZE, limit - written))
                if not piece:
                    break
                file.write(piece)
                written += len(piece)
        except ClientDisconnected:
            return written, True
    return written, False


def _sha1(path: Path) -> bytes:
    digest = hashlib.sha1()
    with path.open("rb") as file:
        for piece in iter(lambda: file.read(READ_SIZE), b""):
            digest.update(piece)
    return digest.digest()


def assemble(upload: Upload) -> Path:
    """Join the parts of a finished upload into one file, in the kernel (``copy_file_range``); drop the parts."""
    folder, target = parts_dir(upload), uploads_dir() / f"{upload.id}.source"
    if not folder.is_dir() and target.is_file() and target.stat().st_size == upload.length:
        return target  # joined by an earlier run of the same job
    parts = sorted(folder.iterdir(), key=lambda p: int(p.name)) if folder.is_dir() else []
    position = 0
    with target.open("wb") as out:
        for part in parts:
            if int(part.name) != position:
                raise DomainError("The upload's parts do not line up; upload it again.")
            size = part.stat().st_size
            with part.open("rb") as source:
                copied = 0
                while copied < size:
                    step = os.copy_file_range(source.fileno(), out.fileno(), size - copied)
                    if not step:
                        raise DomainError("An upload part is shorter than recorded; upload it again.")
                    copied += step
            position += size
    if position != upload.length:
        raise DomainError("The upload is incomplete; upload it again.")
    shutil.rmtree(folder, ignore_errors=True)
    return target


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
        shutil.rmtree(parts_dir(upload), ignore_errors=True)
        db.session.delete(upload)
        db.session.commit()


def expire_uploads() -> dict:
    """Remove partial uploads past their expiry, with the videos that were waiting for them."""
    now = utcnow()
    expired = list(db.session.scalars(select(Upload).where(Upload.completed_at.is_(None), Upload.expires_at < now)))
    for upload in expired:
        shutil.rmtree(parts_dir(upload), ignore_errors=True)
        upload.video.deleted_at = now
        db.session.delete(upload)
    db.session.commit()
    return {"expired": len(expired)}


def upload_stream(owner: User, body: BinaryIO, filename: str, length: int, origin: Origin | None = None) -> Video:
    """Upload a whole file from a stream in one request (the studio's form without JavaScript)."""
    upload = create(owner, length, {"filename": filename or "video"}, origin=origin)
    append(upload, 0, body, length, None)
    if upload.offset != length:
        raise DomainError("The file arrived incomplete; upload it again.")
    return upload.video


def sent_percent(video: Video) -> int:
    """How much of ``video``'s unfinished upload the server holds, in percent (0 if there is none)."""
    upload = db.session.scalars(select(Upload).where(Upload.video_id == video.id, Upload.completed_at.is_(None))
                                .order_by(Upload.created_at.desc())).first()
    return upload.offset * 100 // upload.length if upload and upload.length else 0


def progress_percent(video: Video) -> int:
    """How far ``video`` is in its current stage: bytes received while uploading, the encode while processing."""
    if video.state is VideoState.uploading:
        return sent_percent(video)
    if video.state is VideoState.processing:
        return video.encode_progress
    return 100 if video.state is VideoState.ready else 0
