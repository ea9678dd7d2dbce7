"""Who the class view counts: the course's students (the active ones unless asked), and who
of them is stuck. Shared by the summary, the student list and the export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.roles import STUDENT
from lti_tool.models.course import Membership
from lti_tool.models.mastery import Evidence, UnlockState
from lti_tool.models.types import utcnow


@dataclass(frozen=True)
class Scope:
    """One course's students as the page counts them, and the stuck cut-off."""

    context_id: int
    show_inactive: bool = False
    stuck_days: int = 7
    now: datetime = field(default_factory=utcnow)

    @property
    def cutoff(self) -> datetime:
        return self.now - timedelta(days=self.stuck_days)

    def members(self) -> list[Any]:
        """WHERE clauses on Membership: this course's students, active unless asked."""
        where = [Membership.context_id == self.context_id, Membership.role == STUDENT]
        if not self.show_inactive:
            where.append(Membership.status == "Active")
        return where

    def stuck_students(self, session: Session) -> set[int]:
        """Students locked out of some module since before the cut-off with no evidence since
        then: the locked ones first (one pass over unlock rows), then which of those have new
        evidence (through the evidence's user index), so no query scans all evidence."""
        locked = set(
            session.scalars(
                select(UnlockState.user_id)
                .join(Membership, Membership.user_id == UnlockState.user_id)
                .where(
                    UnlockState.context_id == self.context_id,
                    UnlockState.status == "locked",
                    UnlockState.since <= self.cutoff,
                    *self.members(),
                )
                .distinct()
            )
        )
        if not locked:
            return set()
        recent = set(
            session.scalars(
                select(Evidence.user_id)
                .where(
                    Evidence.user_id.in_(locked),
                    Evidence.context_id == self.context_id,
                    Evidence.withdrawn_at.is_(None),
                    Evidence.graded_at > self.cutoff,
                )
                .distinct()
            )
        )
        return locked - recent
