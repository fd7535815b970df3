"""Where a video's files live in storage: the one home of the key layout.

``raw/<public id>/source`` holds an ingested source until its encode is published;
``processing/<public id>/a<attempt>/`` holds an encode's output while it is copied into place;
``published/<public id>/v<attempt>/`` is what players read (the video row's ``published_prefix``).
"""

from __future__ import annotations

RAW, PROCESSING, PUBLISHED = "raw", "processing", "published"
STAGES = (RAW, PROCESSING, PUBLISHED)


def stage_prefix(stage: str, public_id: str) -> str:
    """Every key of one video in one stage."""
    return f"{stage}/{public_id}/"


def raw_key(public_id: str) -> str:
    """The ingested source of a video."""
    return f"{RAW}/{public_id}/source"


def processing_prefix(public_id: str, attempt: int) -> str:
    """Where encode attempt ``attempt`` puts its output before it is published."""
    return f"{PROCESSING}/{public_id}/a{attempt}/"


def published_prefix(public_id: str, attempt: int) -> str:
    """Where the output of encode attempt ``attempt`` is published."""
    return f"{PUBLISHED}/{public_id}/v{attempt}/"


def is_published(key: str) -> bool:
    """Whether ``key`` lies in the published stage (the only one browsers may fetch from)."""
    return key.startswith(f"{PUBLISHED}/")


def public_id_of(key: str) -> str:
    """The public id of the video a key belongs to."""
    return key.split("/")[1]
