"""A teacher imports frameworks they already have (Moodle CSV, CASE JSON) on the real setup
page: the format is recognised, the tree is saved, and the message says what was read."""

from __future__ import annotations

from pathlib import Path

import pytest

from lti_tool.models.mastery import Competency
from tests.integration.test_setup_pages import Teacher, rows, text

pytestmark = pytest.mark.postgres

FRAMEWORKS = Path(__file__).resolve().parents[3] / "shared" / "data" / "frameworks"


def upload(t: Teacher, name: str, kind: str) -> str:
    path = FRAMEWORKS / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine (the shared framework samples)")
    page = t.post("/setup/competencies/import", {}, files={"file": (name, path.read_bytes(), kind)})
    assert page.status_code == 200, text(page)[:500]
    return text(page)


def test_moodle_and_case_frameworks_import_with_their_trees(live_server) -> None:
    t = Teacher(live_server, "moodle")
    t.get("/setup/competencies")

    words = upload(t, "moodle-framework-oecd.csv", "text/csv")
    assert "Imported 64 competencies from a Moodle framework CSV: 64 added, 0 updated." in words
    saved = {c.code: c for c in rows(live_server, Competency)}
    assert len(saved) == 64 and "OECD-CORE" not in saved  # the framework row is not one
    by_id = {c.id: c for c in saved.values()}
    assert saved["levels"].parent_id is None
    assert by_id[saved["DR-AT1"].parent_id].code == "analytical-thinking"
    assert by_id[saved["analytical-thinking"].parent_id].code == "delivery"
    assert saved["delivery"].description == "Achieving Results"

    words = upload(t, "case-draft-ccss-math-grade3-oa.json", "application/json")
    assert "Imported 14 competencies from a CASE JSON: 14 added, 0 updated." in words
    saved = {c.code: c for c in rows(live_server, Competency)}
    by_id = {c.id: c for c in saved.values()}
    assert len(saved) == 78
    assert saved["S114340A"].parent_id is None
    assert saved["S114340A"].title == "Operations and Algebraic Thinking"
    cluster = saved["CCSS.Math.Content.3.OA.A"]
    assert by_id[cluster.parent_id].code == "S114340A"
    standard = saved["CCSS.Math.Content.3.OA.A.2"]
    assert by_id[standard.parent_id].code == "CCSS.Math.Content.3.OA.A"
    assert len(standard.title) <= 120 and standard.description.startswith("Interpret whole")
    # Tree order: a cluster's standards come right after it, before the next cluster.
    order = [c.code for c in sorted(saved.values(), key=lambda c: (c.position, c.id))]
    assert order.index("CCSS.Math.Content.3.OA.A.4") < order.index("CCSS.Math.Content.3.OA.B")

    again = upload(t, "case-draft-ccss-math-grade3-oa.json", "application/json")
    assert "Imported 14 competencies from a CASE JSON: 0 added, 14 updated." in again
    assert len(rows(live_server, Competency)) == 78  # the same codes: updated, not doubled


def test_a_refused_framework_names_the_item_and_saves_nothing(live_server) -> None:
    t = Teacher(live_server, "canvas")
    t.get("/setup/competencies")
    package = (
        '{"CFDocument": {"identifier": "doc"}, "CFItems": ['
        '{"identifier": "a", "humanCodingScheme": "A", "fullStatement": "Alpha"},'
        '{"identifier": "b", "humanCodingScheme": "A", "fullStatement": "Beta"}]}'
    )
    page = t.post(
        "/setup/competencies/import",
        {},
        files={"file": ("framework.json", package.encode(), "application/json")},
    )
    assert page.status_code == 422
    assert 'Item 2, field "humanCodingScheme": "A" is already at item 1' in text(page)
    assert rows(live_server, Competency) == []


def test_an_unterminated_quote_is_refused_with_its_line(live_server) -> None:
    """Read loosely, the open quote took the rest of the file into one title and "imported"."""
    t = Teacher(live_server, "canvas")
    t.get("/setup/competencies")
    csv = (
        "code,title,parent\nFRAC,Fractions,\n"
        'FRAC-1,"Equivalent fractions,FRAC\nFRAC-2,Adding,FRAC\n'
    )
    page = t.post(
        "/setup/competencies/import", {}, files={"file": ("f.csv", csv.encode(), "text/csv")}
    )
    assert page.status_code == 422
    assert "Line 3: a quote opens here and is never closed" in text(page)
    assert rows(live_server, Competency) == []
