"""A worker killed mid-batch stalls no score for long: of two `lti-tool worker` processes
posting to a slow LMS, one is killed with SIGKILL (with its work horse and scheduler) while it
holds a batch; every score is in the LMS gradebook within twice the lease of the kill, not at
the next hourly tick (RQ never runs the killed drain again)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from sqlalchemy import func, select

from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import Competency
from lti_tool.models.types import utcnow
from lti_tool.sandbox.faults import set_faults
from tests.integration.test_loop import setup_course
from tests.integration.test_outbox import posted_count, queue_all
from tests.processes import signal_family, start_worker, stop_workers

pytestmark = pytest.mark.postgres
LEASE = 10  # seconds
# Per LMS call, and two posts at a time per worker: the 48 scores take a worker five seconds
# or more, so the first one still holds some when the second has started.
LATENCY_MS = 200
WIDTH = 2


def _held(rt) -> int:
    """Scores leased by a worker right now."""
    with rt.session_factory() as s:
        return s.scalar(
            select(func.count())
            .select_from(ScoreOutbox)
            .where(ScoreOutbox.state == "pending", ScoreOutbox.claimed_until > utcnow())
        )


def _registered(redis_space) -> list:
    from rq import Queue, Worker

    return list(Worker.all(queue=Queue(redis_space.prefix, connection=redis_space.client)))


def test_every_score_arrives_within_twice_the_lease_of_a_crash(
    live_server, database_url, redis_space
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("worker processes on one database: run on PostgreSQL, as in production")
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    with rt.session_factory() as s:
        second = Competency(context_id=context_id, code="FRAC-2", title="Comparing fractions")
        s.add(second)
        s.commit()
        second_id = second.id
    total = queue_all(rt, context_id, comp_id, 2.0) + queue_all(rt, context_id, second_id, 3.0)
    with rt.session_factory() as s:
        set_faults(s, "moodle", latency_ms=LATENCY_MS)
        s.commit()

    def start() -> subprocess.Popen:
        return start_worker(
            database_url,
            redis_space.env(),
            live_server.tool_url,
            passback_lease_seconds=LEASE,
            passback_concurrency=WIDTH,
        )

    workers = [start()]
    try:
        # The first worker drains what is due when it starts; a second one joins; the first
        # dies holding a batch, and the second carries on.
        deadline = time.monotonic() + 60
        while not (_held(rt) and posted_count(rt) >= 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _held(rt) and posted_count(rt) >= 3, "the worker did not start posting"
        workers.append(start())
        while len(_registered(redis_space)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert posted_count(rt) < total, "the first worker finished before the second one started"
        signal_family(workers[0], signal.SIGKILL)
        killed_at = time.monotonic()
        workers[0].wait(10)
        assert _held(rt), "the worker died holding no score"
        while posted_count(rt) < total and time.monotonic() < killed_at + 3 * LEASE + 10:
            time.sleep(0.1)
        took = time.monotonic() - killed_at
    finally:
        stop_workers(workers)
        with rt.session_factory() as s:
            set_faults(s, "moodle", latency_ms=0)
            s.commit()
    posted = posted_count(rt)
    assert posted == total, f"{total - posted} scores still waiting {took:.1f} s after the crash"
    assert took <= 2 * LEASE, f"the last score arrived {took:.1f} s after the crash"


def test_a_worker_queues_one_drain_per_interval_for_scores_nobody_holds(
    live_server, redis_space
) -> None:
    """The check every worker runs between jobs: due scores held by nobody get a drain."""
    from dataclasses import replace

    from lti_tool.jobs.worker import DueScoreWatch

    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    settings = replace(rt.settings, redis_prefix=redis_space.prefix, passback_lease_seconds=8)
    watch = DueScoreWatch(settings, redis_space.client, redis_space.prefix)
    assert watch.interval == 2
    assert not watch.check(), "nothing due: no drain"
    redis_space.client.delete(f"{redis_space.prefix}:drain_watch")
    queue_all(rt, context_id, comp_id, 2.0)
    assert watch.check()
    assert not watch.check(), "one check per interval, however many workers"
    jobs = redis_space.queue().queue.jobs
    assert [j.args for j in jobs] == [("drain", None)]
