"""The score outbox under concurrency: two workers never post one row twice, a newer value
queued while an older one is in flight wins, a lease left by a dead worker expires."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from lti_tool.grading.outbox import claim, queue_score
from lti_tool.grading.posting import post_row
from lti_tool.jobs.passback import drain
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.types import utcnow
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult
from tests.integration.test_loop import setup_course

pytestmark = pytest.mark.postgres


def queue_all(rt, context_id: int, comp_id: int, value: float) -> int:
    from lti_tool.models.course import Membership

    with rt.session_factory() as s:
        students = s.scalars(select(Membership.user_id).where(Membership.role == "student")).all()
        for uid in students:
            queue_score(s, context_id, uid, comp_id, value, 4.0, utcnow())
        s.commit()
    return len(students)


def posted_count(rt) -> int:
    """Rows whose latest value is in the LMS."""
    with rt.session_factory() as s:
        return s.scalar(
            select(func.count())
            .select_from(ScoreOutbox)
            .where(ScoreOutbox.state == "posted", ScoreOutbox.posted_version == ScoreOutbox.version)
        )


def cells(rt) -> list[SandboxResult]:
    with rt.session_factory() as s:
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "competency"))
        return list(s.scalars(select(SandboxResult).where(SandboxResult.line_item_id == line.id)))


def test_two_workers_never_post_one_row_twice(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    n = queue_all(rt, context_id, comp_id, 2.5)
    results = []
    workers = [
        threading.Thread(target=lambda: results.append(drain(rt, context_id))) for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sum(r.posted for r in results) == n
    assert all(r.posted > 0 for r in results), f"both workers took part: {results}"
    posted = cells(rt)
    assert len(posted) == n and {c.posts for c in posted} == {1}
    assert {c.score_given for c in posted} == {2.5}


def test_newer_value_queued_behind_an_older_one_wins(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    with rt.session_factory() as s:
        from lti_tool.models.course import User

        ava = s.scalar(select(User).where(User.name == "Ava Adams"))
        queue_score(s, context_id, ava.id, comp_id, 1.0, 4.0, utcnow())
        s.commit()
    held = claim(rt, context_id, utcnow())
    assert held is not None
    # while the worker holds the old value, a recompute queues a newer one
    with rt.session_factory() as s:
        queue_score(s, context_id, ava.id, comp_id, 3.0, 4.0, utcnow())
        s.commit()
    assert post_row(rt, *held) == "superseded"
    done = drain(rt, context_id)
    assert done.posted == 1
    [cell] = cells(rt)
    assert cell.score_given == 3.0
    with rt.session_factory() as s:
        row = s.scalars(select(ScoreOutbox)).one()
        assert row.state == "posted" and row.posted_version == row.version == 2


def test_a_dead_workers_lease_expires(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    queue_all(rt, context_id, comp_id, 3.0)
    held = claim(rt, context_id, utcnow())
    assert held is not None  # ...and the worker dies here, holding the lease
    first = drain(rt, context_id)
    with rt.session_factory() as s:
        row = s.get(ScoreOutbox, held[0])
        assert row.state == "pending" and row.claimed_until is not None
        s.execute(
            update(ScoreOutbox)
            .where(ScoreOutbox.id == held[0])
            .values(claimed_until=utcnow() - timedelta(seconds=1))
        )
        s.commit()
    second = drain(rt, context_id)
    assert second.posted == 1
    assert len(cells(rt)) == first.posted + 1
