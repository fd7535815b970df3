"""/health against real and unreachable services; configuration from the environment."""

from __future__ import annotations

from tests.fixtures.apps import app_config
from wm import config, create_app


def test_health_is_ok_when_database_and_redis_answer(admin_client):
    response = admin_client.get("/health")
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"]["dialect"] == "mysql"
    assert body["checks"]["redis"]["ok"] is True


def test_health_tells_the_public_only_its_status(client, viewer_client):
    for visitor in (client, viewer_client):
        response = visitor.get("/health")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok"}
        assert "mysql" not in response.get_data(as_text=True)


def test_health_is_503_when_the_database_is_down(app):
    down = create_app(app_config("mysql+pymysql://root@127.0.0.1:1/nothing"))
    response = down.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "fail"}
    with down.app_context():
        from wm.services.platform import health_report

        checks = health_report()["checks"]
    assert checks["database"]["ok"] is False and checks["redis"]["ok"] is True


def test_health_is_503_when_redis_is_down(mysql_url):
    down = create_app(app_config(mysql_url, WM_REDIS_URL="redis://127.0.0.1:1/0"))
    response = down.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "fail"}
    with down.app_context():
        from wm.services.platform import health_report

        checks = health_report()["checks"]
    assert checks["redis"]["ok"] is False and checks["database"]["ok"] is True


def test_mysql_urls_are_forced_to_utf8mb4():
    assert config.force_utf8mb4("mysql+pymysql://u@h/db") == "mysql+pymysql://u@h/db?charset=utf8mb4"
    assert config.force_utf8mb4("mysql+pymysql://u@h/db?charset=latin1") == "mysql+pymysql://u@h/db?charset=utf8mb4"
    assert config.force_utf8mb4("sqlite:///x.db") == "sqlite:///x.db"


def test_app_database_connection_really_is_utf8mb4(app):
    from wm.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT @@character_set_connection").scalar() == "utf8mb4"


def test_environment_defaults(monkeypatch, tmp_path):
    for name in ("WM_DATABASE_URL", "WM_REDIS_URL", "WM_CACHE_URL", "WM_SECRET_KEY", "WM_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WM_VAR_DIR", str(tmp_path))
    settings = config.from_env()
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'weekmotion.db'}"
    assert settings["WM_REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert settings["WM_CACHE_URL"] == "redis://127.0.0.1:6379/1"
    assert settings["WM_STORAGE_URL"] == f"file://{tmp_path / 'storage'}"
    key = settings["SECRET_KEY"]
    assert len(key) > 40 and config.from_env()["SECRET_KEY"] == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("WM_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("WM_SECRET_KEY", "from-env")
    monkeypatch.setenv("WM_REDIS_URL", "unix:///run/r.sock?db=3")
    monkeypatch.delenv("WM_CACHE_URL", raising=False)
    monkeypatch.setenv("WM_DATABASE_URL", "mysql+pymysql://u:p@db/wm")
    settings = config.from_env()
    assert settings["SECRET_KEY"] == "from-env"
    assert settings["WM_CACHE_URL"] == "unix:///run/r.sock?db=4"
    assert settings["RATELIMIT_STORAGE_URI"] == "redis+unix:///run/r.sock?db=3"
    assert settings["SQLALCHEMY_DATABASE_URI"].endswith("?charset=utf8mb4")
    assert not (tmp_path / "secret_key").exists()
