"""LTI roles to what the tool lets a person do: teacher, student, mentor, or nothing.

Accepts the full URIs of id_tokens, the short context-role names of Moodle's NRPS answers
("Learner"), sub-roles (`membership/Instructor#TeachingAssistant`) and LTI 1.1 URNs. Only
principal context roles decide: a sub-role belongs to the role before its `#` (before its
`/` in an LTI 1.1 URN), so `membership/Learner#Instructor` is a learner. Institution and
system roles grant nothing except Administrator (an administrator manages every course); an
institution "Instructor" is a teacher somewhere, not necessarily in this course.
"""

from __future__ import annotations

from collections.abc import Iterable

TEACHER = "teacher"
STUDENT = "student"
MENTOR = "mentor"
NONE = "none"

# TeachingAssistant is a principal role in LTI 1.1 (a sub-role of Instructor in 1.3).
TEACHER_ROLES = {"Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator"}
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
MEMBERSHIP = LIS + "membership"
LTI11_CONTEXT = "urn:lti:role:ims/lis/"
ADMIN_ROLES = {
    LIS + "institution/person#Administrator",
    LIS + "system/person#Administrator",
    LIS + "system/person#SysAdmin",
    "urn:lti:instrole:ims/lis/Administrator",
    "urn:lti:sysrole:ims/lis/Administrator",
    "urn:lti:sysrole:ims/lis/SysAdmin",
}


def _name(text: str) -> str | None:
    """A bare role name, or None for an empty or composite one."""
    if not text or any(c in text for c in "/#:"):
        return None
    return text


def principal_role(role: str) -> str | None:
    """The principal context role a role string belongs to; None if it is not a context role."""
    if role.startswith(MEMBERSHIP + "#"):  # membership#Learner
        return _name(role[len(MEMBERSHIP) + 1 :])
    if role.startswith(MEMBERSHIP + "/"):  # membership/Learner#Instructor: a learner
        principal, hash_, sub = role[len(MEMBERSHIP) + 1 :].partition("#")
        return _name(principal) if hash_ and _name(sub) else None
    if role.startswith(LTI11_CONTEXT):  # urn:lti:role:ims/lis/Learner[/Instructor]
        parts = role[len(LTI11_CONTEXT) :].split("/")
        if len(parts) > 2 or (len(parts) == 2 and _name(parts[1]) is None):
            return None
        return _name(parts[0])
    return _name(role)  # a short context-role name, as Moodle's NRPS sends


def principal_roles(roles: Iterable[object]) -> set[str]:
    """The principal context roles named in a roles claim, sub-roles counted as their principal."""
    found = {principal_role(r) for r in roles if isinstance(r, str)}
    found.discard(None)
    return found  # type: ignore[return-value]


def tool_role(roles: Iterable[object]) -> str:
    """Teacher, student, mentor or none, from principal context roles and administrators."""
    roles = list(roles)
    names = principal_roles(roles)
    if names & TEACHER_ROLES or any(r in ADMIN_ROLES for r in roles if isinstance(r, str)):
        return TEACHER
    if "Learner" in names:
        return STUDENT
    if "Mentor" in names:
        return MENTOR
    return NONE
