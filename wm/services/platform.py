"""Platform services: health checks, and the status reports behind the monitored API endpoints.

Uptime checks poll these every 60 s, so each reads only what it names: a ``LIMIT``-ed indexed query, one probe
object, a few Redis keys. A failing dependency is part of the answer (``ok: false``), never an exception.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import time

from flask import current_app
from redis.exceptions import ResponseError
from rq import Worker
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from wm.extensions import ENCODE_QUEUE, db, get_queue, redis_client
from wm.models.base import utcnow
from wm.models.media import Video
from wm.services import media
from wm.storage import storage

log = logging.getLogger(__name__)

FEED_SIZE = 10
# Probe objects live under their own prefix, apart from every media key, for the microseconds they exist.
PROBE_PREFIX = "probes/"
# What anyone may read of a status report; admins see the rest (errors, timings, free space).
PUBLIC_DETAILS = frozenset({"ok", "workers", "queued", "oldest_queued_seconds"})


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # any failure of the dependency is the answer, not a crash
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}


def _report(checks: dict[str, dict]) -> dict:
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "fail", "checks": checks}


def public_report(report: dict) -> dict:
    """``report`` without what only admins see: error messages may name paths, hosts or buckets."""
    return {"status": report["status"], "checks": {
        name: {key: value for key, value in check.items() if key in PUBLIC_DETAILS}
        for name, check in report["checks"].items()}}


def _database() -> dict:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"dialect": db.engine.dialect.name}


def _redis() -> dict:
    redis_client.ping()
    try:
        policy = redis_client.config_get("maxmemory-policy").get("maxmemory-policy")
    except ResponseError:  # managed Redis services often disable CONFIG
        policy = None
    return {"eviction_policy": policy, "evicts": policy not in (None, "noeviction")}


def health_report() -> dict:
    """Each dependency's check; the status is ``ok`` only when all pass."""
    return _report({"database": _timed(_database), "redis": _timed(_redis)})


def feed_videos(limit: int = FEED_SIZE) -> list[Video] | None:
    """The newest videos of the feed (the feed page's own query), or None when the database cannot serve it."""
    try:
        return media.published_videos(limit=limit)
    except SQLAlchemyError:
        log.exception("the feed could not be read")
        return None


def _storage_writable() -> dict:
    key = f"{PROBE_PREFIX}{secrets.token_hex(8)}"
    store = storage()
    store.put_bytes(key, b"probe")
    store.delete(key)
    return {}


def _uploads_writable() -> dict:
    folder = media.uploads_dir()
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
        pass
    free, minimum = shutil.disk_usage(folder).free, current_app.config["WM_UPLOAD_MIN_FREE_BYTES"]
    return {"ok": free >= minimum, "free_bytes": free, "min_free_bytes": minimum}


def _encode_queue() -> dict:
    queue = get_queue(ENCODE_QUEUE)
    workers = len(Worker.all(queue=queue))
    oldest = None
    for job_id in queue.get_job_ids(0, 1):
        job = queue.fetch_job(job_id)
        if job is not None and job.enqueued_at is not None:
            oldest = round((utcnow() - job.enqueued_at).total_seconds(), 1)
    return {"ok": workers > 0, "workers": workers, "queued": queue.count, "oldest_queued_seconds": oldest}


def upload_report() -> dict:
    """Whether uploads are taken and encoded: storage takes a write, the uploads folder takes a write and has
    ``WM_UPLOAD_MIN_FREE_BYTES`` free, and at least one encode worker is alive (with the queue's depth and age)."""
    return _report({"storage": _timed(_storage_writable), "uploads": _timed(_uploads_writable),
                    "encode": _timed(_encode_queue)})


def payment_report() -> dict:
    """Payments are not part of this server yet: the monetization issue brings them."""
    return {"status": "not_configured", "detail": "This server takes no payments yet."}
