"""Where jobs run: RQ on Redis in production (`lti-tool worker`), a small thread pool in the
process in the embedded default. Jobs take their own database session, so a job never shares
a request's transaction. Both are the runtime's `JobQueue` (runtime.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

log = logging.getLogger("lti_tool.jobs")
QUEUE_NAME = "lti_tool"
# What RQ imports, by this path, in the worker to run a job by name (wiring.py).
RQ_ENTRY = "lti_tool.wiring.run_job"


class InProcessQueue:
    """Runs each job by name with `run` (a job's name, then its arguments) in a thread."""

    def __init__(self, run: Callable[..., Any], workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lti-job")
        self._job = run
        self.pending: list[Future[Any]] = []
        self._timers: list[threading.Timer] = []
        self._closed = False

    def enqueue(self, name: str, *args: Any) -> None:
        if self._closed:
            # Shutting down: the work is in the database (the outbox, the sync times) and
            # the next process's schedule takes it up; nothing is lost by not running it.
            log.info("job %s%r not started: the process is shutting down", name, args)
            return
        future = self._pool.submit(self._run, name, *args)
        self.pending = [f for f in self.pending if not f.done()] + [future]

    def enqueue_in(self, seconds: float, name: str, *args: Any) -> None:
        timer = threading.Timer(seconds, self.enqueue, (name, *args))
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _run(self, name: str, *args: Any) -> Any:
        try:
            return self._job(name, *args)
        except Exception:
            log.exception("job %s%r failed", name, args)
            return None

    def wait(self, timeout: float = 60.0) -> None:
        """Block until queued jobs are done (tests and the CLI)."""
        while self.pending:
            future = self.pending.pop(0)
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._pool.shutdown(wait=True)


class RQQueue:
    """RQ on Redis: any number of `lti-tool worker` processes take the jobs."""

    def __init__(self, redis: Any, name: str = QUEUE_NAME) -> None:
        from rq import Queue

        self.queue = Queue(name, connection=redis)

    def enqueue(self, name: str, *args: Any) -> None:
        self.queue.enqueue(RQ_ENTRY, name, *args, job_timeout=1800)

    def enqueue_in(self, seconds: float, name: str, *args: Any) -> None:
        self.queue.enqueue_in(timedelta(seconds=seconds), RQ_ENTRY, name, *args, job_timeout=1800)
