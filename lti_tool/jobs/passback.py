"""The passback job: drains the score outbox, posting each due row once (lti_tool.grading
holds how), and comes back for the rows left waiting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lti_tool.grading.outbox import claim_batch, next_ready
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


def drain(rt: Runtime, context_id: int | None = None, max_rows: int | None = None) -> Drained:
    """Post every due row (of one course, or all); returns what became of them. Rows left
    waiting for a retry get a later drain, so nothing waits for the next change."""
    out = Drained()
    done = 0
    callers: dict[int, Any] = {}
    session = rt.session_factory()
    try:
        while max_rows is None or done < max_rows:
            left = 10 if max_rows is None else min(10, max_rows - done)
            batch = claim_batch(rt, context_id, utcnow(), limit=left)
            if not batch:
                break
            for held in batch:
                result = post_row(rt, *held, session=session, callers=callers)
                done += 1
                if result == "posted":
                    out.posted += 1
                elif result == "failed":
                    out.failed += 1
                elif result == "superseded":
                    out.superseded += 1
                elif result == "changed":
                    out.changed += 1
                else:
                    out.later += 1
    finally:
        session.close()
    follow_up(rt, context_id)
    return out


def follow_up(rt: Runtime, context_id: int | None) -> None:
    """Rows still pending get a later drain, at the soonest time one can be claimed."""
    with rt.session_factory() as session:
        when = next_ready(session, context_id)
    if when is not None:
        wait = (when - utcnow()).total_seconds() + 1.0
        rt.jobs.enqueue_in(max(1.0, wait), "drain", context_id)
