"""Two processes recomputing one course at once give what one would: the same states, one
audit entry per change, one score version per change."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, MasteryState, UnlockState
from tests.integration.test_loop import setup_course, type_grade

pytestmark = pytest.mark.postgres


def test_concurrent_syncs_of_one_course(live_server) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "moodle")
    names = ["Ava Adams", "Ben Brooks", "Chloe Chen", "Daniel Diaz", "Ella Evans", "Finn Fischer"]
    for n, name in enumerate(names):
        type_grade(live_server, "moodle", name, 4 + n)
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def sync() -> None:
        try:
            barrier.wait()
            sync_course_grades(rt, context_id, post=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with rt.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(MasteryState)) == len(names)
        assert s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.kind == "mastery")
        ) == len(names)
        assert set(s.scalars(select(ScoreOutbox.version))) == {1}
        assert s.scalar(select(func.count()).select_from(ScoreOutbox)) == len(names)
        unlocked = s.scalar(
            select(func.count()).select_from(UnlockState).where(UnlockState.status == "unlocked")
        )
        assert unlocked == 2  # 8 and 9 of 10 reach Mastery (3.2 and 3.6 of 4)
