"""A learner's launch opens no teacher URL: every rule of the app's URL map that belongs to the
teacher (the setup, class view, placement and course copy blueprints, the course home and its
roster sync) answers 403 to a student, for GET and for a POST that carries a valid CSRF token."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lti_tool.models.course import Context, User
from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from tests.lms import Browser, course_and_link, forms, launch_as, people

pytestmark = pytest.mark.postgres

TEACHER_BLUEPRINTS = {"setup", "classview", "placement", "course_copy"}
TEACHER_ENDPOINTS = {"pages.teacher_home", "pages.sync_roster_now"}


def teacher_rules(app) -> list:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint in TEACHER_ENDPOINTS
        or rule.endpoint.split(".", 1)[0] in TEACHER_BLUEPRINTS
    ]


def test_student_is_refused_every_teacher_url(live_server) -> None:
    rt = live_server.rt
    slug = "moodle"
    with rt.session_factory() as s:
        everyone = people(s, slug)
        course_id, link_id = course_and_link(s, slug)
    # the teacher's launch makes real rows to point at: a competency and a module
    teacher = Browser()
    launch_as(
        teacher, live_server.platform_url, slug, course_id, link_id, everyone["teacher"][0].user_id
    )
    student = Browser()
    landing = launch_as(
        student, live_server.platform_url, slug, course_id, link_id, everyone["student"][0].user_id
    )
    assert landing.status_code == 200 and "/path" in landing.url
    launch = re.search(r"/c/([^/]+)/", landing.url).group(1)  # type: ignore[union-attr]
    profile = student.get(f"{live_server.tool_url}/c/{launch}/profile")
    token = next(
        f["fields"]["csrf_token"] for f in forms(profile.text) if "csrf_token" in f["fields"]
    )
    with rt.session_factory() as s:
        ctx = s.scalar(select(Context))
        comp = Competency(context_id=ctx.id, code="C-1", title="C", method={"method": "latest"})
        module = Module(context_id=ctx.id, title="M")
        s.add_all([comp, module])
        s.commit()
        ids = {
            "comp_id": comp.id,
            "module_id": module.id,
            "user_id": s.scalar(select(User.id).where(User.sub == everyone["student"][1].sub)) or 1,
        }

    rules = teacher_rules(live_server.app)
    assert len(rules) >= 30, [r.rule for r in rules]  # the map was read, not an empty list
    refused, wrong = 0, []
    for rule in rules:
        values = {"launch_id": launch}
        for arg in rule.arguments - {"launch_id"}:
            values[arg] = ids.get(arg, 1)
        path = rule.rule
        for name, value in values.items():
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), path)
        url = live_server.tool_url + path
        for method in sorted(rule.methods & {"GET", "POST"}):
            if method == "GET":
                resp = student.get(url)
            else:
                resp = student.post(url, {"csrf_token": token, "confirm": "on"})
            if resp.status_code == 403:
                refused += 1
            else:
                wrong.append(f"{method} {path} ({rule.endpoint}): {resp.status_code}")
    assert not wrong, "\n".join(wrong)
    assert refused >= len(rules)
