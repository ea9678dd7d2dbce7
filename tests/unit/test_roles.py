"""Role mapping across Canvas URIs, Moodle short names, sub-roles and LTI 1.1 URNs."""

from __future__ import annotations

import pytest

from lti_tool.lti.roles import MENTOR, NONE, STUDENT, TEACHER, tool_role

M = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
I = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"  # noqa: E741


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([M + "Instructor"], TEACHER),
        (
            ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
            TEACHER,
        ),
        ([M + "ContentDeveloper"], TEACHER),
        ([M + "Administrator"], TEACHER),
        ([I + "Administrator"], TEACHER),
        ([M + "Learner"], STUDENT),
        ([I + "Student", M + "Learner"], STUDENT),
        (["Learner"], STUDENT),
        (["Instructor"], TEACHER),
        (["urn:lti:role:ims/lis/Instructor"], TEACHER),
        ([M + "Mentor"], MENTOR),
        # a teacher elsewhere in the institution is a student in this course
        ([I + "Instructor", M + "Learner"], STUDENT),
        ([I + "Instructor"], NONE),
        ([], NONE),
    ],
)
def test_tool_role(roles: list[str], expected: str) -> None:
    assert tool_role(roles) == expected
