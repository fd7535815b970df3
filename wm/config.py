"""Configuration from ``WM_*`` environment variables, with safe embedded defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """The writable state folder (SQLite file, secret key, local storage, runtime files)."""
    path = Path(os.environ.get("WM_VAR_DIR", ROOT / "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def force_utf8mb4(url: str) -> str:
    """Force ``charset=utf8mb4`` on MySQL URLs; leave every other URL as it is."""
    if not url.startswith("mysql"):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["charset"] = "utf8mb4"
    return urlunsplit(parts._replace(query=urlencode(query)))


def redis_db_url(url: str, db: int) -> str:
    """The same Redis server as ``url`` with another database index."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return url.split("?", 1)[0] + "?" + urlencode(query)
    return urlunsplit(parts._replace(path=f"/{db}"))


def redis_db_index(url: str) -> int:
    """The database index a Redis URL names (0 when it names none)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return int(dict(parse_qsl(parts.query)).get("db", 0))
    return int(parts.path.strip("/") or 0)


def limits_storage_uri(url: str) -> str:
    """The ``limits`` library spells a Redis socket URL ``redis+unix://``."""
    return "redis+" + url if url.startswith("unix://") else url


def secret_key(folder: Path) -> str:
    """``WM_SECRET_KEY``, or a key generated once and kept in ``var/secret_key``."""
    if os.environ.get("WM_SECRET_KEY"):
        return os.environ["WM_SECRET_KEY"]
    path = folder / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def from_env() -> dict:
    """Build the Flask config mapping from the environment (and ``.env`` if present)."""
    load_dotenv(ROOT / ".env")
    env = os.environ.get
    folder = var_dir()
    redis_url = env("WM_REDIS_URL", "redis://127.0.0.1:6379/0")
    cache_url = env("WM_CACHE_URL") or redis_db_url(redis_url, redis_db_index(redis_url) + 1)
    database_url = force_utf8mb4(env("WM_DATABASE_URL", f"sqlite:///{folder / 'weekmotion.db'}"))
    public_url = env("WM_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return {
        "SECRET_KEY": secret_key(folder),
        "WM_VAR_DIR": str(folder),
        "WM_PUBLIC_URL": public_url,
        "WM_REDIS_URL": redis_url,
        "WM_CACHE_URL": cache_url,
        "WM_STORAGE_URL": env("WM_STORAGE_URL", f"file://{folder / 'storage'}"),
        "WM_PROXY_HOPS": int(env("WM_PROXY_HOPS", "1")),
        "WM_LOGIN_RATE_LIMIT": env("WM_LOGIN_RATE_LIMIT", "10 per minute"),
        "WM_API_RATE_LIMIT": env("WM_API_RATE_LIMIT", "600 per minute"),
        "WM_API_TOKEN_RATE_LIMIT": env("WM_API_TOKEN_RATE_LIMIT", "300 per minute"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MAX_CONTENT_LENGTH": int(env("WM_MAX_REQUEST_BYTES", str(16 * 1024 * 1024))),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_recycle": 3600},
        "SESSION_TYPE": "redis",
        "SESSION_KEY_PREFIX": "session:",
        # The session cookie ends with the browser; staying logged in is the remember-me cookie's job.
        "SESSION_PERMANENT": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_url.startswith("https://"),
        # Flask-Login's own remember cookie (a signed user id, the same on every device) is never
        # issued; giving its name to ours makes it ignore any such legacy cookie.
        "REMEMBER_COOKIE_NAME": "wm_remember",
        "REMEMBER_COOKIE_SECURE": public_url.startswith("https://"),
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WM_SESSION_ANONYMOUS_SECONDS": int(env("WM_SESSION_ANONYMOUS_SECONDS", str(2 * 3600))),
        "WM_SESSION_IDLE_SECONDS": int(env("WM_SESSION_IDLE_SECONDS", str(12 * 3600))),
        "WM_SESSION_MAX_SECONDS": int(env("WM_SESSION_MAX_SECONDS", str(30 * 24 * 3600))),
        "WM_REMEMBER_SECONDS": int(env("WM_REMEMBER_SECONDS", str(30 * 24 * 3600))),
        "RATELIMIT_STORAGE_URI": limits_storage_uri(redis_url),
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "WM_MAX_UPLOAD_BYTES": int(env("WM_MAX_UPLOAD_BYTES", str(8 * 1024**3))),
        "WM_UPLOAD_CHUNK_BYTES": int(env("WM_UPLOAD_CHUNK_BYTES", str(32 * 1024**2))),
        "WM_UPLOAD_EXPIRY_HOURS": int(env("WM_UPLOAD_EXPIRY_HOURS", "24")),
        "WM_UPLOAD_MIN_FREE_BYTES": int(env("WM_UPLOAD_MIN_FREE_BYTES", str(1024**3))),
        "WM_CREATOR_QUOTA_BYTES": int(env("WM_CREATOR_QUOTA_BYTES", str(50 * 1024**3))),
        "WM_MAX_SOURCE_PIXELS": env("WM_MAX_SOURCE_PIXELS", "4096x4096"),
        "WM_MAX_SOURCE_SECONDS": float(env("WM_MAX_SOURCE_SECONDS", str(4 * 3600))),
        "WM_LONG_VIDEO_SECONDS": float(env("WM_LONG_VIDEO_SECONDS", "600")),
        "WM_PREVIEW_SECONDS": int(env("WM_PREVIEW_SECONDS", "60")),
        "WM_ENCODE_PRESET": env("WM_ENCODE_PRESET", "veryfast"),
        "WM_ENCODE_CRF": int(env("WM_ENCODE_CRF", "23")),
        "WM_PASSWORD_HASH": {"time_cost": 3, "memory_cost": 65536, "parallelism": 4},
    }
