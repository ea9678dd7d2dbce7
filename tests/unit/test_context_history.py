"""`$Context.id.history`: what the sandbox sends for a course copied twice, and what the tool
reads from it, including what real platforms send when there is no history to read."""

from __future__ import annotations

import pytest

from lti_tool.lti.context_history import MOST, earlier_context_ids
from lti_tool.sandbox.models import SandboxCourse, SandboxLink, SandboxTool
from lti_tool.sandbox.platform import custom_parameters


def test_a_copy_of_a_copy_names_its_sources_newest_first() -> None:
    tool = SandboxTool(custom={"context_history": "$Context.id.history"})
    link = SandboxLink(custom={"module_id": "7"})
    course = SandboxCourse(history=["course 2026", "a,b", "2025"])
    custom = custom_parameters(tool, link, course)
    assert custom == {"context_history": "course%202026,a%2Cb,2025", "module_id": "7"}
    assert earlier_context_ids(custom) == ["course 2026", "a,b", "2025"]


def test_a_course_never_copied_sends_an_empty_history() -> None:
    tool = SandboxTool(custom={"context_history": "$Context.id.history"})
    custom = custom_parameters(tool, SandboxLink(custom={}), SandboxCourse(history=[]))
    assert custom == {"context_history": ""}
    assert earlier_context_ids(custom) == []


def test_a_link_parameter_wins_and_unknown_variables_stay_literal() -> None:
    tool = SandboxTool(custom={"context_history": "$Context.id.history", "x": "$Unknown.var"})
    link = SandboxLink(custom={"context_history": "fixed"})
    custom = custom_parameters(tool, link, SandboxCourse(history=["1"]))
    assert custom == {"context_history": "fixed", "x": "$Unknown.var"}


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "$Context.id.history", "truncated", "timed out", ",,", 7, ["1"]],
)
def test_no_history(raw: object) -> None:
    assert earlier_context_ids({"context_history": raw}) == []


def test_canvas_markers_duplicates_and_oversized_ids_are_dropped() -> None:
    raw = "abc,def,abc," + "x" * 300 + ",ghi,truncated"
    assert earlier_context_ids({"context_history": raw}) == ["abc", "def", "ghi"]


def test_a_flood_is_cut() -> None:
    raw = ",".join(str(i) for i in range(500))
    assert earlier_context_ids({"context_history": raw}) == [str(i) for i in range(MOST)]
