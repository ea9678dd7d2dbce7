"""The passback job: drains the score outbox, posting each due row once (lti_tool.grading
holds how), several at a time, and comes back for the rows left waiting."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from lti_tool.grading.outbox import claim_batch, next_ready
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


# Batches in flight at once: one being posted, the next ones queued behind it, so the
# threads never wait while the finished batch is recorded and a new one claimed.
DEPTH = 3


def drain(rt: Runtime, context_id: int | None = None, max_rows: int | None = None) -> Drained:
    """Post every due row (of one course, or all); returns what became of them. Rows left
    waiting for a retry get a later drain, so nothing waits for the next change.

    Rows are claimed a thread's worth at a time (one statement), their posts read in a few
    more, and handed to `passback_concurrency` threads that only send; a batch's answers are
    recorded together in one commit once its last post is back (grading.posting). Up to
    DEPTH batches are in flight, so several workers still share a course."""
    out = Drained()
    claimed = 0
    width = rt.settings.passback_concurrency
    lease = rt.settings.passback_lease_seconds
    poster = Poster(rt, DEPTH)
    batches: list[tuple[Batch, set[Future[Job]]]] = []
    with ThreadPoolExecutor(width, thread_name_prefix="passback") as pool:

        def submit(jobs: list[Job]) -> set[Future[Job]]:
            return {pool.submit(send, job, lease) for job in jobs}

        try:
            while True:
                room = width if max_rows is None else min(width, max_rows - claimed)
                if room > 0 and len(batches) < DEPTH:
                    held = claim_batch(rt, context_id, utcnow(), limit=room)
                    claimed += len(held)
                    if held:
                        batch = poster.open(held)
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
