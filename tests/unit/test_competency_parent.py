"""A competency's new parent may not be the competency itself or one of its descendants."""

from __future__ import annotations

from lti_tool.models.mastery import Competency
from lti_tool.web.setup.forms import competency_fields

INSIDE = "A competency cannot sit inside itself or its own children."


def _comps() -> list[Competency]:
    root = Competency(id=1, code="A", title="A", parent_id=None)
    child = Competency(id=2, code="B", title="B", parent_id=1)
    grandchild = Competency(id=3, code="C", title="C", parent_id=2)
    other = Competency(id=4, code="D", title="D", parent_id=None)
    return [root, child, grandchild, other]


def _parent_error(editing_code: str, parent: str) -> str | None:
    comps = _comps()
    editing = next(c for c in comps if c.code == editing_code)
    form = {"code": editing.code, "title": editing.title, "parent": parent}
    return competency_fields(form, comps, editing)[1].get("parent")


def test_a_competency_cannot_move_inside_itself_or_its_descendants() -> None:
    assert _parent_error("A", "A") == INSIDE
    assert _parent_error("A", "B") == INSIDE
    assert _parent_error("A", "C") == INSIDE
    assert _parent_error("B", "C") == INSIDE


def test_any_other_parent_is_fine() -> None:
    assert _parent_error("A", "D") is None
    assert _parent_error("C", "A") is None
    assert _parent_error("D", "C") is None
    assert _parent_error("B", "") is None
