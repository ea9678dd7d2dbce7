"""The passback job: drains the score outbox, posting each due row once (lti_tool.grading
holds how), several at a time, and comes back for the rows left waiting."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from lti_tool.grading.outbox import claim_rows, next_ready
from lti_tool.grading.posting import Batch, Job, Poster, send
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


# Rows per batch, per posting thread: each batch costs a few statements and two commits
# whatever its size (about 0.1 s on a busy 2-core machine), so a thread's worth would keep
# the drain's own thread busier than the posts. 8, not 4: a tenth less of the tool's CPU per
# post (bench/services.py), and a course's first batch is still a thread's worth.
BATCH = 8
# Batches in flight at once: one being posted while the one before it is recorded and the
# next one claimed, so the threads do not wait for the drain's statements.
DEPTH = 2


def drain(rt: Runtime, context_id: int | None = None, max_rows: int | None = None) -> Drained:
    """Post every due row (of one course, or all); returns what became of them. Rows left
    waiting for a retry get a later drain, so nothing waits for the next change.

    Rows are claimed up to BATCH per thread at a time, with their values, in one statement; what
    their posts need is read in two more, and they go to `passback_concurrency` threads that
    only send. A batch's answers are recorded together in one commit once its last post is
    back (grading.posting). DEPTH batches are in flight, so the threads keep posting while
    this thread records and claims, and several workers still share a course."""
    out = Drained()
    claimed = 0
    width = rt.settings.passback_concurrency
    # A thread's worth first, so that a course's few dozen scores are shared by the workers
    # that drain it; doubled after each batch recorded, up to BATCH per thread.
    size = width
    lease = rt.settings.passback_lease_seconds
    poster = Poster(rt, DEPTH)
    batches: list[tuple[Batch, set[Future[Job]]]] = []
    with ThreadPoolExecutor(width, thread_name_prefix="passback") as pool:

        def submit(jobs: list[Job]) -> set[Future[Job]]:
            return {pool.submit(send, job, lease) for job in jobs}

        try:
            while True:
                room = size if max_rows is None else min(size, max_rows - claimed)
                if room > 0 and len(batches) < DEPTH:
                    rows = claim_rows(rt, context_id, utcnow(), room)
                    claimed += len(rows)
                    if rows:
                        batch = poster.open(
                            [held for held, _ in rows], {held.row_id: row for held, row in rows}
                        )
                        batches.append((batch, submit(batch.to_send())))
                        if len(batches) < DEPTH:
                            continue
                if not batches:
                    break
                pending = {f for _, futures in batches for f in futures if not f.done()}
                if pending:
                    wait(pending, timeout=lease / 4, return_when=FIRST_COMPLETED)
                for batch, _ in batches:
                    poster.keep_leases(batch)
                still: list[tuple[Batch, set[Future[Job]]]] = []
                for batch, futures in batches:
                    if not all(f.done() for f in futures):
                        still.append((batch, futures))
                        continue
                    done = [f.result() for f in futures]
                    again = poster.refix([job for job in done if job.result == "gone"])
                    if again:
                        still.append((batch, submit(again)))
                        continue
                    for result in poster.record(batch):
                        out.count(result)
                    size = min(2 * size, BATCH * width)
                batches = still
        finally:
            for _, futures in batches:
                for future in futures:
                    future.cancel()
            pool.shutdown(wait=True)
            poster.close()
    follow_up(rt, context_id)
    return out


def follow_up(rt: Runtime, context_id: int | None) -> None:
    """Rows still pending get a later drain, at the soonest time one can be claimed."""
    with rt.session_factory() as session:
        when = next_ready(session, context_id)
    if when is not None:
        wait = (when - utcnow()).total_seconds() + 1.0
        rt.jobs.enqueue_in(max(1.0, wait), "drain", context_id)
