"""Benchmarks: each script prints its figures against a baseline measured in the same run."""

from __future__ import annotations

import os
from pathlib import Path

import redis
from flask import Flask
from flask_migrate import upgrade

from wm import create_app

REDIS_URL = os.environ.get("WM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def fresh_app(folder: Path) -> tuple[Flask, str]:
    """An app on a new, migrated SQLite database in ``folder``, with the bench Redis emptied; and the URL."""
    database_url = f"sqlite:///{folder / 'bench.db'}"
    redis.Redis.from_url(REDIS_URL).flushdb()  # rate-limit counters of earlier runs
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "WM_REDIS_URL": REDIS_URL})
    with app.app_context():
        upgrade()
    return app, database_url
