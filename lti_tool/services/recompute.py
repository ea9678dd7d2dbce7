"""Recompute a course: run the engine on its current facts, store what changed (mastery and
unlock states), write an audit entry per change with its cause, and put each changed
competency score in the outbox, and each gated module's unlock score (1 open, 0 locked) too,
all in the caller's transaction.

The stored states are the "before"; the engine's result on the current facts is the
"after". Writing only the differences makes a recompute idempotent: run twice, it changes
nothing the second time and posts nothing twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool.grading.outbox import set_score
from lti_tool.lti.roles import STUDENT
from lti_tool.mastery.numbers import same_score
from lti_tool.models.course import Context, Membership
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, MasteryState, UnlockState
from lti_tool.models.types import utcnow
from lti_tool.services.course_model import evaluate, load_model

# The session's `info` key naming the courses whose recompute queued scores in it, so the
# caller that commits can have them posted.
QUEUED = "lti_tool.scores_queued_for"


@dataclass
class Recomputed:
    mastery_changed: int = 0
    unlocks_changed: int = 0
    # every score queued for the gradebook, the gated modules' unlock scores among them
    scores_queued: int = 0
    unlocks_queued: int = 0
    changed_students: set[int] = field(default_factory=set)


def lock_course(session: Session, context_id: int) -> None:
    """One writer of a course's evidence and states at a time, across processes: a write to
    the course row holds its row lock (PostgreSQL) or the write lock (SQLite) until the
    transaction ends, so a second sync reads what the first one wrote and finds nothing to do.
    Taken after any network reads, never before (no lock is held across a platform call)."""
    session.execute(
        update(Context).where(Context.id == context_id).values(updated_at=Context.updated_at)
    )


def recompute_course(
    session: Session,
    context_id: int,
    cause: dict[str, Any],
    now: datetime | None = None,
    student_causes: dict[int, list[dict[str, Any]]] | None = None,
    only: Collection[int] | None = None,
) -> Recomputed:
    """`only`: the students whose evidence changed, the incremental update (a student's
    states depend on their own facts alone). A course with date conditions is recomputed
    whole, so a date that passed opens modules for everyone."""
    now = now or utcnow()
    lock_course(session, context_id)
    snapshot = load_model(session, context_id)
    if only is not None and snapshot.model.uses_dates:
        only = None
    if only is not None:
        # ...and the students never evaluated yet (new on the roster), so every student
        # has stored states from their first sync on (the class view's "stuck" reads them).
        only = set(only) | set(
            session.scalars(
                select(Membership.user_id).where(
                    Membership.context_id == context_id,
                    Membership.role == STUDENT,
                    Membership.user_id.not_in(
                        select(UnlockState.user_id).where(UnlockState.context_id == context_id)
                    ),
                )
            )
        )
    snapshot, state = evaluate(session, context_id, now, only, snapshot)
    causes = student_causes or {}

    def mine(column: Any) -> Any:
        return column.in_(only) if only is not None else column.is_not(None)

    def why(user_id: int) -> dict[str, Any]:
        evidence = causes.get(user_id)
        return {**cause, "evidence": evidence} if evidence else cause

    out = Recomputed()
    outbox = {
        (o.user_id, o.competency_id, o.module_id): o
        for o in session.scalars(
            select(ScoreOutbox).where(
                ScoreOutbox.context_id == context_id, mine(ScoreOutbox.user_id)
            )
        )
    }
    masteries = {
        (m.user_id, m.competency_id): m
        for m in session.scalars(
            select(MasteryState).where(
                MasteryState.context_id == context_id, mine(MasteryState.user_id)
            )
        )
    }
    for student in snapshot.students:
        user_id = int(student)
        for code, comp in snapshot.competencies.items():
            result = state.mastery(student, code)
            level = result.level.name if result.level else None
            row = masteries.get((user_id, comp.id))
            before = (row.score, row.level) if row else (None, None)
            if row is None:
                if result.score is None and not result.evidence_count:
                    continue
                row = MasteryState(context_id=context_id, user_id=user_id, competency_id=comp.id)
                session.add(row)
            changed = not same_score(before[0], result.score) or before[1] != level
            row.score, row.level = result.score, level
            row.mastered, row.evidence_count = result.mastered, result.evidence_count
            if not changed:
                continue
            row.updated_at = now
            out.mastery_changed += 1
            out.changed_students.add(user_id)
            session.add(
                AuditEntry(
                    context_id=context_id,
                    at=now,
                    kind="mastery",
                    user_id=user_id,
                    detail={
                        "competency": code,
                        "score_before": before[0],
                        "score_after": result.score,
                        "level_before": before[1],
                        "level_after": level,
                        "cause": why(user_id),
                    },
                )
            )
            if result.score is not None:
                top = snapshot.scales[code].top_points
                row_out = outbox.get((user_id, comp.id, None)) or ScoreOutbox(
                    context_id=context_id, user_id=user_id, competency_id=comp.id
                )
                queued = set_score(session, row_out, result.score, top, now)
                if queued:
                    out.scores_queued += 1
    unlocks = {
        (u.user_id, u.module_id): u
        for u in session.scalars(
            select(UnlockState).where(
                UnlockState.context_id == context_id, mine(UnlockState.user_id)
            )
        )
    }
    sticky = state.sticky_unlocked()
    for student in snapshot.students:
        user_id = int(student)
        for module_key, module in snapshot.modules.items():
            status = state.module_status(student, module_key).name.lower()
            held = (student, module_key) in sticky
            if module.gates_lms:
                gate = outbox.get((user_id, None, module.id)) or ScoreOutbox(
                    context_id=context_id, user_id=user_id, module_id=module.id
                )
                if set_score(session, gate, 0.0 if status == "locked" else 1.0, 1.0, now):
                    out.unlocks_queued += 1
                    out.scores_queued += 1
            row = unlocks.get((user_id, module.id))
            if row is None:
                session.add(
                    UnlockState(
                        context_id=context_id,
                        user_id=user_id,
                        module_id=module.id,
                        status=status,
                        sticky_unlocked=held,
                        since=now,
                    )
                )
                before = None
            else:
                before = row.status
                row.sticky_unlocked = held or row.sticky_unlocked
                if row.status == status:
                    continue
                row.status, row.since = status, now
            if before is None and status == "locked":
                continue  # a module that starts locked is no news
            out.unlocks_changed += 1
            out.changed_students.add(user_id)
            session.add(
                AuditEntry(
                    context_id=context_id,
                    at=now,
                    kind="unlock",
                    user_id=user_id,
                    detail={
                        "module": module.id,
                        "title": module.title,
                        "before": before,
                        "after": status,
                        "rule": module.unlock_rule,
                        "cause": why(user_id),
                    },
                )
            )
    session.flush()
    if out.scores_queued:
        session.info.setdefault(QUEUED, set()).add(context_id)
    return out
