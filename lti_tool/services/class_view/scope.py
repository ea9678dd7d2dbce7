"""Who the class view counts: the course's students (the active ones unless asked), and who
of them is stuck. Shared by the summary, the student list and the export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.lti.roles import STUDENT
from lti_tool.models.course import Membership
from lti_tool.models.types import utcnow
from lti_tool.services.class_view.counts import left_out, stuck_of


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

    def stuck_students(self, session: Session, left: list[int] | None = None) -> set[int]:
        """Students locked out of some module since before the cut-off with no evidence since
        then: the course's stuck people (counts.stuck_of, cached a minute at most) less
        those the page does not count (`left`: left_out, if the caller read it already)."""
        stuck = stuck_of(session, self.context_id, self.stuck_days, self.now)
        if not stuck.students:
            return set()
        return set(stuck.students) - set(self.left_out(session) if left is None else left)

    def left_out(self, session: Session) -> list[int]:
        """The course's people with memberships the page does not count."""
        return left_out(session, self.members(), self.context_id)
