"""Benchmarks: each script prints its figures against a baseline measured in the same run."""

from __future__ import annotations

import http.client
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import quantiles
from urllib.parse import urlsplit

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


@dataclass(frozen=True)
class Driven:
    """What ``drive`` measured: requests per second and latency percentiles (milliseconds)."""

    rps: float
    p50_ms: float
    p95_ms: float


def drive(base: str, path: str, requests: int, clients: int) -> Driven:
    """``requests`` GETs of ``path`` spread over ``clients`` keep-alive connections in threads; every answer must
    be a 200."""
    host = urlsplit(base).netloc
    per_client = requests // clients
    errors: list[str] = []
    latencies: list[list[float]] = [[] for _ in range(clients)]

    def client(seconds: list[float]) -> None:
        connection = http.client.HTTPConnection(host, timeout=10)
        for _ in range(per_client):
            started = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            seconds.append(time.perf_counter() - started)
            if response.status != 200:
                errors.append(f"{path}: {response.status}")
                return
        connection.close()

    threads = [threading.Thread(target=client, args=(seconds,)) for seconds in latencies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"non-200 answers: {errors[:3]}")
    cuts = quantiles([s * 1000 for seconds in latencies for s in seconds], n=20)
    return Driven(rps=per_client * clients / elapsed, p50_ms=cuts[9], p95_ms=cuts[18])
