"""The schema exists only through migrations: up, down to base, up again, on MariaDB and SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.fixtures.apps import app_config, create_mysql_database, drop_mysql_database
from wm import create_app
from wm.extensions import db


@pytest.fixture(params=["mariadb", "sqlite"])
def fresh_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = create_mysql_database("wm_test_mig_")
    yield url
    drop_mysql_database(url)


def tables(app) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(fresh_database_url):
    app = create_app(app_config(fresh_database_url))
    with app.app_context():
        upgrade()
    assert {"users", "audit_log", "videos", "uploads"} <= tables(app)
    with app.app_context():
        downgrade(revision="base")
    assert tables(app) == set()
    with app.app_context():
        upgrade()
        db.engine.dispose()
    assert {"users", "audit_log", "videos", "uploads"} <= tables(app)


def test_models_match_the_migrations(fresh_database_url):
    app = create_app(app_config(fresh_database_url))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == [], f"models differ from migrations; run 'wm db migrate': {diff}"
