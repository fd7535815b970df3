"""Maintenance tasks: run by the scheduler on the ``maintenance`` queue, or once by ``wm maintenance TASK``.

Each task is safe to run twice and returns a small summary dict.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rq.registry import clean_registries
from rq.worker_registration import clean_worker_registry

from jobs.media import sweep_orphans
from wm.extensions import ENCODE_QUEUE, QUEUE_NAMES, get_queue
from wm.queues import current_queue_depths
from wm.services.media.upload import expire_uploads

log = logging.getLogger(__name__)

CRITICAL_BACKLOG_ALERT = 500


def clean_queues() -> dict:
    """Retry or fail jobs whose worker died, and forget dead workers."""
    summary = {}
    for name in (*QUEUE_NAMES, ENCODE_QUEUE):
        queue = get_queue(name)
        before = queue.started_job_registry.count
        clean_registries(queue)
        clean_worker_registry(queue)
        summary[name] = before - queue.started_job_registry.count
    log.info("clean-queues: abandoned jobs handled per queue: %s", summary)
    return summary


def queue_report() -> dict:
    """Log queue depths; warn when the critical queue backs up."""
    depths = current_queue_depths()
    log.info("queue-report: %s", depths)
    if depths["critical"]["queued"] > CRITICAL_BACKLOG_ALERT:
        log.warning("queue-report: critical backlog of %d jobs", depths["critical"]["queued"])
    return depths


TASKS: dict[str, Callable[[], dict]] = {
    "clean-queues": clean_queues,
    "queue-report": queue_report,
    "expire-uploads": expire_uploads,
    "sweep-orphans": sweep_orphans,
}

# name -> (task, cron expression) for ``wm scheduler``
SCHEDULE: dict[str, tuple[Callable[[], dict], str]] = {
    "clean-queues": (clean_queues, "*/5 * * * *"),
    "queue-report": (queue_report, "* * * * *"),
    "expire-uploads": (expire_uploads, "17 * * * *"),
    "sweep-orphans": (sweep_orphans, "43 3 * * *"),
}
