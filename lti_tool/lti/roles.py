"""LTI roles to what the tool lets a person do: teacher, student, mentor, or nothing.

Accepts the full URIs of id_tokens, the short context-role names of Moodle's NRPS answers
("Learner"), sub-roles (`membership/Instructor#TeachingAssistant`) and LTI 1.1 URNs. Only
context roles and institution/system Administrator grant teacher rights: an institution
"Instructor" is a teacher somewhere, not necessarily in this course.
"""

from __future__ import annotations

from collections.abc import Iterable

TEACHER = "teacher"
STUDENT = "student"
MENTOR = "mentor"
NONE = "none"

TEACHER_ROLES = {"Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator"}
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
ADMIN_URIS = {
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#SysAdmin",
}


def context_role_names(roles: Iterable[str]) -> set[str]:
    """The context-role names in a roles claim, sub-roles counted as their own name."""
    names: set[str] = set()
    for role in roles:
        if not isinstance(role, str):
            continue
        if role in ADMIN_URIS:
            names.add("Administrator")
            continue
        if role.startswith(MEMBERSHIP):
            rest = role[len(MEMBERSHIP) :]
            # "#Learner" or "/Instructor#TeachingAssistant"
            if "#" in rest:
                names.add(rest.rsplit("#", 1)[1])
            continue
        if role.startswith("urn:lti:role:ims/lis/"):
            names.add(role.rsplit("/", 1)[1])
            continue
        if "/" not in role and "#" not in role and ":" not in role:
            names.add(role)  # short context-role name, as Moodle's NRPS sends
    return names


def tool_role(roles: Iterable[str]) -> str:
    names = context_role_names(roles)
    if names & TEACHER_ROLES:
        return TEACHER
    if "Learner" in names:
        return STUDENT
    if "Mentor" in names:
        return MENTOR
    return NONE
