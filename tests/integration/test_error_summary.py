"""A refused setup form puts every mistake first in <main>: a focused summary (autofocus, and
setup.js for framed pages) whose links lead to each message next to its field; the gradebook
weight message names its cell."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from lti_tool.models.mastery import Competency, CourseLineItem
from tests.integration.test_loop import setup_course
from tests.integration.test_setup_pages import Teacher, import_csv, rows

pytestmark = pytest.mark.postgres


def summary_of(page) -> tuple[str, list[tuple[str, str]]]:
    """The summary, which must be the first thing in <main>, and its (link, text) items."""
    found = re.search(
        r"<main[^>]*>\s*(<div class=\"error-summary[^\"]*\"[^>]*>.*?</div>)", page.text, re.S
    )
    assert found, "no error summary first in <main>: " + page.text[:1500]
    box = found.group(1)
    links = [
        (href, html.unescape(re.sub(r"<[^>]+>", "", words)).strip())
        for href, words in re.findall(r'<a href="([^"]+)">(.*?)</a>', box, re.S)
    ]
    return box, links


def test_a_failed_long_import_is_summarised_at_the_top_and_focused(live_server) -> None:
    t = Teacher(live_server, "moodle")
    t.get("/setup/competencies")
    lines = ["code,title,parent"] + [f"C-{i},Competency {i}," for i in range(1, 66)]
    lines.append("C-66,Competency 66,NOPE")
    page = import_csv(t, "\n".join(lines) + "\n")
    assert page.status_code == 422
    box, links = summary_of(page)
    assert 'tabindex="-1"' in box and "autofocus" in box and 'role="alert"' in box
    assert "There is a problem" in box
    assert links == [
        (
            "#import-problems",
            'Line 67, column "parent": no competency with code "NOPE" in the file or the course',
        )
    ]
    assert 'id="import-problems"' in page.text  # the link lands on the full message
    assert "js/setup.js" in page.text  # which moves the focus in framed pages
    assert rows(live_server, Competency) == []


def test_field_mistakes_are_linked_from_the_summary(live_server) -> None:
    t = Teacher(live_server)
    t.get("/setup/competencies")
    page = t.post("/setup/competencies", {"code": "", "title": ""})
    assert page.status_code == 422
    _box, links = summary_of(page)
    assert [href for href, _ in links] == ["#code-error", "#title-error"]
    assert links[0][1] == "Give the competency a short code, such as FRAC-1."
    for href, _ in links:
        assert f'id="{href[1:]}"' in page.text
    # a page without mistakes has no summary
    assert "error-summary" not in t.get("/setup/competencies").text


def test_a_bad_weight_names_its_gradebook_cell(live_server) -> None:
    setup_course(live_server, "canvas")
    with live_server.rt.session_factory() as s:
        comp = s.scalar(select(Competency.id).where(Competency.code == "FRAC-1"))
        quiz = s.scalar(select(CourseLineItem.id).where(CourseLineItem.label == "Quiz 1"))
    t = Teacher(live_server, "canvas")
    t.get("/setup/alignments")
    name = f"li-{quiz}-{comp}"
    page = t.post("/setup/alignments", {name: "on", f"{name}.w": "lots"})
    assert page.status_code == 422
    _box, links = summary_of(page)
    assert links == [
        (
            f"#{name}-error",
            'Weight of "Equivalent fractions" for "Quiz 1": "lots" is not a number more than 0 '
            "and at most 100.",
        )
    ]
    assert f'id="{name}-error"' in page.text
