"""Nothing lost: 2,000 competency scores posted by RQ worker processes while the LMS fails a
fifth of the calls (500, 429 with Retry-After, dropped connections), one worker is killed
with SIGKILL mid-batch, and newer values arrive for some students during the run. Every
student's final score ends up in the LMS gradebook, once, at its final value."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from sqlalchemy import select

from lti_tool.clients.lti_services import caller_for
from lti_tool.grading.outbox import queue_score
from lti_tool.models.course import Context, Membership, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import Competency
from lti_tool.models.types import utcnow
from lti_tool.sandbox.faults import set_faults
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult, SandboxUser
from lti_tool.sandbox.seed import seed_platform
from lti_tool.services.roster import sync_roster
from tests.integration.test_outbox import posted_count
from tests.lms import Browser, course_and_link, launch_as, people
from tests.processes import family, start_worker, stop_workers

pytestmark = pytest.mark.postgres
STUDENTS = 2000


def test_every_final_score_arrives_once(live_server, database_url, redis_space) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("worker processes on one database: run on PostgreSQL, as in production")
    rt = live_server.rt
    with rt.session_factory() as s:
        seed_platform(s, rt.settings, "bulk", "moodle", "Bulk Moodle", STUDENTS)
        s.commit()
        teacher = people(s, "bulk")["teacher"][0]
        course_id, link_id = course_and_link(s, "bulk")
    launch_as(Browser(), live_server.platform_url, "bulk", course_id, link_id, teacher.user_id)
    with rt.session_factory() as s:
        ctx = s.scalar(
            select(Context).where(Context.title == "Grade 5 Fractions").order_by(Context.id.desc())
        )
        sync_roster(s, caller_for(s, ctx, rt.platform_http, rt.tokens), ctx, 500)
        comp = Competency(context_id=ctx.id, code="FRAC-1", title="Equivalent fractions")
        s.add(comp)
        s.commit()
        context_id, comp_id = ctx.id, comp.id
        students = s.scalars(
            select(Membership.user_id).where(
                Membership.context_id == ctx.id, Membership.role == "student"
            )
        ).all()
        assert len(students) == STUDENTS
        for uid in students:
            queue_score(s, context_id, uid, comp_id, 2.0, 4.0, utcnow())
        set_faults(s, "bulk", error_rate=0.2, kinds=["500", "429", "drop"], retry_after=1)
        s.commit()

    def start() -> subprocess.Popen:
        return start_worker(
            database_url, redis_space.env(), live_server.tool_url, passback_lease_seconds=3
        )

    orphans: list[int] = []
    queue = redis_space.queue()
    workers = [start() for _ in range(4)]
    try:
        for _ in range(4):
            queue.enqueue("drain", context_id)
        deadline = time.monotonic() + 120
        while posted_count(rt) < STUDENTS // 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        # mid-batch: one worker dies without a word, newer values arrive for 500 students
        # its work horse and scheduler live on (they are stopped at the end)
        orphans = family(workers[0].pid)[1:]
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        workers.append(start())
        changed = students[:500]
        with rt.session_factory() as s:
            for uid in changed:
                queue_score(s, context_id, uid, comp_id, 3.5, 4.0, utcnow())
            s.commit()
        deadline = time.monotonic() + 240
        while posted_count(rt) < STUDENTS and time.monotonic() < deadline:
            queue.enqueue("drain", context_id)  # the scheduler's periodic tick
            time.sleep(2)
    finally:
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stop_workers(workers)
        with rt.session_factory() as s:
            set_faults(s, "bulk", error_rate=0.0, kinds=[], retry_after=1)
            s.commit()

    with rt.session_factory() as s:
        stuck = [
            (
                r.id,
                r.state,
                r.version,
                r.posted_version,
                r.attempts,
                r.claimed_until,
                r.next_attempt_at,
                r.last_error[:200],
            )
            for r in s.scalars(
                select(ScoreOutbox).where(
                    (ScoreOutbox.state != "posted")
                    | (ScoreOutbox.posted_version != ScoreOutbox.version)
                )
            )
        ]
    assert stuck == [], f"not posted at {utcnow()}: {stuck}"
    with rt.session_factory() as s:
        [column] = s.scalars(
            select(SandboxLineItem).where(SandboxLineItem.tag == "competency")
        ).all()
        final = {uid: (3.5 if uid in set(changed) else 2.0) for uid in students}
        sub_of = dict(s.execute(select(User.id, User.sub).where(User.id.in_(students))).all())
        in_lms = {
            sub: score
            for sub, score in s.execute(
                select(SandboxUser.lti_sub, SandboxResult.score_given)
                .join(SandboxResult, SandboxResult.user_id == SandboxUser.id)
                .where(SandboxResult.line_item_id == column.id)
            )
        }
        assert len(in_lms) == STUDENTS
        wrong = [uid for uid in students if in_lms.get(sub_of[uid]) != final[uid]]
        assert wrong == [], f"{len(wrong)} students have another value than their final one"
