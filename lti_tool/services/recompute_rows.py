"""A recompute's rows: the course's stored states and outbox rows read as tuples (the
"before"), and what changed, kept as tuples and written at the end in a few bulk statements.

A first recompute of 1,000 students × 30 competencies × 100 modules writes some 230,000 rows;
an ORM object or a dict per row was most of its time."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.grading.outbox import needs_posting, postable, requeue
from lti_tool.models.bulk import insert_rows, plain_rows, update_rows
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, MasteryState, UnlockState


@dataclass
class StoredStates:
    """A course's stored states and outbox rows, read in three queries, and the scores a
    recompute queues against them."""

    now: datetime
    # (user, competency) -> (id, score, level, mastered, evidence_count)
    masteries: dict[tuple[int, int], tuple[Any, ...]]
    # (user, module) -> (id, status, sticky_unlocked)
    unlocks: dict[tuple[int, int], tuple[Any, ...]]
    # (user, competency, module) -> (id, score_given, score_maximum, state)
    outbox: dict[tuple[int, int | None, int | None], tuple[Any, ...]]
    # (user, competency, module, score, maximum) of rows to insert
    new_outbox: list[tuple[Any, ...]] = field(default_factory=list)
    # (id, score, maximum, due at) of rows there: requeue()'s
    requeued: list[tuple[Any, ...]] = field(default_factory=list)

    @classmethod
    def read(
        cls, session: Session, context_id: int, only: Collection[int] | None, now: datetime
    ) -> StoredStates:
        def rows(*columns: Any) -> Any:
            model = columns[0].class_
            query = select(*columns).where(model.context_id == context_id)
            if only is not None:
                query = query.where(model.user_id.in_(only))
            return plain_rows(session, query)

        masteries = rows(
            MasteryState.user_id,
            MasteryState.competency_id,
            MasteryState.id,
            MasteryState.score,
            MasteryState.level,
            MasteryState.mastered,
            MasteryState.evidence_count,
        )
        unlocks = rows(
            UnlockState.user_id,
            UnlockState.module_id,
            UnlockState.id,
            UnlockState.status,
            UnlockState.sticky_unlocked,
        )
        outbox = rows(
            ScoreOutbox.user_id,
            ScoreOutbox.competency_id,
            ScoreOutbox.module_id,
            ScoreOutbox.id,
            ScoreOutbox.score_given,
            ScoreOutbox.score_maximum,
            ScoreOutbox.state,
        )
        return cls(
            now=now,
            masteries={(r[0], r[1]): r[2:] for r in masteries},
            unlocks={(r[0], r[1]): r[2:] for r in unlocks},
            outbox={(r[0], r[1], r[2]): r[3:] for r in outbox},
        )

    def queue(
        self,
        user_id: int,
        competency_id: int | None,
        module_id: int | None,
        score: float,
        maximum: float,
    ) -> bool:
        """queue_score's decision on plain values: the same checks and cap, a new row or a
        newer value for the row there; False when the row already holds it."""
        checked = postable(score, maximum, user_id, competency_id, module_id)
        if checked is None:
            return False
        found = self.outbox.get((user_id, competency_id, module_id))
        if found is None:
            self.new_outbox.append((user_id, competency_id, module_id, checked, maximum))
            return True
        row_id, given, given_max, row_state = found
        if not needs_posting(given, given_max, row_state, checked, maximum):
            return False
        self.requeued.append((row_id, checked, maximum, self.now))
        return True


@dataclass
class StateWrites:
    """What a recompute changes, as tuples in the column order below, written by `flush`."""

    context_id: int
    now: datetime
    # (user_id, competency_id, score, level, mastered, evidence_count)
    new_masteries: list[tuple[Any, ...]] = field(default_factory=list)
    # (id, score, level, mastered, evidence_count): a changed score or level (dated now), or
    # only the count or mastered flag (not dated: the standing did not change)
    masteries: list[tuple[Any, ...]] = field(default_factory=list)
    quiet_masteries: list[tuple[Any, ...]] = field(default_factory=list)
    # (user_id, module_id, status, sticky_unlocked)
    new_unlocks: list[tuple[Any, ...]] = field(default_factory=list)
    # (id, status, sticky_unlocked)
    unlocks: list[tuple[Any, ...]] = field(default_factory=list)
    # (id,): a sticky rule held for the first time, the status unchanged
    sticky: list[tuple[Any, ...]] = field(default_factory=list)
    # (kind, user_id, detail as JSON text: see AuditDetails)
    audits: list[tuple[Any, ...]] = field(default_factory=list)

    def audit(self, kind: str, user_id: int, detail: str) -> None:
        self.audits.append((kind, user_id, detail))

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

    def flush(self, session: Session, stored: StoredStates) -> None:
        course, now = {"context_id": self.context_id}, self.now
        mastery_values = ("score", "level", "mastered", "evidence_count")
        insert_rows(
            session,
            MasteryState.__table__,
            ("user_id", "competency_id", *mastery_values),
            self.new_masteries,
            {**course, "updated_at": now},
        )
        insert_rows(
            session,
            UnlockState.__table__,
            ("user_id", "module_id", "status", "sticky_unlocked"),
            self.new_unlocks,
            {**course, "since": now},
        )
        insert_rows(
            session,
            AuditEntry.__table__,
            ("kind", "user_id", "detail"),
            self.audits,
            {**course, "at": now},
            encoded=("detail",),
        )
        insert_rows(
            session,
            ScoreOutbox.__table__,
            ("user_id", "competency_id", "module_id", "score_given", "score_maximum"),
            stored.new_outbox,
            {**course, "next_attempt_at": now, "updated_at": now},
        )
        update_rows(
            session, MasteryState.__table__, mastery_values, self.masteries, {"updated_at": now}
        )
        update_rows(session, MasteryState.__table__, mastery_values, self.quiet_masteries)
        update_rows(
            session,
            UnlockState.__table__,
            ("status", "sticky_unlocked"),
            self.unlocks,
            {"since": now},
        )
        update_rows(session, UnlockState.__table__, (), self.sticky, {"sticky_unlocked": True})
        requeue(session, stored.requeued)
        if self.masteries or self.quiet_masteries or self.unlocks or self.sticky:
            # rows of these tables this session holds would still show what was just replaced
            for obj in list(session.identity_map.values()):
                if isinstance(obj, MasteryState | UnlockState):
                    session.expire(obj)


class AuditDetails:
    """A recompute's audit details as the JSON text `json.dumps` makes of them, with what many
    rows share (a module's title and rule, the cause, the level and status names) encoded
    once: a dict dumped per row was a fifth of the Python time of a first recompute (63,669
    entries, a rule in half of them)."""

    def __init__(self, cause: dict[str, Any], student_causes: dict[int, list[dict[str, Any]]]):
        self._plain = json.dumps(cause)
        self._cause = cause
        self._students = student_causes
        self._causes: dict[int, str] = {}
        self._names: dict[str | None, str] = {None: "null"}

    def cause(self, user_id: int) -> str:
        """The recompute's cause, with the student's new evidence when the caller named it."""
        evidence = self._students.get(user_id)
        if not evidence:
            return self._plain
        text = self._causes.get(user_id)
        if text is None:
            text = self._causes[user_id] = json.dumps({**self._cause, "evidence": evidence})
        return text

    def name(self, value: str | None) -> str:
        """A code, level or status (a few per course) as JSON."""
        text = self._names.get(value)
        if text is None:
            text = self._names[value] = json.dumps(value)
        return text

    def mastery(
        self, user_id: int, code: str, before: tuple[Any, Any], score: Any, level: Any
    ) -> str:
        name = self.name
        return (
            f'{{"competency": {name(code)}, "score_before": {_number(before[0])}, '
            f'"score_after": {_number(score)}, "level_before": {name(before[1])}, '
            f'"level_after": {name(level)}, "cause": {self.cause(user_id)}}}'
        )

    @staticmethod
    def module(module_id: int, title: str, rule: Any) -> tuple[str, str]:
        """A module's parts of its unlock details: what comes before the statuses, and after."""
        return (
            f'{{"module": {module_id}, "title": {json.dumps(title)}, ',
            f', "rule": {json.dumps(rule)}, "cause": ',
        )

    def unlock(self, user_id: int, parts: tuple[str, str], before: Any, after: str) -> str:
        head, rule = parts
        return (
            f'{head}"before": {self.name(before)}, "after": {self.name(after)}'
            f"{rule}{self.cause(user_id)}}}"
        )


def _number(value: float | None) -> str:
    """A score as json.dumps writes it (a float's or int's repr; a score is never NaN)."""
    return "null" if value is None else repr(value)
