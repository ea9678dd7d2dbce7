"""Where the course's gradebook passback stands for the teacher: how long scores have been
waiting (students gated in the LMS by those scores wait as long), and the scores a teacher
changed in the LMS after the tool posted (kept there, listed here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.grading.outbox import CHANGED
from lti_tool.models.course import User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow


@dataclass(frozen=True)
class ChangedInLms:
    id: int
    student: str
    competency: str
    reason: str


@dataclass
class Waiting:
    count: int = 0
    since: datetime | None = None
    next_try: datetime | None = None
    changed: list[ChangedInLms] = field(default_factory=list)

    def waited(self, now: datetime | None = None) -> str:
        """'41 minutes', as the class view says it."""
        if self.since is None:
            return ""
        return duration((now or utcnow()) - self.since)


def duration(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


def waiting(session: Session, context_id: int) -> Waiting:
    since, next_try, count = session.execute(
        select(
            func.min(ScoreOutbox.updated_at),
            func.min(ScoreOutbox.next_attempt_at),
            func.count(),
        ).where(ScoreOutbox.context_id == context_id, ScoreOutbox.state == "pending")
    ).one()
    changed = [
        ChangedInLms(
            row.id,
            name or f"Student {row.user_id}",
            title or (f"Unlocked: {module}" if module else "?"),
            row.last_error,
        )
        for row, name, title, module in session.execute(
            select(ScoreOutbox, User.name, Competency.title, Module.title)
            .outerjoin(User, User.id == ScoreOutbox.user_id)
            .outerjoin(Competency, Competency.id == ScoreOutbox.competency_id)
            .outerjoin(Module, Module.id == ScoreOutbox.module_id)
            .where(ScoreOutbox.context_id == context_id, ScoreOutbox.state == CHANGED)
            .order_by(ScoreOutbox.updated_at.desc())
            .limit(200)
        )
    ]
    return Waiting(int(count or 0), since, next_try, changed)
