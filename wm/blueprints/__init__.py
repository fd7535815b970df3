"""HTTP blueprints, one package per domain; each domain's JSON API beside its pages in ``api.py``."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Mount every domain's pages, then its API routes (which build the OpenAPI document)."""
    from wm.api import init_api
    from wm.blueprints.accounts import bp as accounts
    from wm.blueprints.admin import bp as admin
    from wm.blueprints.discovery import bp as discovery
    from wm.blueprints.governance import bp as governance
    from wm.blueprints.media import bp as media
    from wm.blueprints.media.api import bp as media_api
    from wm.blueprints.media.uploads import bp as uploads
    from wm.blueprints.platform import bp as platform
    from wm.blueprints.platform.api import bp as platform_api
    from wm.blueprints.studio import bp as studio

    for blueprint in (accounts, discovery, media, studio, governance, admin, platform):
        app.register_blueprint(blueprint)
    init_api(app, [platform_api, uploads, media_api])
