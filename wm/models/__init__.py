"""SQLAlchemy models, one module per domain. Importing this package registers them all."""

from wm.models import accounts, governance, media  # noqa: F401
