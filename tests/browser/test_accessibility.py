"""Every page the tool serves, checked with axe-core (npm) inside the sandbox LMS's iframe, and
at 360 px wide for a page that scrolls sideways.

The course is set up as a teacher does it (bench/setup_effort.py's driver) and one grade is
synced, so the pages show real content: lists, tables, conditions, evidence, the history.
A violation of impact "serious" or "critical" fails; the others are printed (run with -s).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from bench.setup_effort import MODULES, Effort, set_up_course
from lti_tool.jobs.tasks import TASKS
from lti_tool.models.course import Context, User
from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from lti_tool.sandbox.gradebook import set_grade
from lti_tool.sandbox.models import SandboxLineItem
from tests.browser.conftest import axe_violations
from tests.lms import course_and_link, people

pytestmark = pytest.mark.browser

SLUG = "canvas"
NARROW = 360
FAILING = {"serious", "critical"}

# A page's own width beyond its frame: the document scrolls sideways (a wide table inside a
# scrolling region does not count, it scrolls in its region).
OVERFLOW = """() => {
  const d = document.documentElement;
  const clipped = e => {
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true;
    }
    return false;
  };
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.split(' ')[0] : '');
  const wide = [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > d.clientWidth + 1 && !clipped(e))
    .slice(0, 4).map(name);
  return {scroll: d.scrollWidth, client: d.clientWidth, wide};
}"""


def _launch(page: Any, server: Any, course_url: str, button: str, heading: str) -> Any:
    page.goto(course_url)
    page.get_by_role("button", name=button).click()
    try:
        page.frame_locator("iframe.tool").get_by_role("heading", level=1, name=heading).wait_for(
            timeout=15000
        )
    except Exception as e:  # where the frames got to (the browser's record: no call into them)
        seen = [f.url for f in page.frames]
        raise AssertionError(f"{button}: no heading {heading!r}; frames at: {seen}") from e
    frame = next(f for f in page.frames if f.url.startswith(server.tool_url))
    launch = re.search(r"/c/([^/]+)/", frame.url).group(1)  # type: ignore[union-attr]
    return frame, f"{server.tool_url}/c/{launch}"


def test_every_page_passes_axe_and_fits_360px(live_server, page, artifacts, axe_source) -> None:
    problems = _walk(live_server, page, artifacts, axe_source, narrow=lambda name: True)
    assert not problems, "\n".join(problems)


def _walk(
    live_server: Any,
    page: Any,
    artifacts: Any,
    axe_source: str,
    axe: bool = True,
    narrow: Any = lambda name: True,
    only: set[str] | None = None,
) -> list[str]:
    """Set the course up, then check each page (or `only` these) in the tool's frame."""
    rt = live_server.rt
    with rt.session_factory() as s:
        everyone = people(s, SLUG)
        course_id, _ = course_and_link(s, SLUG)
    teacher, ava, mentor = everyone["teacher"][0], everyone["student"][0], everyone["mentor"][0]
    course_url = f"{live_server.platform_url}/sandbox/{SLUG}/courses/{course_id}"

    set_up_course(page, live_server.platform_url, SLUG, course_id, teacher.name, Effort())
    with rt.session_factory() as s:
        column = s.scalar(select(SandboxLineItem).where(SandboxLineItem.label == MODULES[0][0]))
        set_grade(s, column.id, ava.user_id, 7)  # Near Mastery: evidence, nothing unlocked
        s.commit()
        context_id = s.scalar(select(Context.id))
    TASKS["sync_course"](rt, context_id)  # roster, then grades: what the schedule does
    rt.jobs.wait()
    with rt.session_factory() as s:
        comp = s.scalar(select(Competency.id).order_by(Competency.id))
        mods = list(s.scalars(select(Module.id).order_by(Module.position)))
        ava_id = s.scalar(select(User.id).where(User.sub == ava.sub))
        gated = s.get(Module, mods[1])  # the LMS-content lines on the gating and path pages
        gated.gates_lms, gated.lms_target_title = True, "Quiz 3"
        gated.lms_target_url = "https://lms.example/quiz/3"
        s.commit()

    tool = live_server.tool_url
    groups: list[tuple[str, str, list[tuple[str, str]]]] = [
        (
            f"Launch as {teacher.name}",
            "Course home",
            [
                ("teacher-course-home", "/home"),
                ("setup-overview", "/setup"),
                ("setup-competencies", "/setup/competencies"),
                ("setup-competency-edit", f"/setup/competencies/{comp}"),
                ("setup-methods", "/setup/methods"),
                ("setup-modules", "/setup/modules"),
                ("setup-module-edit", f"/setup/modules/{mods[1]}"),
                ("setup-rule-builder", f"/setup/modules/{mods[1]}/rule"),
                ("setup-alignments", "/setup/alignments"),
                ("setup-templates", "/setup/templates"),
                ("setup-lms-gating", "/setup/lms"),
                ("class-view", "/class"),
                ("class-student", f"/class/students/{ava_id}"),
            ],
        ),
        (f"Add mastery modules as {teacher.name}", "Add modules", [("placement-picker", "")]),
        (
            f"Launch as {ava.name}",
            "Your path",
            [
                ("student-path", "/path"),
                ("student-profile", "/profile"),
                ("student-locked-module", f"/modules/{mods[1]}"),
            ],
        ),
        (
            f"Launch as {mentor.name}",
            "Your mentees",
            [
                ("mentor-mentees", "/mentees"),
                ("mentor-mentee-path", f"/mentees/{ava_id}/path"),
                ("mentor-mentee-profile", f"/mentees/{ava_id}/profile"),
                ("lti-config", tool + "/lti/config"),
                ("error-page", tool + "/c/no-such-launch/home"),
            ],
        ),
    ]
    problems: list[str] = []
    for button, heading, pages in groups:
        pages = [(n, p) for n, p in pages if only is None or n in only]
        if not pages:
            continue
        frame, base = _launch(page, live_server, course_url, button, heading)
        targets = [
            (n, p if p.startswith("http") else (base + p if p else frame.url)) for n, p in pages
        ]
        problems += _check(page, frame, targets, axe_source, artifacts, axe, narrow)
    return problems


def _check(
    page: Any,
    frame: Any,
    pages: list[tuple[str, str]],
    source: str,
    artifacts: Any,
    axe: bool,
    narrow: Any,
) -> list[str]:
    problems = []
    iframe = page.locator("iframe.tool")
    for name, url in pages:
        response = frame.goto(url)
        expected = 401 if name == "error-page" else 200
        if response is None or response.status != expected:
            problems.append(f"{name}: {url} answered {response and response.status}")
            continue
        frame.locator("h1").first.wait_for()
        page.screenshot(path=str(artifacts / f"a11y-{name}.png"), full_page=True)
        for v in axe_violations(frame, source) if axe else []:
            line = f"{name}: [{v['impact']}] {v['id']}: {v['help']} at {', '.join(v['nodes'])}"
            if v["impact"] in FAILING:
                problems.append(line)
            else:
                print("axe (not failing):", line)
        if not narrow(name):
            continue
        iframe.evaluate(f"e => {{ e.style.width = '{NARROW}px'; }}")
        try:
            frame.wait_for_function(f"() => document.documentElement.clientWidth <= {NARROW}")
            fit = frame.evaluate(OVERFLOW)
            if fit["scroll"] > fit["client"] + 1:
                problems.append(
                    f"{name}: at {NARROW} px the page is {fit['scroll']} px wide "
                    f"(sticking out: {', '.join(fit['wide'])})"
                )
                page.screenshot(path=str(artifacts / f"a11y-{name}-360.png"), full_page=True)
        finally:
            iframe.evaluate("e => { e.style.width = ''; }")
    return problems
