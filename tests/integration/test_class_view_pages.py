"""The class view of a large class: the summary the database counts, students in pages that
keep their filters, name search (HTML in names stays text), sorting by a competency's score,
the level and stuck filters, and quick ratings that land back on the page they came from."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from lti_tool.models.course import Context, Membership, User
from lti_tool.models.mastery import Competency, MasteryState, UnlockState
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from tests.integration.test_class_view import _form, _teacher_launch
from tests.integration.test_learner_pages import _text
from tests.integration.test_loop import setup_course

pytestmark = pytest.mark.postgres


def _add_students(rt, names: list[str], status: str = "Active") -> list[int]:
    """Students the roster sync would have brought, written straight to the tables."""
    with rt.session_factory() as s:
        ctx = s.scalars(select(Context)).one()
        ids = []
        for n, name in enumerate(names):
            uid = s.execute(
                insert(User).returning(User.id),
                {"registration_id": ctx.registration_id, "sub": f"extra-{n}", "name": name},
            ).scalar_one()
            s.execute(
                insert(Membership),
                {"context_id": ctx.id, "user_id": uid, "role": "student", "status": status},
            )
            ids.append(uid)
        s.commit()
    return ids


def _rows(page_html: str) -> list[str]:
    """The student names of the heatmap on screen, in order."""
    return [
        html.unescape(name)
        for name in re.findall(
            r'<th scope="row" class="sticky-col"><a href="[^"]+">(.*?)</a>', page_html
        )
    ]


def _next(page_html: str) -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)"', page_html)
    return html.unescape(found.group(1)) if found else None


def test_a_large_class_comes_in_pages_that_keep_the_filters(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "canvas")
    _add_students(rt, [f"Zed Learner {n:03}" for n in range(1, 121)])
    browser, base = _teacher_launch(live_server, "canvas")
    origin = base.split("/c/")[0]

    first = browser.get(f"{base}/class")
    assert len(_rows(first.text)) == 50  # one page, not the whole class
    assert re.search(r"1[4-9]\d students match; page 1 of 3", _text(first.text))

    found = browser.get(f"{base}/class?q=zed+LEARNER")  # search ignores case
    assert "120 students match; page 1 of 3" in _text(found.text)
    assert _rows(found.text) == [f"Zed Learner {n:03}" for n in range(1, 51)]
    assert 'rel="prev"' not in found.text
    second = browser.get(origin + _next(found.text))
    assert "q=zed+LEARNER" in second.url and "page=2" in second.url  # the search is kept
    assert _rows(second.text) == [f"Zed Learner {n:03}" for n in range(51, 101)]
    assert "Page 2 of 3" in _text(second.text) and 'rel="prev"' in second.text
    last = browser.get(origin + _next(second.text))
    assert _rows(last.text) == [f"Zed Learner {n:03}" for n in range(101, 121)]
    assert _next(last.text) is None

    # the quick grid rates the page on screen, and the teacher lands back on it
    grid = _form(second.text, "/class/ratings")
    level_fields = re.findall(r'name="(level_\d+)"', second.text)
    assert len(level_fields) == 50
    comp_id = re.search(r'<option value="(\d+)">Equivalent fractions', second.text).group(1)
    saved = browser.post(
        origin + grid["action"],
        {**grid["fields"], "competency_id": comp_id, level_fields[0]: "Mastery"},
    )
    assert "1 rating saved." in _text(saved.text)
    assert "page=2" in saved.url and "q=zed+LEARNER" in saved.url
    assert _rows(saved.text)[0] == "Zed Learner 051"
    cell = re.search(r"Zed Learner 051</a>.*?</tr>", saved.text, re.S).group(0)
    assert "Mastery" in cell


def test_names_with_html_are_searched_and_shown_as_text(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "moodle")
    _add_students(rt, ["<script>alert(1)</script> Mallory", "Sam 100% Sure", "Sam 100 Sure"])
    browser, base = _teacher_launch(live_server, "moodle")
    page = browser.get(f"{base}/class", params={"q": "<script>"})
    assert "1 student matches" in _text(page.text)
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Mallory" in page.text
    assert 'value="&lt;script&gt;"' in page.text  # the search box keeps what was typed
    # "%" is a character to find, not a wildcard
    percent = browser.get(f"{base}/class", params={"q": "100%"})
    assert _rows(percent.text) == ["Sam 100% Sure"]
    nobody = browser.get(f"{base}/class", params={"q": "nobody by that name"})
    assert "0 students match" in _text(nobody.text) and '<table class="heat">' not in nobody.text


def _scores(rt, scores: dict[int, tuple[float, str]]) -> int:
    with rt.session_factory() as s:
        ctx = s.scalars(select(Context)).one()
        comp_id = s.scalar(select(Competency.id))
        for uid, (score, level) in scores.items():
            s.execute(
                insert(MasteryState),
                {
                    "context_id": ctx.id,
                    "user_id": uid,
                    "competency_id": comp_id,
                    "score": score,
                    "level": level,
                    "mastered": score >= 3,
                },
            )
        s.commit()
    return comp_id


def test_sorting_by_a_score_and_filtering_by_a_level(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "canvas")
    ids = _add_students(rt, ["Ann Alpha", "Bob Beta", "Cat Gamma", "Dan Delta"])
    comp_id = _scores(
        rt,
        {ids[0]: (2.5, "Near Mastery"), ids[1]: (3.9, "Exceeds Mastery"), ids[2]: (3.1, "Mastery")},
    )
    browser, base = _teacher_launch(live_server, "canvas")
    lowest = _rows(browser.get(f"{base}/class?sort=score&c={comp_id}&q=a").text)
    # no score yet first (they need a look most), then lowest to highest
    scored = [n for n in lowest if n in ("Ann Alpha", "Bob Beta", "Cat Gamma")]
    assert scored == ["Ann Alpha", "Cat Gamma", "Bob Beta"]
    assert lowest.index("Dan Delta") < lowest.index("Ann Alpha")
    highest = _rows(browser.get(f"{base}/class?sort=-score&c={comp_id}").text)
    assert highest[:3] == ["Bob Beta", "Cat Gamma", "Ann Alpha"]

    summary = browser.get(f"{base}/class").text
    # the summary's counts link to the students they count
    link = re.search(r'href="([^"]+)">Mastery: 1</a>', summary)
    assert link, "one student at Mastery"
    at_mastery = browser.get(base.split("/c/")[0] + html.unescape(link.group(1)))
    assert _rows(at_mastery.text) == ["Cat Gamma"]
    assert "1 student matches" in _text(at_mastery.text)
    none = browser.get(f"{base}/class", params={"c": comp_id, "level": "none"})
    assert "Dan Delta" in _rows(none.text) and "Cat Gamma" not in _rows(none.text)


def test_the_summary_counts_levels_nobody_has_and_students_without_a_score(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "moodle")
    browser, base = _teacher_launch(live_server, "moodle")
    page = browser.get(f"{base}/class")
    text = _text(page.text)
    students = int(re.search(r"(\d+) students match", text).group(1))
    row = re.search(r"<th scope=\"row\">Equivalent fractions</th>(.*?)</tr>", page.text, re.S)
    counts = _text(row.group(1))
    assert counts.startswith("—")  # no average without a score
    assert "Exceeds Mastery: 0" in counts and "Mastery: 0" in counts  # levels nobody has
    assert f"No score yet: {students}" in counts
    assert "Nobody is stuck" in text

    # one inactive student: not counted, said so
    _add_students(rt, ["Ina Inactive"], status="Inactive")
    text = _text(browser.get(f"{base}/class").text)
    assert f"{students} students (1 inactive not counted)" in text
    shown = _text(browser.get(f"{base}/class?inactive=1").text)
    assert f"{students + 1} students match" in shown and "Ina Inactive" in shown


def test_stuck_students_are_counted_listed_and_sorted_first(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "canvas")
    ids = _add_students(rt, ["Sid Stuck", "Sue Stuck", "Fay Fresh"])
    with rt.session_factory() as s:
        ctx = s.scalars(select(Context)).one()
        module_id = s.scalar(select(Module.id).where(Module.title == "Adding fractions"))
        since = {
            ids[0]: utcnow() - timedelta(days=20),
            ids[1]: utcnow() - timedelta(days=15),
            ids[2]: utcnow(),
        }
        for uid in ids:
            s.execute(
                insert(UnlockState),
                {
                    "context_id": ctx.id,
                    "user_id": uid,
                    "module_id": module_id,
                    "status": "locked",
                    "since": since[uid],
                },
            )
        # nobody else has been locked long
        s.execute(update(UnlockState).where(UnlockState.user_id.not_in(ids)).values(since=utcnow()))
        s.commit()
    browser, base = _teacher_launch(live_server, "canvas")
    text = _text(browser.get(f"{base}/class").text)
    assert "2 students are stuck" in text
    modules = re.search(
        r"<th scope=\"row\">Adding fractions</th>(.*?)</tr>",
        browser.get(f"{base}/class").text,
        re.S,
    ).group(1)
    assert re.findall(r"<td>(\d+)</td>", modules)[5] == "2"  # the module's Stuck column
    stuck = browser.get(f"{base}/class?stuck=1&days=7")
    assert _rows(stuck.text) == ["Sid Stuck", "Sue Stuck"]
    assert "Stuck" in re.search(r"Sid Stuck</a>(.*?)</th>", stuck.text).group(1)
    first = _rows(browser.get(f"{base}/class?sort=stuck").text)
    assert first[:2] == ["Sid Stuck", "Sue Stuck"]
    # thirty days: not stuck any more
    assert "Nobody is stuck" in _text(browser.get(f"{base}/class?days=30").text)
    one = _text(browser.get(f"{base}/class?days=17").text)
    assert "1 student is stuck" in one and "locked for over 17 days without new evidence" in one
