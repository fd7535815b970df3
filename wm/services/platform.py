"""Platform services: health checks."""

from __future__ import annotations

import time

from redis.exceptions import ResponseError
from sqlalchemy import text

from wm.extensions import db, redis_client


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # any failure of the dependency is the answer, not a crash
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}


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
    checks = {"database": _timed(_database), "redis": _timed(_redis)}
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "fail", "checks": checks}
