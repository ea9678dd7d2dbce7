"""The passback job: drains the score outbox, posting each due row once (lti_tool.grading
holds how), several at a time, and comes back for the rows left waiting."""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from lti_tool.db import make_engine, make_session_factory
from lti_tool.grading.outbox import Held, claim_batch, next_ready
from lti_tool.grading.posting import post_row
from lti_tool.models.types import utcnow
from lti_tool.runtime import Runtime


@dataclass
class Drained:
    posted: int = 0
    failed: int = 0
    later: int = 0
    superseded: int = 0
    # 409 over a value typed in the LMS: kept there, shown to the teacher
    changed: int = 0

    def count(self, result: str) -> None:
        if result in ("posted", "failed", "superseded", "changed"):
            setattr(self, result, getattr(self, result) + 1)
        else:
            self.later += 1


class Posters:
    """What each posting thread keeps for the whole drain: its own database session
    (sessions are not thread-safe) and its service callers, read once per course.

    The threads draw from a pool of their own, sized to them: each holds its connection
    while it posts (the stamp lock), and in a process that also serves the platform (the
    sandbox) they would otherwise take every connection its answers need."""

    def __init__(self, rt: Runtime, width: int) -> None:
        self.rt = rt
        self.engine = make_engine(rt.engine.url.render_as_string(hide_password=False), width)
        self.sessions = make_session_factory(self.engine)
        self._local = threading.local()
        self._sessions: list[Any] = []
        self._lock = threading.Lock()

    def post(self, held: Held) -> str:
        local = self._local
        if not hasattr(local, "session"):
            local.session, local.callers = self.sessions(), {}
            with self._lock:
                self._sessions.append(local.session)
        return post_row(self.rt, *held, session=local.session, callers=local.callers)

    def close(self) -> None:
        for session in self._sessions:
            session.close()
        self.engine.dispose()


def drain(rt: Runtime, context_id: int | None = None, max_rows: int | None = None) -> Drained:
    """Post every due row (of one course, or all); returns what became of them. Rows left
    waiting for a retry get a later drain, so nothing waits for the next change.

    `passback_concurrency` threads post at once, each post's round trip to the LMS hiding
    behind the others'. Rows are claimed a thread's worth at a time whenever fewer than that
    are in flight, so the threads never wait on a batch's slowest post and other workers
    still find rows to take. Each row goes through `post_row` alone: its lease, version fence
    and one commit per score are those of a single post."""
    out = Drained()
    claimed = 0
    width = rt.settings.passback_concurrency
    posters = Posters(rt, width)
    in_flight: set[Future[str]] = set()
    with ThreadPoolExecutor(width, thread_name_prefix="passback") as pool:
        try:
            while True:
                room = width if max_rows is None else min(width, max_rows - claimed)
                if room > 0 and len(in_flight) < width:
                    batch = claim_batch(rt, context_id, utcnow(), limit=room)
                    claimed += len(batch)
                    in_flight |= {pool.submit(posters.post, held) for held in batch}
                    if batch and len(in_flight) < width:
                        continue
                if not in_flight:
                    break
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    out.count(future.result())
        finally:
            for future in in_flight:
                future.cancel()
            pool.shutdown(wait=True)
            posters.close()
    follow_up(rt, context_id)
    return out


def follow_up(rt: Runtime, context_id: int | None) -> None:
    """Rows still pending get a later drain, at the soonest time one can be claimed."""
    with rt.session_factory() as session:
        when = next_ready(session, context_id)
    if when is not None:
        wait = (when - utcnow()).total_seconds() + 1.0
        rt.jobs.enqueue_in(max(1.0, wait), "drain", context_id)
