"""Grades on a competency with sub-competencies would not count (its score comes from them):
every way to put them there is refused with words naming the competency and its children."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool.models.course import User
from lti_tool.models.mastery import Alignment, Competency, CourseLineItem, Evidence
from tests.integration.test_loop import setup_course
from tests.integration.test_setup_pages import Teacher, import_csv, rows, text

pytestmark = pytest.mark.postgres

REFUSAL = (
    '"Quiz 1" is aligned to "Equivalent fractions" (FRAC-1), which has sub-competencies '
    "(FRAC-1a Halves): its score comes from them, so these grades would not count. "
    'Align "Quiz 1" to a sub-competency instead.'
)


def _ids(live_server) -> tuple[int, int, int]:
    with live_server.rt.session_factory() as s:
        frac = s.scalar(select(Competency.id).where(Competency.code == "FRAC-1"))
        quiz = s.scalar(select(CourseLineItem.id).where(CourseLineItem.label == "Quiz 1"))
        ava = s.scalar(select(User.id).where(User.name == "Ava Adams"))
    return frac, quiz, ava


def test_a_column_on_a_parent_competency_is_refused_every_way(live_server) -> None:
    setup_course(live_server, "canvas")  # Quiz 1 is aligned to FRAC-1
    frac, quiz, ava = _ids(live_server)
    t = Teacher(live_server, "canvas")
    t.get("/setup/competencies")

    # giving the aligned competency a child, by form or by import
    child = t.post(
        "/setup/competencies", {"code": "FRAC-1a", "title": "Halves", "parent": "FRAC-1"}
    )
    assert child.status_code == 422 and REFUSAL in text(child)
    imported = import_csv(t, "code,title,parent\nFRAC-1a,Halves,FRAC-1\n")
    assert imported.status_code == 422 and REFUSAL in text(imported)
    assert [c.code for c in rows(live_server, Competency)] == ["FRAC-1"]

    # move the column away first, then the child is welcome
    t.get("/setup/alignments")
    assert t.post("/setup/alignments", {}).status_code == 200
    assert (
        t.post(
            "/setup/competencies", {"code": "FRAC-1a", "title": "Halves", "parent": "FRAC-1"}
        ).status_code
        == 200
    )

    # ticking the parent on the alignments page
    t.get("/setup/alignments")
    aligned = t.post("/setup/alignments", {f"li-{quiz}-{frac}": "on"})
    assert aligned.status_code == 422 and REFUSAL in text(aligned)
    assert "Saved 1 alignments" not in text(aligned)
    assert rows(live_server, Alignment) == []

    # a teacher's rating of the parent
    page = t.get(f"/class/students/{ava}")
    rated = t.post(
        f"/class/students/{ava}/rating", {"competency_id": str(frac), "level": "Mastery"}
    )
    assert rated.status_code == 400
    assert (
        '"Equivalent fractions" has sub-competencies (FRAC-1a Halves): its score comes from '
        "them, so rate one of them." in text(rated)
    ), text(rated)[:2000]
    assert rows(live_server, Evidence) == []
    assert page.status_code == 200


def test_a_placed_modules_column_on_a_parent_counts_for_its_parts(live_server) -> None:
    """A module aligned to a parent is placed; its own column's grade is evidence of each
    sub-competency (aligning it to the parent would count for nothing)."""
    from lti_tool.clients import ags
    from lti_tool.clients.lti_services import caller_for
    from lti_tool.jobs.grades import sync_course_grades
    from lti_tool.models.course import Context
    from lti_tool.models.mastery import MasteryState
    from lti_tool.models.modules import Module
    from lti_tool.sandbox.gradebook import set_grade
    from lti_tool.sandbox.models import SandboxLineItem
    from tests.lms import people

    rt = live_server.rt
    context_id, frac, _ = setup_course(live_server, "moodle")
    with rt.session_factory() as s:
        for a in s.scalars(select(Alignment)):
            s.delete(a)
        parts = [
            Competency(context_id=context_id, code=code, title=title, parent_id=frac, position=i)
            for i, (code, title) in enumerate([("FRAC-1a", "Halves"), ("FRAC-1b", "Thirds")], 2)
        ]
        walls = Module(context_id=context_id, title="Fraction walls", position=-1)
        s.add_all([*parts, walls])
        s.flush()
        s.add(Alignment(context_id=context_id, competency_id=frac, module_id=walls.id))
        s.commit()
        part_ids = {c.id for c in parts}
        ctx = s.get(Context, context_id)
        caller = caller_for(s, ctx, rt.platform_http, rt.tokens)
        placed = ags.create_lineitem(
            caller,
            ctx.lineitems_url,
            {"label": "Fraction walls", "scoreMaximum": 4, "resourceId": f"module:{walls.id}"},
        )
        ava = people(s, "moodle")["student"][0]
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.label == "Fraction walls"))
        set_grade(s, line.id, ava.user_id, 4)
        s.commit()
    sync_course_grades(rt, context_id, post=False)
    with rt.session_factory() as s:
        column = s.scalar(select(CourseLineItem).where(CourseLineItem.url == placed["id"]))
        aligned = set(
            s.scalars(select(Alignment.competency_id).where(Alignment.line_item_id == column.id))
        )
        assert aligned == part_ids
        ava_id = s.scalar(select(User.id).where(User.name == "Ava Adams"))
        level = s.scalar(
            select(MasteryState.level).where(
                MasteryState.user_id == ava_id, MasteryState.competency_id == frac
            )
        )
        assert level == "Exceeds Mastery", "4 of 4 reached the parent through its parts"
