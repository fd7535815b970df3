"""API benchmark: GET /api/v1/videos on 10,000 published videos through nginx, against /health on the same stack.

Seeds a throwaway MariaDB database with published videos of 100 creators (bulk inserts), starts gunicorn +
nginx (the rendered production config) on loopback ports with the per-address and per-token rate limits lifted
(nginx ``--rate``, ``WM_API_RATE_LIMIT``, ``WM_API_TOKEN_RATE_LIMIT``) so it measures speed, not the limiter, and
drives each URL through nginx with 16 concurrent keep-alive clients: ``/health`` (the baseline: a database and a
Redis round trip), the feed's first page and a deep cursor page (page 400 at 20 a page). Prints requests/s,
p50 and p95 latency and each one's ratio to ``/health``. Then counts, in-process (a ``before_cursor_execute``
listener on a test client), the SQL queries of one request for 10 and 100 a page, first and deep: they must
be equal (the exit status says whether they are).

    .venv/bin/python -m bench.api [--videos 10000] [--requests 4000] [--clients 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import redis
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert, select, text

from bench import REDIS_URL, Driven, drive
from tests.fixtures.apps import counted_queries, create_mysql_database, drop_mysql_database
from tests.fixtures.edge import edge_stack
from wm import create_app
from wm.extensions import db
from wm.models.accounts import Role, User
from wm.models.base import utcnow
from wm.models.media import AccessTier, Video, VideoState, Visibility
from wm.services.accounts import hash_password
from wm.services.media import new_public_id

CREATORS = 100
PAGE = 20
DEEP_PAGE = 400
LIFTED = "1000000 per minute"
SECRET = "bench-api-" + secrets.token_hex(8)


def seed(app: Flask, videos: int) -> None:
    """``videos`` published, ready videos of ``CREATORS`` creators, a few to each second (so pages break ties by
    id); every fifth is pro, every seventh long."""
    now = utcnow().replace(microsecond=0)
    with app.app_context():
        password = hash_password(secrets.token_urlsafe(16))
        db.session.execute(insert(User), [
            {"handle": f"bench{n}", "handle_key": f"bench{n}", "email": f"bench{n}@example.com",
             "display_name": f"Bench creator {n}", "password_hash": password, "role": Role.creator,
             "created_at": now} for n in range(CREATORS)])
        owners = list(db.session.scalars(select(User.id)))
        rows = []
        for n in range(videos):
            public_id = new_public_id()
            rows.append({
                "public_id": public_id, "owner_id": owners[n % len(owners)], "title": f"Bench video {n}",
                "description": "", "visibility": Visibility.published, "state": VideoState.ready,
                "access_tier": AccessTier.pro if n % 5 == 0 else AccessTier.free, "source_name": "bench.mp4",
                "source_bytes": 10_000_000, "duration": 30.0 + n % 600, "width": 1280, "height": 720,
                "is_long": n % 7 == 0, "audio_only": False, "encode_progress": 100, "encode_attempt": 1,
                "published_prefix": f"published/{public_id}/v1/", "renditions": [], "stored_bytes": 20_000_000,
                "created_at": now - timedelta(seconds=n // 3), "updated_at": now})
        for start in range(0, len(rows), 2000):
            db.session.execute(insert(Video), rows[start:start + 2000])
        db.session.commit()
        # As after any bulk load: the optimizer's row counts are those of the empty tables until InnoDB's own
        # background recount, which would otherwise land at some point during the run.
        db.session.execute(text("ANALYZE TABLE users, videos"))
        db.session.commit()


def deep_cursor(app: Flask) -> str:
    """The cursor of page ``DEEP_PAGE`` at ``PAGE`` a page, found by walking the API itself 100 at a time."""
    client, cursor, rows = app.test_client(), None, 0
    while rows < (DEEP_PAGE - 1) * PAGE:
        limit = min(100, (DEEP_PAGE - 1) * PAGE - rows)
        body = client.get("/api/v1/videos", query_string={"limit": limit, **({"cursor": cursor} if cursor else {})})
        cursor, rows = body.get_json()["next_cursor"], rows + limit
    return cursor


def query_counts(app: Flask, cursor: str) -> dict[str, int]:
    """SQL queries of one anonymous request for each page size and depth."""
    client, counts = app.test_client(), {}
    for limit in (10, 100):
        for depth, extra in (("first", {}), ("deep", {"cursor": cursor})):
            with counted_queries(app) as statements:
                response = client.get("/api/v1/videos", query_string={"limit": limit, **extra})
            assert response.status_code == 200 and len(response.get_json()["items"]) == limit
            counts[f"limit={limit} {depth}"] = len(statements)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=4000, help="per URL")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (4 threads each)")
    args = parser.parse_args()
    database_url = create_mysql_database("wm_bench_")
    try:
        with tempfile.TemporaryDirectory(prefix="wm-bench-api-") as folder:
            env = {"WM_SECRET_KEY": SECRET, "WM_VAR_DIR": str(Path(folder) / "var"), "WM_API_RATE_LIMIT": LIFTED,
                   "WM_API_TOKEN_RATE_LIMIT": LIFTED}
            os.environ.update(env)
            redis.Redis.from_url(REDIS_URL).flushdb()  # rate-limit counters of earlier runs
            app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "WM_REDIS_URL": REDIS_URL,
                              "SECRET_KEY": SECRET})
            with app.app_context():
                upgrade()
            seed(app, args.videos)
            cursor = deep_cursor(app)
            urls = {"/health": "/health", "videos, first page": f"/api/v1/videos?limit={PAGE}",
                    f"videos, page {DEEP_PAGE}": f"/api/v1/videos?limit={PAGE}&cursor={cursor}"}
            lifted = ("--rate", "api=100000r/s", "--rate", "pages=100000r/s")
            with edge_stack(database_url, REDIS_URL, Path(folder), web_workers=args.workers, nginx_args=lifted,
                            env_overrides=env) as stack:
                for path in urls.values():
                    drive(stack.edge, path, args.clients * 20, args.clients)  # warm up every worker and cache
                results: dict[str, Driven] = {name: drive(stack.edge, path, args.requests, args.clients)
                                              for name, path in urls.items()}
            counts = query_counts(app, cursor)
    finally:
        drop_mysql_database(database_url)
    health = results["/health"]
    print(f"{args.videos} published videos on MariaDB; {args.clients} keep-alive clients through nginx, "
          f"{args.requests} requests per URL, gunicorn {args.workers} workers x 4 threads")
    print(f"{'url':22} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'req/s vs /health':>17} {'p95 vs /health':>15}")
    for name, result in results.items():
        print(f"{name:22} {result.rps:8.0f} {result.p50_ms:8.1f} {result.p95_ms:8.1f} "
              f"{result.rps / health.rps:17.2f} {result.p95_ms / health.p95_ms:15.2f}")
    print("SQL queries per request: " + ", ".join(f"{name}: {count}" for name, count in counts.items()))
    if len(set(counts.values())) != 1:
        raise SystemExit("the number of queries depends on the page size or depth")


if __name__ == "__main__":
    main()
