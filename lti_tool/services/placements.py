"""What the LMS's add-content dialog has been sent: each answer is an audit entry, and the
modules never sent yet are the ones the picker offers ticked."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models.mastery import AuditEntry
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow


def never_placed(session: Session, modules: list[Module]) -> set[int]:
    """The ids of `modules` (one course's) no answer to the dialog has carried yet."""
    if not modules:
        return set()
    placed: set[int] = set()
    for detail in session.scalars(
        select(AuditEntry.detail).where(
            AuditEntry.context_id == modules[0].context_id, AuditEntry.kind == "placed"
        )
    ):
        placed.update(int(i) for i in (detail or {}).get("modules", []))
    return {m.id for m in modules} - placed


def record_placed(session: Session, context_id: int, by: int, modules: list[Module]) -> None:
    session.add(
        AuditEntry(
            context_id=context_id,
            at=utcnow(),
            kind="placed",
            actor_user_id=by,
            detail={"modules": [m.id for m in modules], "titles": [m.title for m in modules]},
        )
    )
