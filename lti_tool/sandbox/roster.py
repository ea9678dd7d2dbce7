"""Changing who is in a sandbox course, as an LMS admin would: remove an enrollment (the
person disappears from NRPS) or suspend it (NRPS shows them "Inactive")."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.sandbox.models import SandboxCourse, SandboxEnrollment, SandboxPlatform, SandboxUser

STATUSES = ("Active", "Inactive")


def _enrollments(
    session: Session, slug: str, user_id: int, course_id: int | None
) -> list[SandboxEnrollment]:
    platform = session.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
    if platform is None:
        raise ValueError(f"no sandbox platform {slug!r}")
    user = session.get(SandboxUser, user_id)
    if user is None or user.platform_id != platform.id:
        raise ValueError(f"no user {user_id} in sandbox platform {slug!r}")
    q = (
        select(SandboxEnrollment)
        .join(SandboxCourse, SandboxCourse.id == SandboxEnrollment.course_id)
        .where(SandboxEnrollment.user_id == user_id, SandboxCourse.platform_id == platform.id)
    )
    if course_id is not None:
        q = q.where(SandboxEnrollment.course_id == course_id)
    found = list(session.scalars(q))
    if not found:
        raise ValueError(f"user {user_id} is not enrolled in that course")
    return found


def unenroll(session: Session, slug: str, user_id: int, course_id: int | None = None) -> int:
    """Remove the user's enrollment (in `course_id`, or in every course of the platform).
    Their grades stay, as in an LMS. Returns how many enrollments went. The caller commits."""
    found = _enrollments(session, slug, user_id, course_id)
    for e in found:
        session.delete(e)
    session.flush()
    return len(found)


def set_enrollment_status(
    session: Session, slug: str, user_id: int, status: str, course_id: int | None = None
) -> int:
    """Mark the user's enrollment "Inactive" (suspended) or "Active" again."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    found = _enrollments(session, slug, user_id, course_id)
    for e in found:
        e.status = status
    session.flush()
    return len(found)
