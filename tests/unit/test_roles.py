"""Role mapping over the whole LIS role vocabulary, as LTI 1.3 and 1.1 platforms send it.

A sub-role belongs to its principal role (the part before `#`, or before `/` in an LTI 1.1
URN): `Learner#Instructor` is a learner acting as an instructor of a group, never a teacher.
"""

from __future__ import annotations

import pytest

from lti_tool.lti.roles import MENTOR, NONE, STUDENT, TEACHER, tool_role

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
M = LIS + "membership#"
I = LIS + "institution/person#"  # noqa: E741
S = LIS + "system/person#"

# Context roles and their sub-roles (LTI 1.3 core, A.2.3 and A.2.3.1).
SUB_ROLES = {
    "Administrator": [
        "Administrator",
        "Developer",
        "ExternalDeveloper",
        "ExternalSupport",
        "ExternalSystemAdministrator",
        "Support",
        "SystemAdministrator",
    ],
    "ContentDeveloper": [
        "ContentDeveloper",
        "ContentExpert",
        "ExternalContentExpert",
        "Librarian",
    ],
    "Instructor": [
        "ExternalInstructor",
        "Grader",
        "GuestInstructor",
        "Lecturer",
        "PrimaryInstructor",
        "SecondaryInstructor",
        "TeachingAssistant",
        "TeachingAssistantGroup",
        "TeachingAssistantOffering",
        "TeachingAssistantSection",
        "TeachingAssistantSectionAssociation",
        "TeachingAssistantTemplate",
    ],
    "Learner": ["ExternalLearner", "GuestLearner", "Instructor", "Learner", "NonCreditLearner"],
    "Manager": ["AreaManager", "CourseCoordinator", "ExternalObserver", "Manager", "Observer"],
    "Member": ["Member"],
    "Mentor": [
        "Advisor",
        "Auditor",
        "ExternalAdvisor",
        "ExternalAuditor",
        "ExternalLearningFacilitator",
        "ExternalMentor",
        "ExternalReviewer",
        "ExternalTutor",
        "LearningFacilitator",
        "Mentor",
        "Reviewer",
        "Tutor",
    ],
    "Officer": ["Chair", "Communications", "Secretary", "Treasurer", "Vice-Chair"],
}
PRINCIPAL = {
    "Administrator": TEACHER,
    "ContentDeveloper": TEACHER,
    "Instructor": TEACHER,
    "Learner": STUDENT,
    "Manager": NONE,
    "Member": NONE,
    "Mentor": MENTOR,
    "Officer": NONE,
}
INSTITUTION_ROLES = [
    "Administrator",
    "Faculty",
    "Guest",
    "None",
    "Other",
    "Staff",
    "Student",
    "Alumni",
    "Instructor",
    "Learner",
    "Member",
    "Mentor",
    "Observer",
    "ProspectiveStudent",
]
SYSTEM_ROLES = [
    "Administrator",
    "None",
    "AccountAdmin",
    "Creator",
    "SysAdmin",
    "SysSupport",
    "User",
]
# Administrators of the institution or the system manage every course (shared/platforms/
# security.md); every other institution or system role says nothing about this course.
ADMINS = {"Administrator", "SysAdmin"}


def _table() -> list[tuple[list[str], str]]:
    rows: list[tuple[list[str], str]] = []
    for principal, expected in PRINCIPAL.items():
        rows.append(([M + principal], expected))  # LTI 1.3 context role
        rows.append(([principal], expected))  # short name (Moodle's NRPS)
        rows.append((["urn:lti:role:ims/lis/" + principal], expected))  # LTI 1.1
        for sub in SUB_ROLES[principal]:
            rows.append(([f"{LIS}membership/{principal}#{sub}"], expected))
            rows.append(([f"urn:lti:role:ims/lis/{principal}/{sub}"], expected))
    for name in INSTITUTION_ROLES:
        expected = TEACHER if name in ADMINS else NONE
        rows.append(([I + name], expected))
        rows.append((["urn:lti:instrole:ims/lis/" + name], expected))
    for name in SYSTEM_ROLES:
        expected = TEACHER if name in ADMINS else NONE
        rows.append(([S + name], expected))
        rows.append((["urn:lti:sysrole:ims/lis/" + name], expected))
    return rows


@pytest.mark.parametrize(("roles", "expected"), _table(), ids=lambda v: str(v))
def test_every_lis_role_alone(roles: list[str], expected: str) -> None:
    assert tool_role(roles) == expected


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        # The case: a learner's sub-role named Instructor is a learner.
        ([LIS + "membership/Learner#Instructor"], STUDENT),
        ([M + "Learner", LIS + "membership/Learner#Instructor"], STUDENT),
        (["urn:lti:role:ims/lis/Learner/Instructor"], STUDENT),
        # A mentor's sub-role named like a teacher's stays a mentor's.
        ([LIS + "membership/Mentor#Reviewer", M + "Mentor"], MENTOR),
        # LTI 1.1 made TeachingAssistant a principal role; its sub-roles follow it.
        (["urn:lti:role:ims/lis/TeachingAssistant"], TEACHER),
        (["urn:lti:role:ims/lis/TeachingAssistant/TeachingAssistantSection"], TEACHER),
        (["TeachingAssistant"], TEACHER),
        # Canvas' shapes (the sandbox sends these).
        ([I + "Instructor", M + "Instructor", S + "User"], TEACHER),
        (
            [I + "Instructor", LIS + "membership/Instructor#TeachingAssistant", S + "User"],
            TEACHER,
        ),
        ([I + "Student", M + "Learner", S + "User"], STUDENT),
        ([M + "Mentor", S + "User"], MENTOR),
        # A teacher elsewhere in the institution is a student in this course.
        ([I + "Instructor", M + "Learner"], STUDENT),
        (["urn:lti:instrole:ims/lis/Instructor", "urn:lti:role:ims/lis/Learner"], STUDENT),
        # Teacher wins over learner; learner over mentor.
        ([M + "Learner", M + "Instructor"], TEACHER),
        ([M + "Mentor", M + "Learner"], STUDENT),
        # Canvas' test student: a learner with a test-user system role.
        ([M + "Learner", "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"], STUDENT),
        # Not roles the tool knows, or not roles at all.
        ([LIS + "membership/Learner#"], NONE),
        ([LIS + "membership#Learner#Instructor"], NONE),
        ([LIS + "membershipInstructor"], NONE),
        ([LIS + "membership/#Instructor"], NONE),
        (["urn:lti:role:ims/lis/Learner/Instructor/Extra"], NONE),
        (["https://example.com/roles#Instructor"], NONE),
        (["Learner#Instructor"], NONE),
        ([""], NONE),
        ([], NONE),
    ],
    ids=lambda v: str(v),
)
def test_role_combinations(roles: list[str], expected: str) -> None:
    assert tool_role(roles) == expected


def test_non_text_roles_are_ignored() -> None:
    assert tool_role([None, 3, {"x": 1}, M + "Learner"]) == STUDENT  # type: ignore[list-item]
