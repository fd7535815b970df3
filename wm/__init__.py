"""Weekmotion: a self-hostable video-sharing and creator-economy platform."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from wm import config as wm_config
from wm.extensions import csrf, db, init_redis, limiter, login_manager, migrate, server_session
from wm.storage import init_storage

__version__ = "0.1.0"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app from ``WM_*`` settings, with ``config`` overriding them (tests)."""
    app = Flask(__name__)
    app.config.update(wm_config.from_env())
    if config:
        app.config.update(config)
    app.config["SQLALCHEMY_DATABASE_URI"] = wm_config.force_utf8mb4(app.config["SQLALCHEMY_DATABASE_URI"])
    hops = app.config["WM_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import wm.models  # noqa: F401  (registers every model on db.metadata)

    init_redis(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(wm_config.ROOT / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    limiter.init_app(app)
    server_session.init_app(app)
    init_storage(app)

    from wm import web
    from wm.blueprints import register_blueprints
    from wm.cli import register_cli
    from wm.models.accounts import Role
    from wm.services.accounts import load_user
    from wm.services.media.playback import poster_url

    login_manager.user_loader(load_user)
    # Before any blueprint adds its rules: every <int:...> in a URL is bounded to what a BIGINT holds.
    app.url_map.converters["int"] = web.BoundedIntConverter
    web.register_error_handlers(app)
    web.register_response_policy(app)
    register_blueprints(app)
    register_cli(app)
    app.jinja_env.globals.update(Role=Role, static_url=web.static_url, public_url_for=web.public_url_for,
                                 media_poster=poster_url)
    return app
