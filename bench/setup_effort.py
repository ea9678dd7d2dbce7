"""What setting up a course costs a teacher: 3 competencies, 5 graded modules aligned to them,
each unlocking after the one before (the templates page), placed in the LMS through deep
linking, and the placed gradebook columns aligned so their grades count, all driven in Debian's
Chromium inside the sandbox LMS's iframe. Prints clicks, keystrokes and seconds per step.

Then next term: the LMS copies the course ("Copy this course"), and the teacher's clicks from
the first launch of the copy (that launch counted) to its students seeing their path are
counted against the target of 3 (issue 14, item 3).

    .venv/bin/python bench/setup_effort.py [--shape canvas|moodle]

Counting: every click (a button, a link, a checkbox, or a click into a field before typing)
is one click; every character typed is one keystroke (a `fill` of N characters is N
keystrokes; a Tab or Enter is one). Waiting for a page to load is free. The same driver runs
in tests/browser/test_flows.py, which holds it to the target.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # standalone: make `lti_tool` importable from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHROMIUM = "/usr/bin/chromium"
TARGET_CLICKS = 40
NEXT_TERM_TARGET_CLICKS = 3
NEXT_TERM_TITLE = "Grade 5 Fractions 2027"

COMPETENCIES = [
    ("FRAC-1", "Equivalent fractions"),
    ("FRAC-2", "Adding fractions"),
    ("FRAC-3", "Multiplying fractions"),
]
# module title, points when placed (graded), the competency it practises
MODULES = [
    ("Fraction walls", "10", "FRAC-1"),
    ("Common denominators", "10", "FRAC-2"),
    ("Adding unlike fractions", "10", "FRAC-2"),
    ("Fractions of a number", "10", "FRAC-3"),
    ("Multiplying fractions", "10", "FRAC-3"),
]


@dataclass
class Effort:
    """What the teacher does, counted per step."""

    clicks: int = 0
    keys: int = 0
    field_clicks: int = 0  # of `clicks`, those into a text field before typing
    step: str = ""
    steps: dict[str, list[float]] = field(default_factory=dict)
    _started: float = field(default_factory=time.perf_counter)
    _step_started: float = 0.0

    def begin(self, step: str) -> None:
        now = time.perf_counter()
        if self.step:
            self.steps[self.step][2] += now - self._step_started
        self.step, self._step_started = step, now
        self.steps.setdefault(step, [0, 0, 0.0])

    def end(self) -> float:
        self.begin("")
        self.steps.pop("", None)
        return time.perf_counter() - self._started

    def _count(self, clicks: int = 0, keys: int = 0) -> None:
        self.clicks += clicks
        self.keys += keys
        if self.step:
            self.steps[self.step][0] += clicks
            self.steps[self.step][1] += keys

    def click(self, locator: Any) -> None:
        locator.click()
        self._count(clicks=1)

    def check(self, locator: Any) -> None:
        locator.check()
        self._count(clicks=1)

    def type(self, locator: Any, text: str) -> None:
        """Click into a field and type `text`."""
        locator.click()
        locator.fill(text)
        self.field_clicks += 1
        self._count(clicks=1, keys=len(text))


def tool_frame(page: Any) -> Any:
    return page.frame_locator("iframe.tool")


def setup_nav(tool: Any, name: str) -> Any:
    return tool.get_by_role("navigation", name="Course setup").get_by_role(
        "link", name=name, exact=True
    )


def set_up_course(
    page: Any,
    platform_url: str,
    slug: str,
    course_id: int,
    teacher_name: str,
    effort: Effort,
    shot: Callable[[str], None] = lambda name: None,
) -> None:
    """The whole setup as a teacher clicks it, starting on the LMS's course page."""
    course_page = f"{platform_url}/sandbox/{slug}/courses/{course_id}"
    page.goto(course_page)

    effort.begin("open the tool (LMS → course home → setup)")
    effort.click(page.get_by_role("button", name=f"Launch as {teacher_name}"))
    tool = tool_frame(page)
    tool.get_by_role("heading", level=1, name="Course home").wait_for(timeout=15000)
    shot("course-home")
    effort.click(tool.get_by_role("link", name="Set up competencies and modules"))
    tool.get_by_role("heading", level=1, name="Set up this course").wait_for()
    shot("setup-overview")

    effort.begin("3 competencies")
    effort.click(setup_nav(tool, "Competencies"))
    tool.get_by_role("heading", level=1, name="Competencies").wait_for()
    for code, title in COMPETENCIES:
        effort.type(tool.get_by_label("Code"), code)
        effort.type(tool.get_by_label("Title"), title)
        effort.click(tool.get_by_role("button", name="Add competency"))
        tool.get_by_role("status").filter(has_text=f'Added "{title}"').wait_for()
    shot("competencies")

    effort.begin("5 modules")
    effort.click(setup_nav(tool, "Modules and rules"))
    tool.get_by_role("heading", level=1, name="Modules and unlock rules").wait_for()
    for title, points, _code in MODULES:
        effort.type(tool.get_by_label("Title"), title)
        if points != "10":  # the form offers 10 points (graded) for a new module
            effort.type(tool.get_by_label("Points when placed as a graded item"), points)
        effort.click(tool.get_by_role("button", name="Add module"))
        tool.get_by_role("status").filter(has_text=f'Added the module "{title}"').wait_for()
    shot("modules")

    effort.begin("align modules to competencies")
    effort.click(setup_nav(tool, "Alignments"))
    tool.get_by_role("heading", level=1, name="Alignments").wait_for()
    titles = dict(COMPETENCIES)
    for title, _points, code in MODULES:
        group = tool.get_by_role("group", name=title, exact=True)
        effort.check(group.get_by_label(f"{code} {titles[code]}"))
    effort.click(tool.get_by_role("button", name="Save alignments"))
    tool.get_by_role("status").filter(has_text=f"Saved {len(MODULES)} alignments").wait_for()
    shot("alignments")

    effort.begin("unlock rules (template: a path in order)")
    effort.click(setup_nav(tool, "Templates"))
    tool.get_by_role("heading", level=1, name="Unlock rules in one click").wait_for()
    shot("templates")
    effort.click(tool.get_by_role("button", name="Unlock each module after the previous one"))
    tool.get_by_role("status").filter(has_text="now unlocks when the one before").wait_for()
    shot("modules-with-rules")

    effort.begin("place in the LMS (deep linking)")
    effort.click(page.get_by_role("link", name="Grade 5 Fractions"))  # the LMS's breadcrumb
    effort.click(page.get_by_role("button", name=f"Add mastery modules as {teacher_name}"))
    tool.get_by_role("heading", name="Add modules to your course").wait_for(timeout=15000)
    for title, _points, _code in MODULES:
        box = tool.get_by_label(title)
        if not box.is_checked():  # modules never placed come ticked
            effort.check(box)
    shot("placement-picker")
    effort.click(tool.get_by_role("button", name="Add to course"))
    tool.get_by_role("heading", name="Content added to Grade 5 Fractions").wait_for(timeout=15000)
    shot("placement-done")

    # Nothing to align afterwards: the first grade sync links each placed module's own
    # gradebook column to it and to its competencies.


def copy_in_lms(page: Any, platform_url: str, slug: str, course_id: int, title: str) -> int:
    """The LMS's "Copy this course" (the LMS's work, not the tool's): the new course's id."""
    page.goto(f"{platform_url}/sandbox/{slug}/courses/{course_id}")
    page.get_by_label("Title of the copy").fill(title)
    page.get_by_role("button", name="Copy this course").click()
    page.get_by_role("heading", level=1, name=title).wait_for()
    return int(page.url.rsplit("/courses/", 1)[1].split("?")[0].split("#")[0])


def next_term(
    page: Any,
    platform_url: str,
    slug: str,
    course_id: int,
    teacher_name: str,
    source_title: str,
    effort: Effort,
    shot: Callable[[str], None] = lambda name: None,
) -> None:
    """The teacher's first launch of the copied course, to its setup copied: every click."""
    page.goto(f"{platform_url}/sandbox/{slug}/courses/{course_id}")
    effort.begin("first launch of the copied course")
    effort.click(page.get_by_role("button", name=f"Launch as {teacher_name}"))
    tool = tool_frame(page)
    tool.get_by_role("heading", level=1, name="Set up this course").wait_for(timeout=15000)
    shot("next-term-offer")
    effort.begin("copy last term's setup")
    effort.click(tool.get_by_role("button", name=f"Copy setup from {source_title}"))
    tool.get_by_role("status").filter(has_text=f"Setup copied from {source_title}").wait_for(
        timeout=15000
    )
    shot("next-term-copied")


def student_sees_path(
    page: Any, platform_url: str, slug: str, course_id: int, student_name: str
) -> list[str]:
    """A student's launch of the course: the titles of the modules on their path."""
    page.goto(f"{platform_url}/sandbox/{slug}/courses/{course_id}")
    page.get_by_role("button", name=f"Launch as {student_name}").click()
    tool = tool_frame(page)
    tool.get_by_role("heading", level=1, name="Your path").wait_for(timeout=15000)
    cards = tool.locator("ol.cards > li h3")  # the page is whole once its heading shows
    return [t.strip() for t in cards.all_inner_texts()]


# -- standalone run ------------------------------------------------------------------------------


@contextmanager
def serve() -> Iterator[tuple[Any, str, int]]:
    """The tool and the sandbox on a free port (tool 127.0.0.1, LMS localhost), SQLite."""

    from werkzeug.serving import make_server

    from lti_tool import migrate
    from lti_tool.cli import prepare
    from lti_tool.db import make_engine
    from lti_tool.sandbox.seed import seed_demo
    from tests.conftest import free_port, make_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    url = f"sqlite:///{tempfile.mkdtemp(prefix='setup-effort-')}/bench.db"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = make_app(url, port, log_level="ERROR")  # the tests' app: tool 127.0.0.1, LMS localhost
    rt = app.extensions["lti_tool"]
    prepare(rt)
    with rt.session_factory() as session:
        seed_demo(session, rt.settings)
        session.commit()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rt, f"http://localhost:{port}", port
    finally:
        jobs = rt.jobs
        if hasattr(jobs, "shutdown"):
            jobs.wait()
            jobs.shutdown()
        server.shutdown()
        thread.join(5)
        rt.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=["canvas", "moodle"], default="canvas")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is not installed (apt-get install chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    from tests.lms import course_and_link, people

    with serve() as (rt, platform_url, _port), sync_playwright() as p:
        with rt.session_factory() as s:
            teacher = people(s, args.shape)["teacher"][0]
            student = people(s, args.shape)["student"][0]
            course_id, _ = course_and_link(s, args.shape)
        # one renderer process for both sites, as the browser tests do (tests/browser/conftest.py)
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--disable-site-isolation-trials"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        effort = Effort()
        set_up_course(page, platform_url, args.shape, course_id, teacher.name, effort)
        seconds = effort.end()
        copy_id = copy_in_lms(page, platform_url, args.shape, course_id, NEXT_TERM_TITLE)
        again = Effort()
        next_term(page, platform_url, args.shape, copy_id, teacher.name, "Grade 5 Fractions", again)
        next_seconds = again.end()
        path = student_sees_path(page, platform_url, args.shape, copy_id, student.name)
        browser.close()

    print(f"Course setup in the {args.shape} sandbox: 3 competencies, 5 graded modules, rules, ")
    print("and placement through deep linking.\n")
    print(f"{'step':<56} {'clicks':>6} {'keys':>6} {'seconds':>8}")
    to_placement = [effort.clicks, effort.keys]
    for step, (clicks, keys, secs) in effort.steps.items():
        print(f"{step:<56} {clicks:>6} {keys:>6} {secs:>8.1f}")
    total = "total, up to placement (issue 6, 1a)"
    print(f"{total:<56} {effort.clicks:>6} {effort.keys:>6} {seconds:>8.1f}")
    print(
        f"\n{effort.field_clicks} of the {effort.clicks} clicks are clicks into a text field "
        f"before typing (a keyboard user would Tab there instead)."
    )
    verdict = "within" if to_placement[0] <= TARGET_CLICKS else "OVER"
    print(f"\nTarget: ≤ {TARGET_CLICKS} clicks up to placement: {verdict}.")
    print(f"\nNext term: the LMS copied the course to {NEXT_TERM_TITLE!r}.\n")
    print(f"{'step':<56} {'clicks':>6} {'keys':>6} {'seconds':>8}")
    for step, (clicks, keys, secs) in again.steps.items():
        print(f"{step:<56} {clicks:>6} {keys:>6} {secs:>8.1f}")
    total = "next term: first launch to students seeing their path"
    print(f"{total:<56} {again.clicks:>6} {again.keys:>6} {next_seconds:>8.1f}")
    print(f"{student.name} then sees their path: {len(path)} modules ({', '.join(path)}).")
    verdict = "within" if again.clicks <= NEXT_TERM_TARGET_CLICKS and path else "OVER"
    print(f"Target: ≤ {NEXT_TERM_TARGET_CLICKS} clicks for next term: {verdict}.\n")
    print(
        "Seconds are the browser's (page loads, no human think time), on this machine: "
        "a floor for a teacher, not an estimate."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
