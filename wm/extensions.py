"""Flask extensions, created unbound here and bound to the app in ``create_app``."""

from __future__ import annotations

import sqlite3

import redis
from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_session import Session
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Engine, MetaData, event
from werkzeug.local import LocalProxy

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
server_session = Session()


def init_redis(app: Flask) -> None:
    """Attach the queue/session Redis client and the cache Redis client to the app."""
    app.extensions["wm_redis"] = redis.Redis.from_url(
        app.config["WM_REDIS_URL"], socket_connect_timeout=2, socket_timeout=10
    )
    app.extensions["wm_cache"] = redis.Redis.from_url(
        app.config["WM_CACHE_URL"], socket_connect_timeout=2, socket_timeout=5
    )
    app.config["SESSION_REDIS"] = app.extensions["wm_redis"]


redis_client: redis.Redis = LocalProxy(lambda: current_app.extensions["wm_redis"])  # type: ignore[assignment]
cache: redis.Redis = LocalProxy(lambda: current_app.extensions["wm_cache"])  # type: ignore[assignment]


QUEUE_NAMES = ("critical", "high", "default", "low", "maintenance")
ENCODE_QUEUE = "encode"


def get_queue(name: str):
    """The RQ queue called ``name`` on the app's queue Redis."""
    from rq import Queue

    if name not in QUEUE_NAMES and name != ENCODE_QUEUE:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=current_app.extensions["wm_redis"])


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Embedded SQLite: write-ahead log (web and workers write at once), no fsync per commit, foreign keys."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
