"""Gradebook columns as odd as the LMS may list them: a maximum that is no number, a label
longer than the tool keeps, an id the tool cannot keep. The sync keeps going and the teacher
reads why a grade did not count (before: a ValueError stopped every grade of the course)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from lti_tool.models.course import Context
from lti_tool.models.mastery import CourseLineItem
from lti_tool.services.evidence import store_line_items
from lti_tool.services.grade_problems import check_result
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres


def test_odd_columns_are_kept_safely_and_their_grades_say_why(live_server) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        teacher = people(s, "moodle")["teacher"][0]
        course_id, link_id = course_and_link(s, "moodle")
    launch_as(Browser(), live_server.platform_url, "moodle", course_id, link_id, teacher.user_id)
    items = [
        {"id": "https://lms.test/li/1", "label": "Quiz", "scoreMaximum": "ten"},
        {"id": "https://lms.test/li/2", "label": "L" * 900 + "\x00", "scoreMaximum": 10},
        {"id": "https://lms.test/li/" + "9" * 2000, "label": "Too long an id"},
        {"id": "https://lms.test/li/4", "label": "NaN", "scoreMaximum": float("nan")},
    ]
    with rt.session_factory() as s:
        ctx = s.scalars(select(Context)).one()
        columns = store_line_items(s, ctx, items, datetime.now(UTC))
        s.commit()
    with rt.session_factory() as s:
        stored = {c.url: c for c in s.scalars(select(CourseLineItem))}
    assert set(stored) == {
        "https://lms.test/li/1",
        "https://lms.test/li/2",
        "https://lms.test/li/4",
    }
    assert set(columns) == set(stored)
    assert stored["https://lms.test/li/1"].score_maximum == 0.0
    assert stored["https://lms.test/li/4"].score_maximum == 0.0
    long = stored["https://lms.test/li/2"]
    assert long.score_maximum == 10.0 and len(long.label) == 400 and "\x00" not in long.label
    # a grade in the column with no usable maximum is skipped, and the reason names the value
    checked = check_result({"resultScore": 7}, "ten")
    assert checked.points is None and "ten" in checked.reason
    # a grade with a maximum of its own still counts
    assert check_result({"resultScore": 7, "resultMaximum": 10}, "ten").points == 7
