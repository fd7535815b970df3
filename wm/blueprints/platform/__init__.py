"""Platform operations: health."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from wm.extensions import limiter
from wm.services.platform import health_report

bp = Blueprint("platform", __name__)


@bp.get("/health")
@limiter.exempt
def health() -> Response:
    """JSON health of the database and Redis; 503 when either is down."""
    report = health_report()
    return jsonify(report), 200 if report["status"] == "ok" else 503
