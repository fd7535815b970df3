"""Moderation pages."""

from __future__ import annotations

from flask import Blueprint, Response

from wm.models.accounts import Role
from wm.services.governance import recent_audit
from wm.web import render, role_required

bp = Blueprint("governance", __name__, url_prefix="/moderation")


@bp.get("/")
@role_required(Role.moderator)
def index() -> Response:
    """The moderation dashboard."""
    return render("governance/index.html", audit=recent_audit(20))
