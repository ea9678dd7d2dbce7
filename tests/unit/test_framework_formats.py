"""Frameworks as teachers and admins already have them (Canvas, Moodle, CASE) read into the same
rows as the plain CSV, and refused whole with the line or item to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lti_tool.services.competency_import import ImportRefused, Row
from lti_tool.services.framework_formats import parse_any, plain_text, shorten

FRAMEWORKS = Path(__file__).resolve().parents[3] / "shared" / "data" / "frameworks"


def read(name: str) -> tuple[str, list[Row]]:
    path = FRAMEWORKS / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine (the shared framework samples)")
    return parse_any(path.read_bytes(), {})


def by_code(rows: list[Row]) -> dict[str, Row]:
    return {r.code: r for r in rows}


def refused(data: str | dict, existing: dict[str, str | None] | None = None) -> list[str]:
    raw = json.dumps(data) if isinstance(data, dict) else data
    with pytest.raises(ImportRefused) as caught:
        parse_any(raw.encode(), existing or {})
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("name", "fmt", "count"),
    [
        ("canvas-outcomes-doc-sample.csv", "Canvas outcomes CSV", 3),
        ("canvas-outcomes-test-1.csv", "Canvas outcomes CSV", 3),
        ("canvas-outcomes-no-groups.csv", "Canvas outcomes CSV", 1),
        ("moodle-framework-oecd.csv", "Moodle framework CSV", 64),
        ("case-1.0-act-math-excerpt.json", "CASE JSON", 28),
        ("case-1.0-sequence-numbers.json", "CASE JSON", 2),
        ("case-draft-ccss-math-grade3-oa.json", "CASE JSON", 14),
    ],
)
def test_every_shared_file_is_detected_and_read_whole(name: str, fmt: str, count: int) -> None:
    detected, rows = read(name)
    assert detected == fmt
    assert len(rows) == count
    assert len({r.code for r in rows}) == count
    assert all(r.title and len(r.title) <= 300 and len(r.code) <= 100 for r in rows)


def test_canvas_groups_and_outcomes_use_display_names_and_the_first_parent() -> None:
    _, rows = read("canvas-outcomes-doc-sample.csv")
    assert [(r.code, r.title, r.parent) for r in rows] == [
        ("G-1", "Parent group", None),
        ("G-1.1", "Child group", "G-1"),
        ("LS-100", "Learning Standard", "G-1"),  # parent_guids "a b": the first one
    ]
    assert rows[2].description == "outcome description"
    _, alone = read("canvas-outcomes-no-groups.csv")
    assert [(r.code, r.title, r.parent, r.description) for r in alone] == [
        ("here", "C", None, "CCC")
    ]


def test_canvas_falls_back_to_vendor_guid_skips_deleted_and_reads_semicolons() -> None:
    data = (
        "vendor_guid;object_type;title;description;display_name;workflow_state;parent_guids\n"
        'g1;group;Group;"<p>A &amp; B</p>";;active;\n'
        "gone;outcome;Deleted;;;deleted;g1\n"
        "\n"
        "o1;outcome;Outcome;;O-1;;g1\n"
    )
    fmt, rows = parse_any(data.encode(), {})
    assert fmt == "Canvas outcomes CSV"
    assert [(r.line, r.code, r.parent, r.description) for r in rows] == [
        (2, "g1", None, "A & B"),
        (5, "O-1", "g1", ""),
    ]


def test_moodle_framework_row_is_not_a_competency_and_parents_are_id_numbers() -> None:
    _, rows = read("moodle-framework-oecd.csv")
    comps = by_code(rows)
    assert "OECD-CORE" not in comps  # the framework itself
    assert rows[0].code == "levels" and rows[0].parent is None
    assert comps["competencies"].parent is None
    assert comps["delivery"].parent == "competencies"
    assert comps["analytical-thinking"].parent == "delivery"
    assert comps["DR-AT1"].parent == "analytical-thinking"
    assert comps["teamwork"].title == "Teamwork and Team Leadership"


def test_moodle_descriptions_are_plain_text() -> None:
    _, rows = read("moodle-framework-oecd.csv")
    comps = by_code(rows)
    assert comps["delivery"].description == "Achieving Results"
    thinking = comps["analytical-thinking"].description or ""
    assert thinking.startswith("Analytical Thinking is the ability to identify patterns across")
    assert all("<" not in (r.description or "") and "\n" not in (r.description or "") for r in rows)


def test_moodle_framework_id_as_parent_means_top_level() -> None:
    data = (
        "Parent,ID,Name,Description,Format,Scale,Config,RT,RO,RC,Cross,Exported,Is framework,Tax\n"
        ',FW,Framework,"<p>The framework</p>",1,"A,B",,,,,,,1,\n'
        "FW,A,Alpha,<b>Bold</b> &lt;tag&gt;,1,,,,,,,,,\n"
        "A,A.1,Alpha one,<b>kept</b>,2,,,,,,,,,\n"
    )
    fmt, rows = parse_any(data.encode(), {})
    assert fmt == "Moodle framework CSV"
    assert [(r.line, r.code, r.parent, r.description) for r in rows] == [
        (3, "A", None, "Bold <tag>"),
        (4, "A.1", "A", "<b>kept</b>"),  # format 2 is plain text: nothing to strip
    ]


def test_case_codes_titles_and_tree() -> None:
    _, rows = read("case-1.0-act-math-excerpt.json")
    comps = by_code(rows)
    top = comps["H.A.MATH.GM"]
    assert top.parent is None and top.title == "Geometry and Measurement" and top.line == 1
    assert top.description and top.description.startswith("Properties and measurements")
    assert comps["H.A.MATH.GM.PF.2DFP.L1.7"].parent == "H.A.MATH.GM.PF.2DFP.L1"
    level = [r.code.rsplit(".", 1)[1] for r in rows if r.parent == "H.A.MATH.GM.PF.2DFP.L1"]
    assert level == [str(n) for n in range(1, 25)]  # by humanCodingScheme, 2 before 10
    long = comps["H.A.MATH.GM.PF.2DFP.L1.22"]  # no abbreviatedStatement, a 226-character one
    assert len(long.title) <= 120 and long.description and len(long.description) > 200


def test_case_sequence_numbers_order_siblings() -> None:
    _, rows = read("case-1.0-sequence-numbers.json")
    assert [(r.code, r.line, r.parent) for r in rows] == [("SNT.2", 2, None), ("SNT.1", 1, None)]


def test_case_draft_derives_a_code_and_orders_by_list_enumeration() -> None:
    _, rows = read("case-draft-ccss-math-grade3-oa.json")
    assert rows[0].code == "S114340A" and rows[0].parent is None  # no humanCodingScheme
    assert rows[0].title == "Operations and Algebraic Thinking"
    assert [r.code for r in rows if r.parent == "S114340A"] == [
        f"CCSS.Math.Content.3.OA.{c}" for c in "ABCD"
    ]
    assert [r.code for r in rows][:3] == [
        "S114340A",
        "CCSS.Math.Content.3.OA.A",
        "CCSS.Math.Content.3.OA.A.1",
    ]
    again = parse_any((FRAMEWORKS / "case-draft-ccss-math-grade3-oa.json").read_bytes(), {})
    assert again[1][0].code == "S114340A"  # the same code on every import


def case(items: list[dict], links: list[tuple[str, str]]) -> dict:
    return {
        "CFDocument": {"identifier": "doc", "title": "Doc"},
        "CFItems": items,
        "CFAssociations": [
            {
                "associationType": "isChildOf",
                "originNodeURI": {"identifier": child},
                "destinationNodeURI": {"identifier": parent, "title": parent.upper()},
            }
            for child, parent in links
        ],
    }


def test_case_uuid_without_code_gets_a_short_code() -> None:
    ident = "e144c2e6-c0ea-11e7-95f7-5d664f4d8844"
    _, rows = parse_any(
        json.dumps(case([{"identifier": ident, "fullStatement": "S"}], [])).encode(), {}
    )
    assert rows[0].code == "ID-e144c2e6" and rows[0].parent is None


def test_case_problems_name_the_item_and_field() -> None:
    items = [
        {"identifier": "a", "humanCodingScheme": "A", "fullStatement": "Alpha"},
        {"identifier": "b", "humanCodingScheme": "A", "fullStatement": "Beta"},
        {"identifier": "c", "humanCodingScheme": "C", "fullStatement": "Gamma"},
    ]
    problems = refused(case(items, [("a", "doc"), ("b", "doc"), ("c", "elsewhere")]))
    assert problems == [
        'Item 2, field "humanCodingScheme": "A" is already at item 1',
        'Item 3, field "isChildOf": its parent "ELSEWHERE" is not an item of this file',
    ]


def test_case_cycle_is_refused() -> None:
    items = [
        {"identifier": "a", "humanCodingScheme": "A", "fullStatement": "Alpha"},
        {"identifier": "b", "humanCodingScheme": "B", "fullStatement": "Beta"},
    ]
    problems = refused(case(items, [("a", "b"), ("b", "a")]))
    assert problems[0] == 'Item 1, field "isChildOf": "A" would end up inside itself: A → B → A'
    assert problems[1].startswith('Item 2, field "isChildOf": "B" would end up inside itself')


def test_unrecognised_json_and_broken_json_are_refused() -> None:
    assert refused({"competencies": []}) == [
        "Line 1: this JSON is not a CASE framework (a CFPackage with CFDocument and CFItems)"
    ]
    assert refused("{not json")[0].startswith("Line 1: not readable as JSON")


def test_canvas_unknown_parent_and_duplicate_code_name_the_line() -> None:
    data = (
        "vendor_guid,object_type,title,display_name,parent_guids\n"
        "a,group,A,X,\n"
        "b,outcome,B,X,\n"
        "c,outcome,C,,nope\n"
        "d,thing,D,,\n"
    )
    assert refused(data) == [
        'Line 3, column "display_name": "X" is already at line 2',
        'Line 4, column "parent_guids": no competency with code "nope" in the file or the course',
        'Line 5, column "object_type": "thing" is neither "outcome" nor "group"',
    ]
    fixed = data.replace("d,thing", "d,group").replace("B,X,", "B,Y,a")
    _, rows = parse_any(fixed.encode(), {"nope": None})
    assert [r.parent for r in rows] == [None, "X", "nope", None]  # a code already in the course


def test_moodle_unknown_parent_and_cycle_name_the_line() -> None:
    data = (
        "p,id,name,d,f,s,c,rt,ro,rc,x,e,fw,t\n"
        ",FW,Framework,,1,,,,,,,,1,\n"
        "B,A,Alpha,,1,,,,,,,,,\n"
        "A,B,Beta,,1,,,,,,,,,\n"
        "NOPE,C,Gamma,,1,,,,,,,,,\n"
    )
    problems = refused(data)
    assert problems[0].startswith('Line 3, column "Parent ID number": "A" would end up inside')
    assert problems[2] == (
        'Line 5, column "Parent ID number": no competency with code "NOPE"'
        " in the file or the course"
    )


def test_plain_csv_is_read_as_before() -> None:
    fmt, rows = parse_any(b"code,title,parent\nA,Alpha,\nB,Beta,A\n", {})
    assert fmt == "plain CSV" and [(r.code, r.parent) for r in rows] == [("A", None), ("B", "A")]
    assert refused("Code,Title\nA,Alpha\n")[0].startswith(
        'Line 1, column "parent": the column is missing'
    )


def test_helpers_shorten_at_a_word_and_strip_markup() -> None:
    assert shorten("word " * 100, 300).endswith("word…") and len(shorten("word " * 100)) <= 300
    markup = "<p>One</p><p>Two<br>three&nbsp;&amp;\n four</p><script>x</script>"
    assert plain_text(markup) == "One Two three & four"


def test_json_nested_past_the_reader_is_refused_with_words() -> None:
    problems = refused('{"CFItems": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001)
    assert problems == ["Line 1: not readable as JSON (nested deeper than any framework is)"]


def test_a_nul_in_a_case_title_is_refused_naming_the_item() -> None:
    items = [
        {"identifier": "a", "humanCodingScheme": "A", "fullStatement": "Alpha"},
        {"identifier": "b", "humanCodingScheme": "B", "fullStatement": "Be\u0000ta"},
    ]
    problems = refused(case(items, [("a", "doc"), ("b", "doc")]))
    assert problems == ["Item 2: contains a NUL character (code 0), which no text can hold"]


def test_an_unterminated_quote_in_a_canvas_file_names_its_line() -> None:
    data = (
        "vendor_guid,object_type,title,display_name,parent_guids\n"
        "g1,group,Numbers,,\n"
        'o1,outcome,"Fractions,F1,g1\n'
        "o2,outcome,Decimals,D1,g1\n"
    )
    assert refused(data)[0].startswith("Line 3: a quote opens here and is never closed")
