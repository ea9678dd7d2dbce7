"""A teacher's per-student decision on a module (unlock, lock, exempt) with the reason, kept
with who and when; it beats the rule until cleared, and the audit trail keeps both."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models.mastery import AuditEntry, Override
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from lti_tool.services.recompute import Recomputed, recompute_course

KINDS = {"unlock": "Unlock", "lock": "Lock", "exempt": "Exempt"}


class OverrideError(ValueError):
    """What was wrong with the teacher's request, in words for the page."""


def _active(session: Session, context_id: int, user_id: int, module_id: int) -> Override | None:
    return session.scalar(
        select(Override).where(
            Override.context_id == context_id,
            Override.user_id == user_id,
            Override.module_id == module_id,
            Override.cleared_at.is_(None),
        )
    )


def set_override(
    session: Session,
    context_id: int,
    user_id: int,
    module_id: int,
    kind: str,
    reason: str,
    by_user_id: int,
    now: datetime | None = None,
) -> Recomputed:
    """Replace any current override of this student and module, then recompute (no commit)."""
    now = now or utcnow()
    reason = reason.strip()
    if kind not in KINDS:
        raise OverrideError(f"Choose unlock, lock or exempt (got {kind!r}).")
    if not reason:
        raise OverrideError("Say why: the reason is kept in the audit trail.")
    module = session.get(Module, module_id)
    if module is None or module.context_id != context_id:
        raise OverrideError("That module is not in this course.")
    before = _active(session, context_id, user_id, module_id)
    if before is not None:
        before.cleared_at = now
    session.add(
        Override(
            context_id=context_id,
            user_id=user_id,
            module_id=module_id,
            kind=kind,
            reason=reason[:2000],
            by_user_id=by_user_id,
            created_at=now,
        )
    )
    detail = {
        "module": module_id,
        "title": module.title,
        "override": kind,
        "replaces": before.kind if before else None,
        "reason": reason[:2000],
    }
    return _recorded(session, context_id, user_id, by_user_id, now, "override", detail)


def clear_override(
    session: Session,
    context_id: int,
    user_id: int,
    module_id: int,
    by_user_id: int,
    now: datetime | None = None,
) -> Recomputed:
    """Back to the rule; the cleared override stays on record (no commit)."""
    now = now or utcnow()
    current = _active(session, context_id, user_id, module_id)
    if current is None:
        raise OverrideError("This student has no override on that module.")
    current.cleared_at = now
    module = session.get(Module, module_id)
    detail = {
        "module": module_id,
        "title": module.title if module else "",
        "cleared": current.kind,
    }
    return _recorded(session, context_id, user_id, by_user_id, now, "override_cleared", detail)


def _recorded(
    session: Session,
    context_id: int,
    user_id: int,
    by_user_id: int,
    now: datetime,
    kind: str,
    detail: dict[str, Any],
) -> Recomputed:
    """The audit entry of a change to an override, then the student's recompute."""
    session.add(
        AuditEntry(
            context_id=context_id,
            at=now,
            kind=kind,
            user_id=user_id,
            actor_user_id=by_user_id,
            detail=detail,
        )
    )
    session.flush()
    return recompute_course(session, context_id, {"override": detail}, now, only={user_id})
