"""Unlock columns: a module that gates LMS content keeps an "Unlocked: <title>" column in the
LMS gradebook (resourceId `unlock:<id>`, tag `unlock`, out of 1) holding 1 for every student
who has it open and 0 for the others, posted through the score outbox: once, latest wins,
re-posted when a re-evaluated rule locks again, kept when sticky, renamed and re-created like
competency columns, and every final state arrives exactly once while the LMS fails calls."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import delete, func, select

from lti_tool.grading.outbox import post_now
from lti_tool.jobs.grades import sync_course_grades
from lti_tool.jobs.passback import drain
from lti_tool.models.course import Membership, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from lti_tool.sandbox.faults import set_faults
from lti_tool.sandbox.gradebook import set_grade
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult, SandboxUser
from lti_tool.sandbox.seed import seed_platform
from lti_tool.services.setup_modules import ModuleValues, save_module
from tests.integration.test_loop import setup_course, type_grade
from tests.lms import people

pytestmark = pytest.mark.postgres


def gate(rt, on: bool = True, sticky: bool = False, title: str | None = None) -> int:
    """The teacher ticks "Gate my LMS content with this" on the course's module."""
    with rt.session_factory() as s:
        m = s.scalar(select(Module))
        values = ModuleValues(
            title=title or m.title,
            description=m.description,
            content=m.content,
            sticky=sticky,
            gates_lms=on,
        )
        save_module(s, m, by=0, v=values)
        s.commit()
        return m.id


def unlock_cells(rt) -> tuple[SandboxLineItem, dict[str, SandboxResult]]:
    """The LMS's unlock column and its cells by student name."""
    with rt.session_factory() as s:
        [line] = s.scalars(select(SandboxLineItem).where(SandboxLineItem.tag == "unlock")).all()
        names = {
            sub: name for sub, name in s.execute(select(User.sub, User.name)) if name is not None
        }
        cells = {
            names[sub]: result
            for result, sub in s.execute(
                select(SandboxResult, SandboxUser.lti_sub)
                .join(SandboxUser, SandboxUser.id == SandboxResult.user_id)
                .where(SandboxResult.line_item_id == line.id)
            )
        }
        s.expunge_all()
        return line, cells


@pytest.mark.parametrize("slug", ["moodle", "canvas"])
def test_a_gated_module_posts_each_students_unlock_state(live_server, slug: str) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, slug)
    module_id = gate(rt)
    with rt.session_factory() as s:
        students = s.scalar(
            select(func.count()).select_from(Membership).where(Membership.role == "student")
        )
    assert drain(rt, context_id).posted == students

    line, cells = unlock_cells(rt)
    assert line.label == "Unlocked: Adding fractions"
    assert (line.resource_id, line.score_maximum) == (f"unlock:{module_id}", 1)
    assert len(cells) == students
    assert {(c.score_given, c.score_maximum, c.posts) for c in cells.values()} == {(0, 1, 1)}

    # Ava reaches Mastery: her module opens in the tool and in the LMS's column
    type_grade(live_server, slug, "Ava Adams", 8)
    _, recomputed = sync_course_grades(rt, context_id, post=False)
    assert recomputed.unlocks_queued == 1
    assert drain(rt, context_id).posted == 2  # her competency score and her unlock
    _, cells = unlock_cells(rt)
    assert (cells["Ava Adams"].score_given, cells["Ava Adams"].posts) == (1, 2)
    assert all(c.posts == 1 and c.score_given == 0 for n, c in cells.items() if n != "Ava Adams")

    # nothing new: nothing posted again
    _, recomputed = sync_course_grades(rt, context_id, post=False)
    assert recomputed.scores_queued == 0 and drain(rt, context_id).posted == 0

    # a lowered grade on the re-evaluated rule shuts it again in the LMS
    type_grade(live_server, slug, "Ava Adams", 5)
    sync_course_grades(rt, context_id, post=False)
    drain(rt, context_id)
    _, cells = unlock_cells(rt)
    assert (cells["Ava Adams"].score_given, cells["Ava Adams"].posts) == (0, 3)


def test_sticky_unlock_stays_open_in_the_lms(live_server) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "moodle")
    gate(rt, sticky=True)
    type_grade(live_server, "moodle", "Ava Adams", 8)
    sync_course_grades(rt, context_id, post=False)
    drain(rt, context_id)
    type_grade(live_server, "moodle", "Ava Adams", 3)
    _, recomputed = sync_course_grades(rt, context_id, post=False)
    assert recomputed.mastery_changed == 1 and recomputed.unlocks_queued == 0
    drain(rt, context_id)
    _, cells = unlock_cells(rt)
    assert (cells["Ava Adams"].score_given, cells["Ava Adams"].posts) == (1, 1)


def test_renamed_module_renames_its_column_and_a_deleted_column_comes_back(live_server) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "canvas")
    gate(rt)
    drain(rt, context_id)
    line, _ = unlock_cells(rt)
    gate(rt, title="Adding unlike fractions")
    type_grade(live_server, "canvas", "Ava Adams", 8)  # a new value makes the worker visit it
    sync_course_grades(rt, context_id, post=False)
    drain(rt, context_id)
    renamed, cells = unlock_cells(rt)
    assert renamed.id == line.id and renamed.label == "Unlocked: Adding unlike fractions"
    assert cells["Ava Adams"].score_given == 1

    with rt.session_factory() as s:  # the teacher deletes the column in the LMS
        s.execute(delete(SandboxResult).where(SandboxResult.line_item_id == line.id))
        s.execute(delete(SandboxLineItem).where(SandboxLineItem.id == line.id))
        s.commit()
    type_grade(live_server, "canvas", "Ava Adams", 4)
    sync_course_grades(rt, context_id, post=False)
    drain(rt, context_id)
    again, cells = unlock_cells(rt)
    assert again.id != line.id and again.label == "Unlocked: Adding unlike fractions"
    assert (cells["Ava Adams"].score_given, cells["Ava Adams"].posts) == (0, 1)


def test_ungating_drops_what_was_not_posted_yet(live_server) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "moodle")
    module_id = gate(rt)
    gate(rt, on=False)
    with rt.session_factory() as s:
        left = s.scalar(
            select(func.count()).select_from(ScoreOutbox).where(ScoreOutbox.module_id == module_id)
        )
    assert left == 0
    assert drain(rt, context_id).posted == 0
    with rt.session_factory() as s:
        assert s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "unlock")) is None


STUDENTS = 150


def test_every_final_unlock_state_arrives_exactly_once_under_faults(live_server, caplog) -> None:
    """A fifth of the calls fail (500, 429 with Retry-After, dropped connections) while the
    course is gated and 30 students' grades open the module mid-run."""
    rt = live_server.rt
    with rt.session_factory() as s:
        seed_platform(s, rt.settings, "bulk", "moodle", "Bulk Moodle", STUDENTS)
        s.commit()
    context_id, _, _ = setup_course(live_server, "bulk")
    with rt.session_factory() as s:
        set_faults(s, "bulk", error_rate=0.2, kinds=["500", "429", "drop"], retry_after=1)
        s.commit()
    gate(rt)
    caplog.set_level(logging.WARNING, logger="lti_tool.platform_http")

    def drain_round() -> None:
        with rt.session_factory() as s:
            post_now(s, context_id)  # skip the back-off waits, not the failures
            s.commit()
        drain(rt, context_id, max_rows=120)

    drain_round()
    with rt.session_factory() as s:
        names = [p.name for p in people(s, "bulk")["student"]]
        opened = names[:30]
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.label == "Quiz 1"))
        for p in people(s, "bulk")["student"][:30]:
            set_grade(s, line.id, p.user_id, 9)
        set_faults(s, "bulk", error_rate=0.0, kinds=[], retry_after=1)
        s.commit()
    sync_course_grades(rt, context_id, post=False)  # reads with the faults off
    with rt.session_factory() as s:
        set_faults(s, "bulk", error_rate=0.2, kinds=["500", "429", "drop"], retry_after=1)
        s.commit()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with rt.session_factory() as s:
            left = s.scalar(
                select(func.count())
                .select_from(ScoreOutbox)
                .where(
                    (ScoreOutbox.state != "posted")
                    | (ScoreOutbox.posted_version != ScoreOutbox.version)
                )
            )
        if not left:
            break
        drain_round()
    with rt.session_factory() as s:
        set_faults(s, "bulk", error_rate=0.0, kinds=[], retry_after=1)
        s.commit()
    assert not left, f"{left} scores still not in the LMS at {utcnow()}"
    tried_again = [r for r in caplog.records if "/scores" in r.getMessage()]
    assert len(tried_again) >= STUDENTS // 10  # the LMS did fail: those were tried again

    _, cells = unlock_cells(rt)
    assert len(cells) == STUDENTS
    wrong = [n for n in names if cells[n].score_given != (1 if n in opened else 0)]
    assert wrong == []
    # a state the LMS already holds is never posted again; an opened student's 0 may have
    # been superseded before it went out, so they have one post or two, never more
    assert {cells[n].posts for n in names if n not in opened} == {1}
    assert {cells[n].posts for n in opened} <= {1, 2}
