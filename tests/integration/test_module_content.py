"""A module's content over real HTTP: the teacher writes it on the setup page and previews it;
a student (or mentor) with the module locked gets the reasons and not a word of it; once open
the student reads it rendered; the CSP frames exactly the allowed video hosts; migration 0006
carries old descriptions over as text."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lti_tool import migrate
from lti_tool.db import make_engine
from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.course import Context
from lti_tool.models.modules import Module
from lti_tool.models.types import UTCDateTime, utcnow
from tests.integration.test_evidence_migration import a_course
from tests.integration.test_learner_pages import _launch
from tests.integration.test_loop import setup_course, type_grade
from tests.integration.test_setup_pages import Teacher
from tests.lms import people

pytestmark = pytest.mark.postgres

SECRET = "Secret-steps-of-adding-fractions"
VIDEO = "https://www.youtube-nocookie.com/embed/xyz789"
CONTENT = (
    f"## {SECRET}\n\nRead [the guide](https://example.org/guide) first.\n\n"
    f"![Adding fractions video]({VIDEO})\n\n<script>alert('x')</script>\n"
)
FRAME_SRC = (
    "frame-src https://youtube-nocookie.com https://www.youtube-nocookie.com "
    "https://player.vimeo.com;"
)


def _teacher_writes_content(live_server) -> tuple[Teacher, int]:
    setup_course(live_server, "canvas")
    with live_server.rt.session_factory() as s:
        module_id = s.scalar(select(Module.id).where(Module.title == "Adding fractions"))
    t = Teacher(live_server, "canvas")
    form = t.get(f"/setup/modules/{module_id}")
    assert 'name="content"' in form.text and "Markdown" in form.text
    assert f"/modules/{module_id}/preview" in form.text
    saved = t.post(
        f"/setup/modules/{module_id}",
        {"title": "Adding fractions", "description": "Add them", "content": CONTENT},
    )
    assert saved.status_code == 200, saved.text
    assert 'Saved "Adding fractions"' in html.unescape(saved.text)
    with live_server.rt.session_factory() as s:
        assert s.get(Module, module_id).content == CONTENT.strip()
    return t, module_id


def test_locked_content_is_withheld_from_students_and_mentors(live_server) -> None:
    t, module_id = _teacher_writes_content(live_server)
    rt = live_server.rt
    context_id = rt.session_factory().scalar(select(Context.id))
    browser, base = _launch(live_server, "canvas", "Ava Adams")
    locked = browser.get(f"{base}/modules/{module_id}")
    assert locked.status_code == 200
    assert "Locked" in locked.text and "Next step:" in locked.text
    assert SECRET not in locked.text and VIDEO not in locked.text
    assert "example.org/guide" not in locked.text
    assert FRAME_SRC in locked.headers["Content-Security-Policy"]

    with rt.session_factory() as s:
        mentor = people(s, "canvas")["mentor"][0].name
    mentor_browser, mentor_base = _launch(live_server, "canvas", mentor)
    as_mentor = mentor_browser.get(f"{mentor_base}/modules/{module_id}")
    assert as_mentor.status_code == 200 and SECRET not in as_mentor.text

    type_grade(live_server, "canvas", "Ava Adams", 9)  # Mastery: the module opens
    sync_course_grades(rt, context_id, post=False)
    opened = browser.get(f"{base}/modules/{module_id}")
    assert opened.status_code == 200 and "Locked" not in opened.text
    assert f"<h2>{SECRET}</h2>" in opened.text
    assert (
        '<a href="https://example.org/guide" target="_blank" rel="noopener noreferrer">'
        in opened.text
    )
    assert f'<iframe src="{VIDEO}"' in opened.text
    assert "<script>alert" not in opened.text and "&lt;script&gt;" in opened.text

    # another student, still locked, still gets nothing of it
    other, other_base = _launch(live_server, "canvas", people_name(live_server, 3))
    assert SECRET not in other.get(f"{other_base}/modules/{module_id}").text


def people_name(live_server, index: int) -> str:
    with live_server.rt.session_factory() as s:
        return people(s, "canvas")["student"][index].name


def test_teacher_previews_the_content_as_a_student_sees_it(live_server) -> None:
    t, module_id = _teacher_writes_content(live_server)
    page = t.get(f"/modules/{module_id}/preview")
    assert page.status_code == 200
    assert "Preview:" in page.text and f"<h2>{SECRET}</h2>" in page.text
    assert f'<iframe src="{VIDEO}"' in page.text and "<script>alert" not in page.text
    assert FRAME_SRC in page.headers["Content-Security-Policy"]
    assert t.get(f"/modules/{module_id}").text.count(SECRET) == 1  # the teacher's own view
    assert t.get("/modules/999999/preview").status_code == 404
    browser, base = _launch(live_server, "canvas", "Ava Adams")
    assert browser.get(f"{base}/modules/{module_id}/preview").status_code == 403


def test_old_descriptions_become_content_as_text(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, "0005")
    with Session(engine) as s:
        ctx = a_course(s)
        s.commit()
        ctx_id = ctx.id
    old = sa.table(
        "modules",
        *(sa.column(n) for n in ("id", "context_id", "title", "description", "position")),
        sa.column("sticky", sa.Boolean),
        sa.column("choice_of", sa.JSON),
        sa.column("created_at", UTCDateTime()),
    )
    rest = {
        "context_id": ctx_id,
        "position": 0,
        "sticky": False,
        "choice_of": [],
        "created_at": utcnow(),
    }
    with engine.begin() as conn:
        conn.execute(
            old.insert(),
            [
                {"id": 1, "title": "A", "description": "*Read* <b>p. 4</b>", **rest},
                {"id": 2, "title": "B", "description": "", **rest},
            ],
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, description, content FROM modules ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [
        (1, "*Read* <b>p. 4</b>", r"\*Read\* \<b\>p\. 4\<\/b\>"),
        (2, "", ""),
    ]
    engine.dispose()
