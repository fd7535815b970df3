"""Maintenance tasks: run by the scheduler on the ``maintenance`` queue, or once by ``wm maintenance TASK``.

Each task is safe to run twice and returns a small summary dict. The scheduler gets ``SCHEDULE`` handed to
it (``wm.queues.build_scheduler(app, SCHEDULE)``): infrastructure never imports the jobs.
"""

from __future__ import annotations

from collections.abc import Callable

from jobs.media import sweep_orphans
from wm.queues import clean_abandoned_jobs, report_queue_depths
from wm.services.media.upload import expire_uploads


def clean_queues() -> dict:
    """Retry or fail jobs whose worker died, and forget dead workers."""
    return clean_abandoned_jobs()


def queue_report() -> dict:
    """Log queue depths; warn when the critical queue backs up."""
    return report_queue_depths()


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
