"""When the roster is read: on a launch into a course whose roster is stale (in the
background), and by `lti-tool sync roster`; and a placed link only opens its own course's
module."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from lti_tool.cli import main
from lti_tool.models.course import Context, Membership
from lti_tool.models.modules import Module
from lti_tool.sandbox.models import SandboxLink
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres


def _launch(live_server, slug: str, role: str = "student", link_id: int | None = None):
    with live_server.rt.session_factory() as s:
        person = people(s, slug)[role][0]
        course_id, main_link = course_and_link(s, slug)
    return launch_as(
        Browser(), live_server.platform_url, slug, course_id, link_id or main_link, person.user_id
    )


def _members(rt) -> int:
    with rt.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Membership))


@pytest.mark.parametrize("settings_overrides", [{"roster_max_age_seconds": 3600}])
def test_first_launch_syncs_a_stale_roster_in_the_background(live_server) -> None:
    assert _launch(live_server, "moodle").status_code == 200
    live_server.rt.jobs.wait()
    assert _members(live_server.rt) == 27
    with live_server.rt.session_factory() as s:
        synced = s.scalars(select(Context)).one().roster_synced_at
    assert synced is not None
    # a fresh roster is not read again on the next launch
    assert _launch(live_server, "moodle", "teacher").status_code == 200
    live_server.rt.jobs.wait()
    with live_server.rt.session_factory() as s:
        assert s.scalars(select(Context)).one().roster_synced_at == synced


def test_no_background_sync_when_turned_off(live_server) -> None:
    assert _launch(live_server, "moodle").status_code == 200
    live_server.rt.jobs.wait()
    assert _members(live_server.rt) == 1


def test_sync_roster_command(live_server, database_url: str, monkeypatch) -> None:
    assert _launch(live_server, "canvas", "teacher").status_code == 200
    with live_server.rt.session_factory() as s:
        course_id = s.scalars(select(Context.id)).one()
    for name, value in {
        "LTI_TOOL_DATABASE_URL": database_url,
        "LTI_TOOL_BASE_URL": live_server.tool_url,
        "LTI_TOOL_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["sync", "roster", "--course", str(course_id)])
    assert result.exit_code == 0, result.output
    assert "27 members (26 new" in result.output
    listed = CliRunner().invoke(main, ["course", "list"])
    assert "Grade 5 Fractions" in listed.output and "members 27" in listed.output
    missing = CliRunner().invoke(main, ["sync", "roster", "--course", "999"])
    assert missing.exit_code != 0 and "no course 999" in missing.output
    # for cron: every stale course; just synced, so none is stale now
    fresh = CliRunner().invoke(main, ["sync", "roster", "--all-stale"])
    assert fresh.exit_code == 0 and "Every roster is fresh." in fresh.output
    with live_server.rt.session_factory() as s:
        s.get(Context, course_id).roster_synced_at = None
        s.commit()
    stale = CliRunner().invoke(main, ["sync", "roster", "--all-stale"])
    assert (
        stale.exit_code == 0 and f"Roster of course {course_id} synced: 27 members" in stale.output
    )


def test_a_placed_link_opens_only_a_module_of_its_own_course(live_server) -> None:
    """A link whose custom module_id names another course's module opens the path instead."""
    rt = live_server.rt
    assert _launch(live_server, "canvas", "teacher").status_code == 200  # course in Canvas
    with rt.session_factory() as s:
        canvas_course = s.scalars(select(Context)).one()
        foreign = Module(context_id=canvas_course.id, title="Canvas-only module")
        s.add(foreign)
        s.commit()
        course_id, main_link = course_and_link(s, "moodle")
        link = s.get(SandboxLink, main_link)
        link.custom = {"module_id": str(foreign.id)}
        s.commit()
    page = _launch(live_server, "moodle")
    assert page.status_code == 200 and page.url.endswith("/path")
    assert "Canvas-only module" not in page.text
