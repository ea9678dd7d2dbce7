"""The course model is cached per process: a student still reads the rule as it stands now,
whichever process changed it, and a page reads only that student's facts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select, update

from lti_tool.models.course import Context, Membership, User
from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from lti_tool.services.course_model import course_model
from lti_tool.services.overrides import set_override
from lti_tool.services.ratings import rate
from tests.conftest import free_port, make_app
from tests.integration.test_loop import setup_course
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres

OPEN = {"rule": {"competency": "FRAC-1", "level": "Near Mastery"}}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _ava(live_server) -> tuple[Browser, str]:
    with live_server.rt.session_factory() as s:
        ava = next(p for p in people(s, "canvas")["student"] if p.name == "Ava Adams")
        course_id, link_id = course_and_link(s, "canvas")
    browser = Browser()
    page = launch_as(browser, live_server.platform_url, "canvas", course_id, link_id, ava.user_id)
    assert page.status_code == 200, page.text[:300]
    return browser, page.url.rsplit("/", 1)[0]


@contextmanager
def _other_process(database_url: str) -> Iterator[Any]:
    """Another web process of the same deployment: its own app, engine and cache."""
    app = make_app(database_url, free_port())
    try:
        yield app.extensions["lti_tool"]
    finally:
        app.extensions["lti_tool"].engine.dispose()


def _module_line(page: str, title: str) -> str:
    text = _text(page)
    return text[text.index(title) :][:300]


def test_a_rule_another_process_changed_is_what_the_student_reads_next(
    live_server, database_url
) -> None:
    setup_course(live_server, "canvas")
    browser, base = _ava(live_server)
    before = _module_line(browser.get(f"{base}/path").text, "Adding fractions")
    assert "Locked" in before and "Mastery" in before  # and this process cached the model

    with _other_process(database_url) as other, other.session_factory() as s:
        module = s.scalar(select(Module).where(Module.title == "Adding fractions"))
        module.unlock_rule = None  # "open from the start", saved by the other process
        s.commit()
    after = _module_line(browser.get(f"{base}/path").text, "Adding fractions")
    assert "open from the start" in after and "Locked" not in after

    # a bulk statement names no course: every course's model is read again
    with _other_process(database_url) as other, other.session_factory() as s:
        s.execute(update(Module).values(unlock_rule={"rule": {"competency": "FRAC-1", "score": 4}}))
        s.commit()
    again = _module_line(browser.get(f"{base}/path").text, "Adding fractions")
    assert "Locked" in again and "open from the start" not in again


def test_a_change_rolled_back_never_reaches_a_student(live_server) -> None:
    """A transaction that changed the course reads its model fresh and caches nothing: its
    version number may be reused by the next change that commits."""
    setup_course(live_server, "canvas")
    rt = live_server.rt
    with rt.session_factory() as s:
        module = s.scalar(select(Module).where(Module.title == "Adding fractions"))
        context_id = module.context_id
        course_model(s, context_id)  # cached as it stands
        module.unlock_rule = None
        seen = course_model(s, context_id).model  # this transaction's own, uncommitted view
        assert seen.modules[seen.module_index[str(module.id)]].unlock.rule is None
        s.rollback()
    with rt.session_factory() as s:
        module = s.scalar(select(Module).where(Module.title == "Adding fractions"))
        module.unlock_rule = OPEN  # the next change that commits reuses the version number
        s.commit()
    browser, base = _ava(live_server)
    line = _module_line(browser.get(f"{base}/path").text, "Adding fractions")
    assert "Near Mastery" in line and "open from the start" not in line


def test_the_path_page_reads_one_students_facts_not_the_course(live_server) -> None:
    """The cached model leaves the page a few small reads, the same with 50 more students."""
    setup_course(live_server, "canvas")
    rt = live_server.rt
    browser, base = _ava(live_server)
    browser.get(f"{base}/path")  # the model is cached now

    def statements() -> list[str]:
        seen: list[str] = []

        def record(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
            seen.append(statement)

        event.listen(rt.engine, "before_cursor_execute", record)
        try:
            page = browser.get(f"{base}/path")
        finally:
            event.remove(rt.engine, "before_cursor_execute", record)
        assert page.status_code == 200 and "Adding fractions" in page.text
        return seen

    few = statements()
    setup_tables = ("FROM modules", "FROM competencies", "FROM alignments", "FROM scales")
    assert not [q for q in few if any(t in q for t in setup_tables)], few
    assert not [q for q in few if "FROM memberships" in q and "user_id =" not in q], few
    assert len(few) <= 14, few

    with rt.session_factory() as s:
        context_id = s.scalar(select(Context.id))
        registration_id = s.scalar(select(Context.registration_id))
        for i in range(50):
            user = User(registration_id=registration_id, sub=f"extra-{i}", name=f"Extra {i}")
            s.add(user)
            s.flush()
            s.add(Membership(context_id=context_id, user_id=user.id, role="student"))
        s.commit()
    assert len(statements()) == len(few)


def test_the_path_a_student_reloads_moves_with_each_new_fact(live_server, database_url) -> None:
    """The path's lines are kept per course model and student facts: a page read again
    unchanged is not explained again, and a rating or an override shows at the next load."""
    setup_course(live_server, "canvas")
    browser, base = _ava(live_server)
    assert "Locked" in _module_line(browser.get(f"{base}/path").text, "Adding fractions")
    assert "Locked" in _module_line(browser.get(f"{base}/path").text, "Adding fractions")

    with _other_process(database_url) as other, other.session_factory() as s:
        ava = s.scalar(select(User.id).where(User.name == "Ava Adams"))
        comp = s.scalar(select(Competency).where(Competency.code == "FRAC-1"))
        rate(s, comp.context_id, comp.id, {ava: "Mastery"}, "", 1)
        s.commit()
    opened = _module_line(browser.get(f"{base}/path").text, "Adding fractions")
    assert "Unlocked" in opened and "Locked" not in opened

    with _other_process(database_url) as other, other.session_factory() as s:
        module = s.scalar(select(Module).where(Module.title == "Adding fractions"))
        set_override(s, module.context_id, ava, module.id, "lock", "Resit first", 1)
        s.commit()
    assert "Locked" in _module_line(browser.get(f"{base}/path").text, "Adding fractions")


def test_the_path_drawn_once_shows_each_change_at_once_and_each_launch_its_own_links(
    live_server, database_url
) -> None:
    """The path's cards are drawn once per course model and student facts: a reload reads the
    same page, a grade that unlocks a module, a rule the teacher changed and another launch's
    own links all show at the next load."""
    setup_course(live_server, "canvas")
    browser, base = _ava(live_server)
    launch = base.rsplit("/", 1)[1]
    first = browser.get(f"{base}/path").text
    assert "Locked" in _module_line(first, "Adding fractions")
    assert browser.get(f"{base}/path").text == first  # drawn once, read again the same

    with _other_process(database_url) as other, other.session_factory() as s:
        ava = s.scalar(select(User.id).where(User.name == "Ava Adams"))
        module = s.scalar(select(Module).where(Module.title == "Adding fractions"))
        comp = s.scalar(select(Competency).where(Competency.code == "FRAC-1"))
        rate(s, comp.context_id, comp.id, {ava: "Mastery"}, "", 1)
        s.commit()
    link = f'<a href="/c/{launch}/modules/{module.id}">Adding fractions</a>'
    opened = browser.get(f"{base}/path").text
    assert "Unlocked" in _module_line(opened, "Adding fractions") and link in opened
    assert browser.get(f"{base}/path").text == opened

    # another launch of the same student, same facts: the drawing kept, its own links in it
    browser2, base2 = _ava(live_server)
    launch2 = base2.rsplit("/", 1)[1]
    second = browser2.get(f"{base2}/path").text
    assert launch2 != launch and launch not in second
    assert second == opened.replace(f"/c/{launch}/", f"/c/{launch2}/")
    assert f'<a href="/c/{launch2}/modules/{module.id}">Adding fractions</a>' in second

    with _other_process(database_url) as other, other.session_factory() as s:
        s.get(Module, module.id).unlock_rule = {"rule": {"competency": "FRAC-1", "score": 4}}
        s.commit()
    relocked = browser.get(f"{base}/path").text
    assert "Locked" in _module_line(relocked, "Adding fractions") and link not in relocked
    assert "4" in _module_line(relocked, "Adding fractions")
