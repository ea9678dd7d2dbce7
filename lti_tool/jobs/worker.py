"""The `lti-tool worker` process: an RQ worker that also sees to it that due scores are
drained again soon after a crash.

A worker killed mid-batch leaves its rows leased; RQ moves its drain job to the failed
registry (`AbandonedJobError`) and never runs it again, and the scheduler that would run a
delayed drain may have died with it. So every worker, between jobs and every few seconds when
idle, checks for scores that are due and held by nobody (a lease expired) and queues one
drain for the lot (one per check interval however many workers there are). Students gated in
the LMS by those scores wait about a lease and a check interval, not until the next tick.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from lti_tool.grading.outbox import due_now
from lti_tool.jobs.queue import RQQueue
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.types import utcnow
from lti_tool.settings import Settings

log = logging.getLogger("lti_tool.jobs.worker")


def check_interval(settings: Settings) -> int:
    """Seconds between checks: a quarter of the lease, from 1 to 30."""
    return max(1, min(30, settings.passback_lease_seconds // 4))


class DueScoreWatch:
    """Queues a drain when scores are due and nobody holds them."""

    def __init__(self, settings: Settings, connection: Any, queue_name: str) -> None:
        self.settings = settings
        self.connection = connection
        self.queue_name = queue_name
        self.interval = check_interval(settings)
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        # No pool: RQ forks a work horse per job from this process, and a pooled connection
        # would be shared with it. One short connection per check is cheap.
        if self._engine is None:
            self._engine = create_engine(self.settings.database_url, poolclass=NullPool)
        return self._engine

    def check(self) -> bool:
        """True when a drain was queued."""
        key = f"{self.settings.redis_prefix}:drain_watch"
        if not self.connection.set(key, 1, nx=True, ex=self.interval):
            return False  # another worker checked within this interval
        with self.engine.connect() as conn:
            due = conn.execute(select(ScoreOutbox.id).where(*due_now(utcnow())).limit(1)).first()
        if due is None:
            return False
        RQQueue(self.connection, self.queue_name).enqueue("drain", None)
        log.info("due scores held by nobody: drain queued")
        return True


def make_worker(settings: Settings, connection: Any, queue_name: str, name: str) -> Any:
    """An RQ worker whose maintenance, run every check interval, includes the watch."""
    from rq import Worker

    watch = DueScoreWatch(settings, connection, queue_name)

    class PassbackWorker(Worker):  # type: ignore[misc]
        def run_maintenance_tasks(self) -> None:
            super().run_maintenance_tasks()
            try:
                watch.check()
            except Exception:  # a database or Redis hiccup must not stop the worker
                log.exception("the due-score check failed; next try in %ss", watch.interval)

    return PassbackWorker(
        [queue_name],
        connection=connection,
        name=name,
        maintenance_interval=watch.interval,
        # RQ waits for a job this long minus 15 s before it runs maintenance again when idle.
        worker_ttl=watch.interval + 15,
    )
