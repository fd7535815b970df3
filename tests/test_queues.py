"""RQ queues on real Redis: enqueue after commit, retries, failures kept, abandoned jobs retried."""

from __future__ import annotations

import ast
import time
from pathlib import Path

from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler

from tests.fixtures.users import make_user
from tests.fixtures.workers import kill_worker, make_scheduled_jobs_due, record_marker, start_worker, worker_env
from wm.extensions import db, get_queue, redis_client
from wm.queues import RETRY_INTERVALS, build_scheduler, enqueue, enqueue_after_commit, worker_queues

MARKER = "tests.fixtures.workers.record_marker"


def marker_count(key: str) -> int:
    return int(redis_client.get(f"test:marker:{key}") or 0)


def test_job_is_enqueued_only_after_the_transaction_commits(app, burst_worker):
    with app.app_context():
        make_user(app, handle="queued")
        enqueue_after_commit("default", MARKER, "after-commit")
        assert get_queue("default").count == 0
        db.session.commit()
        assert get_queue("default").count == 1
        burst_worker()
        assert marker_count("after-commit") == 1


def test_job_is_never_enqueued_when_the_transaction_rolls_back(app, burst_worker):
    with app.app_context():
        enqueue_after_commit("default", MARKER, "rolled-back")
        db.session.rollback()
        db.session.commit()
        assert get_queue("default").count == 0
        burst_worker()
        assert marker_count("rolled-back") == 0


def test_jobs_get_three_retries_with_backoff_and_failures_are_kept(app, burst_worker):
    with app.app_context():
        job = enqueue("low", "tests.fixtures.workers.always_fails", "boom")
        assert job.retries_left == 3 and job.retry_intervals == list(RETRY_INTERVALS)
        burst_worker()
        job.refresh()
        assert job.get_status() == JobStatus.SCHEDULED and job.retries_left == 2
        no_retry = enqueue("low", "tests.fixtures.workers.always_fails", "final", retry=None)
        burst_worker()
        assert no_retry.id in get_queue("low").failed_job_registry.get_job_ids()
        assert "RuntimeError: final" in Job.fetch(no_retry.id, connection=redis_client).latest_result().exc_string
        assert redis_client.ttl(no_retry.key) > 7 * 24 * 3600


def test_general_worker_serves_queues_in_priority_order(app, burst_worker):
    assert worker_queues("general") == ["critical", "high", "default", "low", "maintenance"]
    assert worker_queues("encode") == ["encode"]
    with app.app_context():
        for queue in ("low", "critical", "default"):
            enqueue(queue, "tests.fixtures.workers.record_order", queue)
        burst_worker()
        assert [x.decode() for x in redis_client.lrange("test:order", 0, -1)] == ["critical", "default", "low"]


def test_a_killed_worker_s_job_is_retried_and_finishes(app, mysql_url, burst_worker):
    """SIGKILL a worker mid-job: once its heartbeat lapses the job runs again, to completion."""
    with app.app_context():
        job = enqueue("default", "tests.fixtures.workers.slow_marker", "killed", 60)
        worker = start_worker(worker_env(app, mysql_url))
        try:
            deadline = time.monotonic() + 30
            while job.get_status(refresh=True) != JobStatus.STARTED and time.monotonic() < deadline:
                time.sleep(0.1)
            assert job.get_status() == JobStatus.STARTED
        finally:
            kill_worker(worker)
        registry = get_queue("default").started_job_registry
        # What time would do: the heartbeat lapses, and the dead worker's scheduler lock expires.
        registry.cleanup(timestamp=time.time() + 3600)
        redis_client.delete(*(RQScheduler.get_locking_key(name) for name in worker_queues("general")))
        job.refresh()
        assert job.get_status() == JobStatus.SCHEDULED and job.retries_left == 2
        redis_client.set("test:slow_marker:fast", 1)
        assert make_scheduled_jobs_due("default") == 1  # the first backoff, over
        burst_worker(with_scheduler=True)
        assert job.get_status(refresh=True) == JobStatus.FINISHED
        assert marker_count("killed") == 1


def test_the_scheduler_runs_the_schedule_it_is_handed(app):
    from jobs.maintenance import SCHEDULE

    scheduler = build_scheduler(app, SCHEDULE)
    assert sorted(job.name for job in scheduler.get_jobs()) == sorted(SCHEDULE)
    assert [job.name for job in build_scheduler(app, {"marker": (record_marker, "* * * * *")}).get_jobs()] == [
        "marker"]


def test_infrastructure_modules_import_no_job_or_domain_code():
    """wm.queues, wm.storage and wm.extensions sit below jobs and services: no import of either, not even inside a
    function (which is how the scheduler used to reach jobs.maintenance)."""
    root = Path(__file__).resolve().parents[1] / "wm"
    for name in ("queues.py", "storage.py", "extensions.py"):
        tree = ast.parse((root / name).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not [m for m in imported if m.split(".")[0] == "jobs" or m.startswith("wm.services")], name
