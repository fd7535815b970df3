"""Discovery pages: the feed and search."""

from __future__ import annotations

from flask import Blueprint, Response, request

from wm.services import accounts as account_service
from wm.services import media
from wm.web import render

bp = Blueprint("discovery", __name__)


@bp.get("/")
def feed() -> Response:
    """The community feed: the latest published videos."""
    return render("discovery/feed.html", videos=media.published_videos())


@bp.get("/search")
def search() -> Response:
    """Search the platform (channels by handle or name, for now)."""
    query = request.args.get("q", "")[:200]
    channels = account_service.search_users(query)
    return render("discovery/search.html", block="results", query=query, channels=channels)
