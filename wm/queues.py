"""Background jobs on RQ: enqueue helpers with the house defaults, the worker, the scheduler.

RQ delivers at least once, so every job must be safe to run twice. A worker killed mid-job is
noticed when its job's heartbeat lapses (``JOB_MONITORING_INTERVAL`` + 60 s) at the next registry
maintenance (``MAINTENANCE_INTERVAL``); the abandoned job is then retried like a failed one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from rq import Retry, Worker
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import clean_registries
from rq.worker_registration import clean_worker_registry
from sqlalchemy import event
from sqlalchemy.orm import Session

from wm.extensions import ENCODE_QUEUE, QUEUE_NAMES, db, get_queue

log = logging.getLogger(__name__)

RETRY_INTERVALS = (10, 60, 300)
RESULT_TTL = 24 * 3600
FAILURE_TTL = 30 * 24 * 3600
JOB_TIMEOUTS = {ENCODE_QUEUE: 4 * 3600}
DEFAULT_JOB_TIMEOUT = 600
MAINTENANCE_INTERVAL = 30
JOB_MONITORING_INTERVAL = 10
CRITICAL_BACKLOG_ALERT = 500

_PENDING = "wm_pending_jobs"


def job_options(queue: str) -> dict[str, Any]:
    """RQ ``enqueue`` keyword arguments every job of ``queue`` gets unless it says otherwise."""
    return {
        "retry": Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "job_timeout": JOB_TIMEOUTS.get(queue, DEFAULT_JOB_TIMEOUT),
    }


def enqueue(queue: str, func: Callable | str, *args: Any, **options: Any) -> Job:
    """Enqueue ``func(*args)`` on ``queue`` now, with the house defaults."""
    return get_queue(queue).enqueue(func, *args, **(job_options(queue) | options))


def enqueue_after_commit(queue: str, func: Callable | str, *args: Any, **options: Any) -> None:
    """Enqueue ``func(*args)`` once the current database transaction commits; never if it rolls back."""
    session = db.session()
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_PENDING, []).append((queue, func, args, options))


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    for queue, func, args, options in session.info.pop(_PENDING, []):
        enqueue(queue, func, *args, **options)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction is gone, and its jobs with it
        session.info.pop(_PENDING, None)


class AppWorker(Worker):
    """An RQ worker that runs each job inside the Flask app context it was started with."""

    def __init__(self, *args: Any, app: Flask, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL)
        kwargs.setdefault("job_monitoring_interval", JOB_MONITORING_INTERVAL)
        super().__init__(*args, connection=app.extensions["wm_redis"], **kwargs)
        self.app = app

    def main_work_horse(self, job: Job, queue: Any) -> None:
        """In the forked work horse, drop the pooled connections inherited from the parent."""
        with self.app.app_context():
            db.engine.dispose(close=False)
        super().main_work_horse(job, queue)

    def perform_job(self, job: Job, queue: Any, execution: Any) -> bool:
        """Run the job in an app context and close its database session afterwards."""
        with self.app.app_context():
            try:
                return super().perform_job(job, queue, execution)
            finally:
                db.session.remove()


def worker_queues(kind: str) -> list[str]:
    """Queue names, in priority order, for ``wm worker`` (general) or ``wm worker encode``."""
    if kind == "encode":
        return [ENCODE_QUEUE]
    if kind == "general":
        return list(QUEUE_NAMES)
    raise ValueError(f"unknown worker kind {kind!r}: use 'general' or 'encode'")


def run_worker(app: Flask, kind: str = "general", burst: bool = False, with_scheduler: bool = True) -> bool:
    """Start a worker for ``kind``'s queues; in burst mode it returns once they are empty."""
    worker = AppWorker(worker_queues(kind), app=app)
    return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")


def build_scheduler(app: Flask, schedule: Mapping[str, tuple[Callable[[], Any], str]]) -> CronScheduler:
    """The periodic maintenance scheduler for ``schedule`` (name -> (task, cron expression)), which the jobs
    side hands over (``jobs.maintenance.SCHEDULE``): this module imports no job."""
    scheduler = CronScheduler(connection=app.extensions["wm_redis"], logging_level="INFO")
    for name, (func, cron) in schedule.items():
        scheduler.register(
            func,
            "maintenance",
            cron=cron,
            name=name,
            job_timeout=DEFAULT_JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
    return scheduler


def current_queue_depths() -> dict[str, dict[str, int]]:
    """Waiting, running and failed job counts per queue."""
    depths = {}
    for name in (*QUEUE_NAMES, ENCODE_QUEUE):
        queue = get_queue(name)
        depths[name] = {
            "queued": queue.count,
            "started": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count,
        }
    return depths



def clean_abandoned_jobs() -> dict[str, int]:
    """Retry or fail jobs whose worker died, and forget dead workers; per queue, how many jobs were handled."""
    summary = {}
    for name in (*QUEUE_NAMES, ENCODE_QUEUE):
        queue = get_queue(name)
        before = queue.started_job_registry.count
        clean_registries(queue)
        clean_worker_registry(queue)
        summary[name] = before - queue.started_job_registry.count
    log.info("clean-queues: abandoned jobs handled per queue: %s", summary)
    return summary


def report_queue_depths() -> dict[str, dict[str, int]]:
    """Log queue depths; warn when the critical queue backs up."""
    depths = current_queue_depths()
    log.info("queue-report: %s", depths)
    if depths["critical"]["queued"] > CRITICAL_BACKLOG_ALERT:
        log.warning("queue-report: critical backlog of %d jobs", depths["critical"]["queued"])
    return depths
