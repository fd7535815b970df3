"""Creator Studio: where creators manage what they publish."""

from __future__ import annotations

from flask import Blueprint, Response

from wm.models.accounts import Role
from wm.web import render, role_required

bp = Blueprint("studio", __name__, url_prefix="/studio")


@bp.get("/")
@role_required(Role.creator)
def index() -> Response:
    """The studio home."""
    return render("studio/index.html")
