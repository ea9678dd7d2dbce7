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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from lti_tool import mastery
from lti_tool.lti.roles import STUDENT
from lti_tool.mastery.numbers import same_score
from lti_tool.models.course import Context, Membership
from lti_tool.models.mastery import UnlockState
from lti_tool.models.states_version import bump_states
from lti_tool.models.types import utcnow
from lti_tool.services.course_model import course_model, course_students, load_facts
from lti_tool.services.recompute_rows import AuditDetails, StateWrites, StoredStates

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
    # a whole course, or students whose evidence changed: "stuck" may have moved even if no
    # state did (see the bump at the end)
    evidence_moved = only is None or bool(only)
    model = course_model(session, context_id)
    if only is not None and (model.model.uses_dates or not model.modules):
        # (without modules no student has stored unlock states: everyone is evaluated)
        only = None
    if only is None:
        students = course_students(session, context_id)
    else:
        # ...and the students never evaluated yet (new on the roster), so every student
        # has stored states from their first sync on (the class view's "stuck" reads them).
        # An evaluated student has a state for every module, so for the first: one probe of
        # its (module, student) index each, not a search of the course's 100,000 states.
        first = min(m.id for m in model.modules.values())
        evaluated = select(UnlockState.id).where(
            UnlockState.module_id == first, UnlockState.user_id == Membership.user_id
        )
        students = tuple(
            str(uid)
            for uid in session.scalars(
                select(Membership.user_id)
                .where(
                    Membership.context_id == context_id,
                    Membership.role == STUDENT,
                    or_(Membership.user_id.in_(set(only)), ~evaluated.exists()),
                )
                .order_by(Membership.user_id)
            )
        )
        only = {int(s) for s in students}
    snapshot = replace(model, students=students)
    facts = load_facts(session, context_id, snapshot, only=only)
    state = mastery.evaluate_class(snapshot.model, facts, now)
    details = AuditDetails(cause, student_causes or {})
    out = Recomputed()
    stored = StoredStates.read(session, context_id, only, now)
    writes = StateWrites(context_id, now)
    queue = stored.queue
    comps = [
        (code, comp.id, snapshot.scales[code].top_points)
        for code, comp in snapshot.competencies.items()
    ]
    stored_masteries = stored.masteries
    for student in snapshot.students:
        user_id = int(student)
        for code, comp_id, top in comps:
            result = state.mastery(student, code)
            score = result.score
            level = result.level.name if result.level else None
            row = stored_masteries.get((user_id, comp_id))
            if row is None:
                if score is None and not result.evidence_count:
                    continue
                before: tuple[Any, Any] = (None, None)
                changed = score is not None or level is not None
                writes.new_masteries.append(
                    (user_id, comp_id, score, level, result.mastered, result.evidence_count)
                )
            else:
                row_id, old_score, old_level, mastered, count = row
                before = (old_score, old_level)
                changed = not same_score(old_score, score) or old_level != level
                if changed:
                    writes.masteries.append(
                        (row_id, score, level, result.mastered, result.evidence_count)
                    )
                elif mastered != result.mastered or count != result.evidence_count:
                    writes.quiet_masteries.append(
                        (row_id, score, level, result.mastered, result.evidence_count)
                    )
            if not changed:
                continue
            out.mastery_changed += 1
            out.changed_students.add(user_id)
            writes.audit("mastery", user_id, details.mastery(user_id, code, before, score, level))
            if score is not None and queue(user_id, comp_id, None, score, top):
                out.scores_queued += 1
    # The statuses read straight from the state's columns: 100,000 student x module pairs
    # in a course of 1,000, where a call per pair was a second on its own.
    words = [s.label for s in mastery.Status]
    index = snapshot.model.module_index
    columns = [
        (
            AuditDetails.module(module.id, module.title, module.unlock_rule),
            module.id,
            module.gates_lms,
            state.status[index[key]],
            state.memory[index[key]],
        )
        for key, module in snapshot.modules.items()
    ]
    stored_unlocks = stored.unlocks
    for student in snapshot.students:
        user_id = int(student)
        si = state.index[student]
        for parts, module_id, gates, statuses, remembered in columns:
            status = words[statuses[si]]
            held = si in remembered
            if gates and queue(user_id, None, module_id, 0.0 if status == "locked" else 1.0, 1.0):
                out.unlocks_queued += 1
                out.scores_queued += 1
            row = stored_unlocks.get((user_id, module_id))
            if row is None:
                writes.new_unlocks.append((user_id, module_id, status, held))
                if status == "locked":
                    continue  # a module that starts locked is no news
                before_status = None
            else:
                row_id, before_status, was_sticky = row
                if before_status == status:
                    if held and not was_sticky:
                        writes.sticky.append((row_id,))
                    continue
                writes.unlocks.append((row_id, status, held or was_sticky))
            out.unlocks_changed += 1
            out.changed_students.add(user_id)
            writes.audit("unlock", user_id, details.unlock(user_id, parts, before_status, status))
    wrote = writes.any()
    writes.flush(session, stored)
    session.flush()
    if wrote or evidence_moved:
        bump_states(session, context_id)  # the class summary counts again
    if out.scores_queued:
        session.info.setdefault(QUEUED, set()).add(context_id)
    return out
