"""Flask extensions, created unbound here and bound to the app in ``create_app``."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta

import redis
from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_session import Session
from flask_session.redis import RedisSessionInterface
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

class LifetimeSessionInterface(RedisSessionInterface):
    """Redis sessions whose lifetime fits who holds them.

    Anonymous sessions (a CSRF token for the login form) live ``WM_SESSION_ANONYMOUS_SECONDS``;
    signed-in ones expire after ``WM_SESSION_IDLE_SECONDS`` unused and at the latest
    ``WM_SESSION_MAX_SECONDS`` after the password was entered (``_auth_at``), however active.
    """

    def open_session(self, app: Flask, request):
        """The stored session, or a fresh one when its absolute lifetime is over."""
        session = super().open_session(app, request)
        started = session.get("_auth_at")
        if started is not None and time.time() - started > app.config["WM_SESSION_MAX_SECONDS"]:
            self._delete_session(self._get_store_id(session.sid))
            return self.session_class(sid=self._generate_sid(self.sid_length), permanent=False)
        return session

    def _upsert_session(self, session_lifetime: timedelta, session, store_id: str) -> None:
        config = self.app.config
        if "_user_id" not in session:
            seconds = config["WM_SESSION_ANONYMOUS_SECONDS"]
        else:
            seconds = config["WM_SESSION_IDLE_SECONDS"]
            started = session.get("_auth_at")
            if started is not None:
                seconds = min(seconds, max(1, int(started + config["WM_SESSION_MAX_SECONDS"] - time.time())))
        super()._upsert_session(timedelta(seconds=seconds), session, store_id)

    def rotate(self, session) -> None:
        """Give ``session`` a new id and nothing of its old content (which is deleted from Redis).

        Called at every change of privilege (log in, log out), so an id planted or seen before
        is worth nothing after; the CSRF token goes with the old content.
        """
        self._delete_session(self._get_store_id(session.sid))
        session.clear()
        session.sid = self._generate_sid(self.sid_length)
        session.modified = True


class ServerSession(Session):
    """Flask-Session with :class:`LifetimeSessionInterface` on the app's Redis."""

    def _get_interface(self, app: Flask) -> LifetimeSessionInterface:
        config = app.config
        return LifetimeSessionInterface(app, client=config["SESSION_REDIS"], key_prefix=config["SESSION_KEY_PREFIX"],
                                        permanent=config["SESSION_PERMANENT"])


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
server_session = ServerSession()


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
