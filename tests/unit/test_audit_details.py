"""A recompute's audit details, encoded in parts, are the text json.dumps makes of the dicts."""

import json

from lti_tool.services.recompute_rows import AuditDetails

CAUSE = {"kind": "grade_sync", "by": None}
EVIDENCE = {7: [{"column": "Quiz “1”", "line_item": 3, "change": "added", "score": 4.5}]}
RULE = {"rule": {"all": [{"competency": "C01", "level": "Mastery"}, {"module_completed": "2"}]}}


def test_mastery_details_are_the_dicts_text():
    details = AuditDetails(CAUSE, EVIDENCE)
    for user_id, cause in ((7, {**CAUSE, "evidence": EVIDENCE[7]}), (8, CAUSE)):
        for before, score, level in (
            ((None, None), 2.75, "Mastery"),
            ((3.0, "Mastery"), None, None),
        ):
            text = details.mastery(user_id, 'C"01', before, score, level)
            expected = {
                "competency": 'C"01',
                "score_before": before[0],
                "score_after": score,
                "level_before": before[1],
                "level_after": level,
                "cause": cause,
            }
            assert text == json.dumps(expected)


def test_unlock_details_are_the_dicts_text():
    details = AuditDetails(CAUSE, EVIDENCE)
    for rule in (RULE, None):
        parts = AuditDetails.module(12, "Module é\n1", rule)
        for user_id, cause in ((7, {**CAUSE, "evidence": EVIDENCE[7]}), (9, CAUSE)):
            for before in (None, "locked"):
                text = details.unlock(user_id, parts, before, "unlocked")
                expected = {
                    "module": 12,
                    "title": "Module é\n1",
                    "before": before,
                    "after": "unlocked",
                    "rule": rule,
                    "cause": cause,
                }
                assert text == json.dumps(expected)
