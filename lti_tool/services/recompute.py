"""Recompute a course: run the engine on its current facts, store what changed (mastery and
unlock states), write an audit entry per change with its cause, and put each changed
competency score in the outbox, and each gated module's unlock score (1 open, 0 locked) too,
all in the caller's transaction.

The stored states are the "before"; the engine's result on the current facts is the
"after". Writing only the differences makes a recompute idempotent: run twice, it changes
nothing the second time and posts nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, insert, or_, select, update
from sqlalchemy.orm import Session

from lti_tool import mastery
from lti_tool.grading.outbox import requeue, set_score
from lti_tool.lti.roles import STUDENT
from lti_tool.mastery.numbers import same_score
from lti_tool.models.course import Context, Membership
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, MasteryState, UnlockState
from lti_tool.models.states_version import bump_states
from lti_tool.models.types import utcnow
from lti_tool.services.course_model import course_model, course_students, load_facts

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
    causes = student_causes or {}

    def why(user_id: int) -> dict[str, Any]:
        evidence = causes.get(user_id)
        return {**cause, "evidence": evidence} if evidence else cause

    out = Recomputed()
    stored = _Stored.read(session, context_id, only)
    writes = _Writes()
    comps = [
        (code, comp, snapshot.scales[code].top_points)
        for code, comp in snapshot.competencies.items()
    ]
    for student in snapshot.students:
        user_id = int(student)
        for code, comp, top in comps:
            result = state.mastery(student, code)
            level = result.level.name if result.level else None
            row = stored.masteries.get((user_id, comp.id))
            values = {
                "score": result.score,
                "level": level,
                "mastered": result.mastered,
                "evidence_count": result.evidence_count,
            }
            if row is None:
                if result.score is None and not result.evidence_count:
                    continue
                before: tuple[Any, Any] = (None, None)
                changed = result.score is not None or level is not None
                writes.new_masteries.append(
                    {
                        "context_id": context_id,
                        "user_id": user_id,
                        "competency_id": comp.id,
                        **values,
                        "updated_at": now,
                    }
                )
            else:
                row_id, score, old_level, mastered, count = row
                before = (score, old_level)
                changed = not same_score(score, result.score) or old_level != level
                if changed:
                    writes.masteries.append({"id": row_id, **values, "updated_at": now})
                elif mastered != result.mastered or count != result.evidence_count:
                    writes.quiet_masteries.append({"id": row_id, **values})
            if not changed:
                continue
            out.mastery_changed += 1
            out.changed_students.add(user_id)
            writes.audit(
                context_id,
                now,
                "mastery",
                user_id,
                {
                    "competency": code,
                    "score_before": before[0],
                    "score_after": result.score,
                    "level_before": before[1],
                    "level_after": level,
                    "cause": why(user_id),
                },
            )
            if result.score is not None and stored.queue(
                session, context_id, user_id, comp.id, None, result.score, top, now
            ):
                out.scores_queued += 1
    # The statuses read straight from the state's columns: 100,000 student x module pairs
    # in a course of 1,000, where a call per pair was a second on its own.
    words = [s.label for s in mastery.Status]
    index = snapshot.model.module_index
    columns = [
        (module, state.status[index[key]], state.memory[index[key]])
        for key, module in snapshot.modules.items()
    ]
    for student in snapshot.students:
        user_id = int(student)
        si = state.index[student]
        for module, statuses, remembered in columns:
            status = words[statuses[si]]
            held = si in remembered
            if module.gates_lms and stored.queue(
                session,
                context_id,
                user_id,
                None,
                module.id,
                0.0 if status == "locked" else 1.0,
                1.0,
                now,
            ):
                out.unlocks_queued += 1
                out.scores_queued += 1
            row = stored.unlocks.get((user_id, module.id))
            if row is None:
                writes.new_unlocks.append(
                    {
                        "context_id": context_id,
                        "user_id": user_id,
                        "module_id": module.id,
                        "status": status,
                        "sticky_unlocked": held,
                        "since": now,
                    }
                )
                before_status = None
            else:
                row_id, before_status, was_sticky = row
                if before_status != status:
                    writes.unlocks.append(
                        {
                            "id": row_id,
                            "status": status,
                            "since": now,
                            "sticky_unlocked": held or was_sticky,
                        }
                    )
                elif held and not was_sticky:
                    writes.sticky.append({"id": row_id, "sticky_unlocked": True})
                if before_status == status:
                    continue
            if before_status is None and status == "locked":
                continue  # a module that starts locked is no news
            out.unlocks_changed += 1
            out.changed_students.add(user_id)
            writes.audit(
                context_id,
                now,
                "unlock",
                user_id,
                {
                    "module": module.id,
                    "title": module.title,
                    "before": before_status,
                    "after": status,
                    "rule": module.unlock_rule,
                    "cause": why(user_id),
                },
            )
    wrote = writes.any()
    writes.flush(session, stored.new_outbox)
    requeue(session, stored.requeued)
    session.flush()
    if wrote or evidence_moved:
        bump_states(session, context_id)  # the class summary counts again
    if out.scores_queued:
        session.info.setdefault(QUEUED, set()).add(context_id)
    return out


@dataclass
class _Stored:
    """A course's stored states and outbox rows as tuples, read in three queries."""

    # (user, competency) -> (id, score, level, mastered, evidence_count)
    masteries: dict[tuple[int, int], tuple[Any, ...]]
    # (user, module) -> (id, status, sticky_unlocked)
    unlocks: dict[tuple[int, int], tuple[Any, ...]]
    # (user, competency, module) -> (id, score_given, score_maximum, state)
    outbox: dict[tuple[int, int | None, int | None], tuple[Any, ...]]
    # the outbox rows to insert, and the newer values of rows there, one batch each at the end
    new_outbox: list[dict[str, Any]] = field(default_factory=list)
    requeued: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, session: Session, context_id: int, only: Collection[int] | None) -> _Stored:
        def mine(model: Any) -> list[Any]:
            return [model.user_id.in_(only)] if only is not None else []

        return cls(
            masteries={
                (u, c): rest
                for u, c, *rest in session.execute(
                    select(
                        MasteryState.user_id,
                        MasteryState.competency_id,
                        MasteryState.id,
                        MasteryState.score,
                        MasteryState.level,
                        MasteryState.mastered,
                        MasteryState.evidence_count,
                    ).where(MasteryState.context_id == context_id, *mine(MasteryState))
                )
            },
            unlocks={
                (u, m): rest
                for u, m, *rest in session.execute(
                    select(
                        UnlockState.user_id,
                        UnlockState.module_id,
                        UnlockState.id,
                        UnlockState.status,
                        UnlockState.sticky_unlocked,
                    ).where(UnlockState.context_id == context_id, *mine(UnlockState))
                )
            },
            outbox={
                (u, c, m): rest
                for u, c, m, *rest in session.execute(
                    select(
                        ScoreOutbox.user_id,
                        ScoreOutbox.competency_id,
                        ScoreOutbox.module_id,
                        ScoreOutbox.id,
                        ScoreOutbox.score_given,
                        ScoreOutbox.score_maximum,
                        ScoreOutbox.state,
                    ).where(ScoreOutbox.context_id == context_id, *mine(ScoreOutbox))
                )
            },
        )

    def queue(
        self,
        session: Session,
        context_id: int,
        user_id: int,
        competency_id: int | None,
        module_id: int | None,
        score: float,
        maximum: float,
        now: datetime,
    ) -> bool:
        """set_score on the pair's outbox row; a row already holding the score is passed by
        without making an ORM object of it (a recompute meets thousands of them)."""
        found = self.outbox.get((user_id, competency_id, module_id))
        if found is not None:
            row_id, given, given_max, row_state = found
            if (
                same_score(given, score)
                and same_score(given_max, maximum)
                and row_state != "failed"
            ):
                return False
            row = ScoreOutbox(
                id=row_id,
                context_id=context_id,
                user_id=user_id,
                competency_id=competency_id,
                module_id=module_id,
                score_given=given,
                score_maximum=given_max,
                state=row_state,
            )
            return set_score(session, row, score, maximum, now, later=self.requeued)
        row = ScoreOutbox(
            context_id=context_id, user_id=user_id, competency_id=competency_id, module_id=module_id
        )
        if not set_score(session, row, score, maximum, now):
            return False
        # set_score checked and capped the score and added the row: it is inserted with the
        # others in one batch instead (a first recompute queues one per student and column)
        session.expunge(row)
        self.new_outbox.append(
            {
                "context_id": context_id,
                "user_id": user_id,
                "competency_id": competency_id,
                "module_id": module_id,
                "score_given": row.score_given,
                "score_maximum": row.score_maximum,
                "next_attempt_at": row.next_attempt_at,
                "updated_at": row.updated_at,
            }
        )
        return True


@dataclass
class _Writes:
    """What a recompute changes, written at the end as a few executemany statements."""

    new_masteries: list[dict[str, Any]] = field(default_factory=list)
    masteries: list[dict[str, Any]] = field(default_factory=list)
    quiet_masteries: list[dict[str, Any]] = field(default_factory=list)
    new_unlocks: list[dict[str, Any]] = field(default_factory=list)
    unlocks: list[dict[str, Any]] = field(default_factory=list)
    sticky: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def audit(
        self, context_id: int, now: datetime, kind: str, user_id: int, detail: dict[str, Any]
    ) -> None:
        self.audits.append(
            {
                "context_id": context_id,
                "at": now,
                "kind": kind,
                "user_id": user_id,
                "detail": detail,
            }
        )

    def any(self) -> bool:
        """Whether a mastery or unlock state is written (what the class summary counts)."""
        return any(
            (
                self.new_masteries,
                self.new_unlocks,
                self.masteries,
                self.quiet_masteries,
                self.unlocks,
                self.sticky,
            )
        )

    def flush(self, session: Session, new_outbox: list[dict[str, Any]]) -> None:
        for model, rows in (
            (MasteryState, self.new_masteries),
            (UnlockState, self.new_unlocks),
            (AuditEntry, self.audits),
            (ScoreOutbox, new_outbox),
        ):
            bulk_insert(session, model, rows)
        for model, rows in (
            (MasteryState, self.masteries),
            (MasteryState, self.quiet_masteries),
            (UnlockState, self.unlocks),
            (UnlockState, self.sticky),
        ):
            if rows:
                session.execute(update(model), rows)
        if self.masteries or self.quiet_masteries or self.unlocks or self.sticky:
            # rows of these tables this session holds would still show what was just replaced
            for obj in list(session.identity_map.values()):
                if isinstance(obj, MasteryState | UnlockState):
                    session.expire(obj)


def bulk_insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one shape in the session's transaction: COPY on PostgreSQL (a
    first recompute of 1,000 students writes some 200,000 rows: an executemany, even
    pipelined, took seconds, multi-row INSERTs longer still), an executemany elsewhere.
    COPY skips the models' Python defaults, so they are filled in here."""
    if not rows:
        return
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql" or raw is None:
        session.execute(insert(model), rows)
        return
    session.flush()  # COPY goes round the session: what it references must be written
    table = model.__table__
    given = list(rows[0])
    defaults = {
        c.name: c.default.arg if c.default.is_scalar else c.default.arg(None)
        for c in table.columns
        if c.name not in given and c.default is not None and not c.primary_key
    }
    names = [*given, *defaults]
    as_json = {i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)}
    fixed = list(defaults.values())
    raw = connection.connection.dbapi_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = [row[name] for name in given] + fixed
            for i in as_json:
                values[i] = json.dumps(values[i])
            copy.write_row(values)
