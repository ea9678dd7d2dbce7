"""The CSV importer refuses a whole file with line-and-column messages a teacher can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from lti_tool.services.competency_import import ImportRefused, decode, parse

SAMPLE = Path("/work/shared/data/sample-framework.csv")


def test_sample_framework_reads_with_parents_in_file_order() -> None:
    if not SAMPLE.exists():
        pytest.skip(f"{SAMPLE} is not on this machine")
    rows = parse(decode(SAMPLE.read_bytes()), {})
    codes = [r.code for r in rows]
    assert codes[:3] == ["5.NF", "5.NF.A", "5.NF.A.1"]
    assert rows[0].parent is None and rows[2].parent == "5.NF.A"
    assert rows[0].description and rows[0].description.startswith("Use equivalent fractions")


def test_headers_are_case_insensitive_and_bom_and_semicolons_are_accepted() -> None:
    data = "\ufeffCode;TITLE;Parent\nA;Alpha;\nB;Beta;A\n".encode()
    rows = parse(decode(data), {})
    assert [(r.code, r.parent, r.description) for r in rows] == [
        ("A", None, None),
        ("B", "A", None),
    ]


def test_missing_column_names_line_one_and_the_column() -> None:
    with pytest.raises(ImportRefused) as refused:
        parse("code,title\nA,Alpha\n", {})
    assert str(refused.value.problems[0]).startswith(
        'Line 1, column "parent": the column is missing'
    )


def test_unknown_parent_names_its_line_and_column() -> None:
    with pytest.raises(ImportRefused) as refused:
        parse("code,title,parent\nA,Alpha,\nB,Beta,\nC,Gamma,Z\n", {"Y": None})
    assert [str(p) for p in refused.value.problems] == [
        'Line 4, column "parent": no competency with code "Z" in the file or the course'
    ]


def test_parent_may_be_an_existing_competency_of_the_course() -> None:
    rows = parse("code,title,parent\nB,Beta,A\n", {"A": None})
    assert rows[0].parent == "A"


def test_duplicates_empty_cells_and_circles_are_all_reported() -> None:
    text = "code,title,parent\nA,Alpha,B\nB,Beta,A\nA,Again,\n,No code,\nD,,\n"
    with pytest.raises(ImportRefused) as refused:
        parse(text, {})
    shown = [str(p) for p in refused.value.problems]
    assert 'Line 4, column "code": "A" is already on line 2' in shown
    assert 'Line 5, column "code": empty: every competency needs a code' in shown
    assert 'Line 6, column "title": empty: every competency needs a title' in shown
    assert any(s.startswith('Line 3, column "parent"') and "inside itself" in s for s in shown)


def test_not_utf8_is_refused_with_advice() -> None:
    with pytest.raises(ImportRefused) as refused:
        decode("code,title,parent\nA,Caf\xe9,\n".encode("latin-1"))
    assert "CSV UTF-8" in str(refused.value)


def test_a_nul_character_is_refused_with_its_line() -> None:
    with pytest.raises(ImportRefused) as refused:
        decode(b"code,title,parent\nA,Alpha,\nB,Be\x00ta,A\n")
    assert str(refused.value.problems[0]).startswith("Line 3: contains a NUL character")


def test_an_unterminated_quote_is_refused_with_the_line_it_opens_on() -> None:
    # Read loosely, "Fractions, ... would swallow the rest of the file into one title.
    text = 'code,title,parent\nA,Alpha,\nB,"Fractions,\nC,Decimals,A\nD,Percent,A\n'
    with pytest.raises(ImportRefused) as refused:
        parse(text, {})
    shown = [str(p) for p in refused.value.problems]
    assert shown == [
        "Line 3: a quote opens here and is never closed "
        "(the rest of the file would be read as one cell); close it or remove it"
    ]


def test_text_after_a_closing_quote_is_refused_with_its_line() -> None:
    with pytest.raises(ImportRefused) as refused:
        parse('code,title,parent\nA,Alpha,\nB,"Frac"tions,A\n', {})
    assert str(refused.value.problems[0]).startswith("Line 3: not readable as CSV")


def test_a_title_that_took_in_the_next_line_is_refused() -> None:
    with pytest.raises(ImportRefused) as refused:
        parse('code,title,parent\nA,Alpha,\nB,"Fractions,\nC,Decimals",A\n', {})
    assert [str(p) for p in refused.value.problems] == [
        'Line 3, column "title": runs over several lines: a quote before it is probably not '
        "closed (it took in the next line)"
    ]
