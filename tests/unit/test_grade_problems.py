"""Which AGS results the tool counts, caps or skips, and the words the teacher reads."""

from __future__ import annotations

import pytest

from lti_tool.services.grade_problems import CAPPED, SKIPPED, check_result


@pytest.mark.parametrize(
    ("result", "column_max", "counted", "kind", "value", "reason"),
    [
        ({"resultScore": 8, "resultMaximum": 10}, 10, (8.0, 10.0), None, "", ""),
        ({"resultScore": 3}, 4, (3.0, 4.0), None, "", ""),
        ({"resultScore": 0, "resultMaximum": 10}, 10, (0.0, 10.0), None, "", ""),
        ({"resultScore": -5, "resultMaximum": 10}, 10, None, SKIPPED, "-5", "below 0"),
        ({"resultScore": 12, "resultMaximum": 10}, 10, (10.0, 10.0), CAPPED, "12 of 10",
         "counted as 10 of 10"),
        ({"resultScore": 12.5}, 10, (10.0, 10.0), CAPPED, "12.5 of 10", "above the maximum"),
        ({"resultScore": float("nan"), "resultMaximum": 10}, 10, None, SKIPPED, "nan",
         "not a number"),
        ({"resultScore": float("inf"), "resultMaximum": 10}, 10, None, SKIPPED, "inf",
         "not a number"),
        ({"resultScore": "7", "resultMaximum": 10}, 10, None, SKIPPED, "7", "not a number"),
        ({"resultScore": "A-", "resultMaximum": 10}, 10, None, SKIPPED, "A-", "not a number"),
        ({"resultScore": True, "resultMaximum": 10}, 10, None, SKIPPED, "True", "not a number"),
        ({"resultScore": 5, "resultMaximum": 0}, 10, None, SKIPPED, "5 of 0", "maximum is 0"),
        ({"resultScore": 5, "resultMaximum": -10}, 10, None, SKIPPED, "5 of -10",
         "maximum is -10"),
        ({"resultScore": 5, "resultMaximum": "ten"}, 10, None, SKIPPED, "5 of ten",
         "maximum is ten"),
        ({"resultScore": 5}, 0, None, SKIPPED, "5", "column's maximum is 0"),
    ],
)  # fmt: skip
def test_each_result_is_counted_capped_or_skipped_with_why(
    result, column_max, counted, kind, value, reason
) -> None:
    checked = check_result(result, column_max)
    got = None if checked.points is None else (checked.points, checked.maximum)
    assert got == counted
    assert checked.kind == kind
    assert checked.value == value
    assert reason in checked.reason
