"""The class summary's counts are kept per process between page loads: a teacher still sees
every recompute any process commits, a student leaving the course at once, and never the
counts of a transaction that rolled back."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from lti_tool.models.course import Context, Membership, User
from lti_tool.models.mastery import Competency
from lti_tool.services.class_view import Scope, class_summary
from lti_tool.services.ratings import rate
from tests.integration.test_class_view import _teacher_launch
from tests.integration.test_class_view_pages import _add_students
from tests.integration.test_course_model_cache import _other_process
from tests.integration.test_learner_pages import _text
from tests.integration.test_loop import setup_course

pytestmark = pytest.mark.postgres

COMPETENCY = "Equivalent fractions"


def _counts(page_html: str) -> str:
    """The summary's row of the competency, in words."""
    row = re.search(rf'<th scope="row">{COMPETENCY}</th>(.*?)</tr>', page_html, re.S)
    assert row, "the competency's row of the summary"
    return _text(row.group(1))


def _rate(session, names: dict[str, str]) -> None:
    """Teacher ratings (a recompute of those students), in the session's transaction."""
    comp = session.scalar(select(Competency).where(Competency.title == COMPETENCY))
    ids = {name: uid for uid, name in session.execute(select(User.id, User.name))}
    rate(session, comp.context_id, comp.id, {ids[n]: lv for n, lv in names.items()}, "", 1)


def test_a_rating_another_process_saved_shows_in_the_counts_next(live_server, database_url):
    setup_course(live_server, "canvas")
    _add_students(live_server.rt, ["Rae Rated"])
    browser, base = _teacher_launch(live_server, "canvas")
    assert "Mastery: 0" in _counts(browser.get(f"{base}/class").text)  # counted and kept

    with _other_process(database_url) as other, other.session_factory() as s:
        _rate(s, {"Rae Rated": "Mastery"})
        s.commit()
    after = _counts(browser.get(f"{base}/class").text)
    assert "Mastery: 1" in after and "Exceeds Mastery: 0" in after


def test_a_student_who_leaves_leaves_the_counts_at_once(live_server) -> None:
    """No recompute runs when the roster marks a student inactive: the page takes their
    states out of the kept counts itself."""
    setup_course(live_server, "canvas")
    _add_students(live_server.rt, ["Lee Leaving"])
    with live_server.rt.session_factory() as s:
        _rate(s, {"Lee Leaving": "Mastery"})
        s.commit()
    browser, base = _teacher_launch(live_server, "canvas")
    assert "Mastery: 1" in _counts(browser.get(f"{base}/class").text)

    with live_server.rt.session_factory() as s:
        lee = s.scalar(select(User.id).where(User.name == "Lee Leaving"))
        s.execute(update(Membership).where(Membership.user_id == lee).values(status="Inactive"))
        s.commit()
    page = browser.get(f"{base}/class").text
    assert "Mastery: 0" in _counts(page)
    assert "(1 inactive not counted)" in _text(page)
    assert "Mastery: 1" in _counts(browser.get(f"{base}/class?inactive=1").text)


def test_counts_of_a_rolled_back_recompute_are_never_shown(live_server) -> None:
    """A transaction that recomputed counts its own view fresh and keeps none of it: its
    states version may be reused by the next recompute that commits."""
    setup_course(live_server, "canvas")
    _add_students(live_server.rt, ["Ros Rolled", "Cam Committed"])
    rt = live_server.rt
    with rt.session_factory() as s:
        context_id = s.scalar(select(Context.id))
        _rate(s, {"Ros Rolled": "Mastery"})
        mine = class_summary(s, Scope(context_id), set())
        comp = next(c for c in mine.competencies if c.title == COMPETENCY)
        assert {b.level: b.count for b in comp.buckets}["Mastery"] == 1  # its own view
        s.rollback()
    with rt.session_factory() as s:
        _rate(s, {"Cam Committed": "Near Mastery"})  # commits the same version number
        s.commit()
    browser, base = _teacher_launch(live_server, "canvas")
    counts = _counts(browser.get(f"{base}/class").text)
    assert "Near Mastery: 1" in counts and "Mastery: 0" in counts
