"""Ids from outside name a row only when they are plain digits within the database's integer."""

from __future__ import annotations

import pytest

from lti_tool.ids import MAX_ROW_ID, row_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("0042", 42),
        (str(MAX_ROW_ID), MAX_ROW_ID),
        (7, 7),
        (str(MAX_ROW_ID + 1), None),
        ("99999999999999999999999", None),
        ("-1", None),
        ("²", None),  # str.isdigit() says yes, int() says no
        ("٣", None),  # an Arabic-Indic three: int() reads it, no URL or form of ours makes it
        ("1.0", None),
        (" 1", None),
        ("", None),
        (None, None),
        (True, None),
        ("a\x00b", None),
    ],
)
def test_row_id(raw: object, expected: int | None) -> None:
    assert row_id(raw) == expected
