"""Media jobs: thin RQ entry points over ``wm.services.media.pipeline``. They take ids, never ORM objects."""

from __future__ import annotations

from rq import get_current_job

from wm.services.media import pipeline


def ingest(video_id: int) -> str:
    """Check a finished upload and queue its encode, or refuse it."""
    return pipeline.ingest(video_id)


def encode(video_id: int) -> str:
    """Encode and publish a video, with its progress in the job's ``meta`` too."""
    job = get_current_job()

    def tell_rq(percent: int) -> None:
        job.meta["progress"] = percent
        job.save_meta()

    return pipeline.encode(video_id, tell_rq if job is not None else None)


def encode_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: once the last retry has failed, tell the creator why."""
    if job.retries_left:
        return
    pipeline.encode_failed(job.args[0], str(exc_value).strip()[:300] or exc_type.__name__)


def hard_delete(video_id: int) -> dict:
    """Remove every stored file of a deleted video."""
    return pipeline.hard_delete(video_id)


def sweep_orphans() -> dict:
    """Delete stored files and upload files that no live video points to."""
    return pipeline.sweep_orphans()
