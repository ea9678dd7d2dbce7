"""The class view inside the LMS's iframe: with 30 competencies the heatmap is wider than the
frame, so it scrolls in its own region and the last competency is reached by scrolling that
region (never cut off), while the student names stay in view; at 1,600 px and at 360 px."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from lti_tool.jobs.tasks import TASKS
from lti_tool.models.course import Context
from lti_tool.models.mastery import Competency
from tests.browser.test_accessibility import OVERFLOW, SLUG, _launch
from tests.lms import course_and_link, people

pytestmark = pytest.mark.browser

LAST = "Competency 30: comparing fractions with unlike denominators"


def _wide_course(rt: Any) -> None:
    """The roster, and thirty competencies with long titles: wider than any LMS frame."""
    with rt.session_factory() as s:
        context_id = s.scalar(select(Context.id))
    TASKS["sync_course"](rt, context_id)
    rt.jobs.wait()
    with rt.session_factory() as s:
        for k in range(1, 31):
            title = LAST if k == 30 else f"Competency {k:02}: fractions, decimals and percentages"
            s.add(Competency(context_id=context_id, code=f"C{k:02}", title=title, position=k))
        s.commit()


@pytest.mark.parametrize("width", [1600, 360])
def test_the_last_competency_is_reached_by_scrolling_the_grid(live_server, page, width) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        teacher = people(s, SLUG)["teacher"][0]
        course_id, _ = course_and_link(s, SLUG)
    course_url = f"{live_server.platform_url}/sandbox/{SLUG}/courses/{course_id}"
    page.set_viewport_size({"width": width, "height": 900})
    frame, base = _launch(page, live_server, course_url, f"Launch as {teacher.name}", "Course home")
    _wide_course(rt)
    frame.goto(base + "/class")
    region = frame.get_by_role("region", name="Mastery of the students on this page, scrollable")
    region.wait_for()
    last = frame.locator("table.heat thead th").filter(has_text=LAST)
    name_col = frame.locator("table.heat tbody th.sticky-col").first

    def box(locator: Any) -> dict:
        return locator.evaluate("e => e.getBoundingClientRect().toJSON()")

    area = box(region)
    assert box(last)["right"] > area["right"], "30 competencies are wider than the frame"
    # the page itself does not scroll sideways: the grid scrolls inside its region
    fit = frame.evaluate(OVERFLOW)
    assert fit["scroll"] <= fit["client"], fit
    name_left = box(name_col)["left"]
    region.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    frame.wait_for_function("e => e.scrollLeft > 0", arg=region.element_handle(), timeout=5000)
    seen = box(last)
    area = box(region)
    assert area["left"] - 1 <= seen["left"] and seen["right"] <= area["right"] + 1, (seen, area)
    names = box(name_col)
    assert abs(names["left"] - name_left) < 1  # the names stay in view (sticky)...
    assert seen["left"] >= names["right"] - 1  # ...and do not cover the last column
