"""The score outbox: one row per student and competency holding the score the LMS should
show, queued in the caller's transaction and posted later by whichever worker claims it.

Each row is claimed with a lease in its own short transaction, posted, and recorded in
another, so no transaction is open while the platform is called, a worker killed mid-post
leaves a lease that expires (the row is claimed again), and two workers never hold the same
row. A row is settled only if its version is still the one posted: a newer value that
arrived meanwhile stays pending and is posted next (docs/decisions.md #10).
"""

from __future__ import annotations

import logging
import math
import random
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from lti_tool.mastery.numbers import same_score
from lti_tool.models.bulk import update_rows
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.types import utcnow
from lti_tool.runtime import Runtime

log = logging.getLogger("lti_tool.grading.outbox")

# The outbox state of a score the LMS holds another, newer value of (a teacher typed it).
CHANGED = "changed"


def queue_score(
    session: Session,
    context_id: int,
    user_id: int,
    competency_id: int,
    score: float,
    maximum: float,
    now: datetime,
) -> bool:
    """Set the score the LMS should show; a newer value replaces a queued older one."""
    row = session.scalar(
        select(ScoreOutbox).where(
            ScoreOutbox.competency_id == competency_id, ScoreOutbox.user_id == user_id
        )
    ) or ScoreOutbox(context_id=context_id, user_id=user_id, competency_id=competency_id)
    return set_score(session, row, score, maximum, now)


def set_score(
    session: Session,
    row: ScoreOutbox,
    score: float,
    maximum: float,
    now: datetime,
) -> bool:
    """`queue_score` on the pair's row already read, or a new one not yet added; False when
    nothing needs posting."""
    checked = postable(score, maximum, row.user_id, row.competency_id, row.module_id)
    if checked is None:
        return False
    if row.id is None:
        row.score_given, row.score_maximum = checked, maximum
        row.next_attempt_at = row.updated_at = now
        session.add(row)
        return True
    if not needs_posting(row.score_given, row.score_maximum, row.state, checked, maximum):
        return False
    # One UPDATE naming every column, version bumped by the database: a worker may have
    # marked the row posted since it was read, and an ORM flush (which writes only the
    # attributes that changed from what it read) would keep that "posted" on the new value.
    requeue(session, [(row.id, checked, maximum, now)])
    return True


def postable(
    score: float,
    maximum: float,
    user_id: int | None,
    competency_id: int | None,
    module_id: int | None,
) -> float | None:
    """The last check before the LMS, on plain values so a recompute of thousands needs no
    ORM row: whatever computed the score (a bug, a scale changed under old evidence), it never
    posts above its column's maximum (a "150 %" in the gradebook), nor a non-number."""
    if not (math.isfinite(score) and math.isfinite(maximum) and maximum > 0 and score >= 0):
        log.error(
            "score %r of %r for user %s, %s not queued: not a usable score",
            score,
            maximum,
            user_id,
            column_name(competency_id, module_id),
        )
        return None
    if score > maximum:
        log.warning(
            "score %g is above its column's maximum %g (user %s, %s): capped",
            score,
            maximum,
            user_id,
            column_name(competency_id, module_id),
        )
        return maximum
    return score


def needs_posting(
    given: float | None, given_max: float | None, state: str | None, score: float, maximum: float
) -> bool:
    """A row holding another value, or one the LMS refused, takes the new one; a row already
    holding this value (pending or posted) is left alone."""
    return not (same_score(given, score) and same_score(given_max, maximum) and state != "failed")


def requeue(session: Session, rows: list[tuple[int, float, float, datetime]]) -> None:
    """Newer values for rows already in the outbox, (id, score, maximum, due at), each with its
    version bumped by the database and due then: one statement for them all (no commit)."""
    if not rows:
        return
    table = ScoreOutbox.__table__
    update_rows(
        session,
        table,
        ("score_given", "score_maximum", "next_attempt_at", "updated_at"),
        [(row_id, given, top, due, due) for row_id, given, top, due in rows],
        {
            "version": table.c.version + 1,
            "state": "pending",
            "attempts": 0,
            "last_error": "",
        },
    )
    replaced = {r[0] for r in rows}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, ScoreOutbox) and obj.id in replaced:
            session.expire(obj)  # what the session holds would show the value replaced


# An unlock column cell the LMS holds as open: its row's 1 is posted (a newer 0 waiting, or a
# 1 not yet posted, is not open there yet).
LMS_HOLDS_OPEN = (
    ScoreOutbox.module_id.is_not(None),
    ScoreOutbox.state == "posted",
    ScoreOutbox.score_given >= 0.5,
)


def column_name(competency_id: int | None, module_id: int | None) -> str:
    """Whose column a score is for, in a log line."""
    if module_id is not None:
        return f"unlock column of module {module_id}"
    return f"competency {competency_id}"


def backoff(attempts: int) -> timedelta:
    """Waits between tries grow to an hour at most; a platform down for a day still gets
    every score once it is back."""
    base = min(3600.0, 5.0 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * (0.5 + random.random() / 2))


class Held(NamedTuple):
    """A claimed row: its id, the version claimed, and the lease's end, which is also the
    claim's fencing token (a row claimed again by another worker carries another one)."""

    row_id: int
    version: int
    until: datetime | None = None


def due_now(now: datetime) -> tuple[Any, ...]:
    """A row a worker may claim: pending, its retry time come, and held by nobody."""
    return (
        ScoreOutbox.state == "pending",
        ScoreOutbox.next_attempt_at <= now,
        or_(ScoreOutbox.claimed_until.is_(None), ScoreOutbox.claimed_until < now),
    )


def claim_batch(rt: Runtime, context_id: int | None, now: datetime, limit: int = 10) -> list[Held]:
    """Up to `limit` due rows this worker now holds, in one statement."""
    return [held for held, _ in claim_rows(rt, context_id, now, limit)]


# What a claim hands back with each row: what its post needs (grading.posting).
CLAIMED = (
    ScoreOutbox.id,
    ScoreOutbox.version,
    ScoreOutbox.competency_id,
    ScoreOutbox.module_id,
    ScoreOutbox.context_id,
    ScoreOutbox.user_id,
    ScoreOutbox.score_given,
    ScoreOutbox.score_maximum,
    ScoreOutbox.attempts,
)


def claim_rows(
    rt: Runtime, context_id: int | None, now: datetime, limit: int
) -> list[tuple[Held, Any]]:
    """Up to `limit` due rows this worker now holds, with their values (`CLAIMED`) as the
    claim found them, in one statement.

    The candidates are a CTE, evaluated once (PostgreSQL may re-run an `IN (… LIMIT …)`
    subquery and claim more than the limit), locked with SKIP LOCKED so concurrent workers take
    different rows (SQLite serializes writers and ignores it); the UPDATE checks the conditions
    again, so no row is ever held by two workers."""
    due = due_now(now)
    candidates = select(ScoreOutbox.id).where(*due)
    if context_id is not None:
        candidates = candidates.where(ScoreOutbox.context_id == context_id)
    chosen = (
        candidates.order_by(ScoreOutbox.next_attempt_at, ScoreOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("chosen")
    )
    table = ScoreOutbox.__table__
    until = now + timedelta(seconds=rt.settings.passback_lease_seconds)
    with rt.session_factory() as session:
        rows = (
            session.connection()
            .execute(
                update(table)
                .where(table.c.id == chosen.c.id, *due)
                .values(claimed_until=until)
                .returning(*(table.c[c.key] for c in CLAIMED))
            )
            .all()
        )
        session.commit()
    rows.sort(key=lambda row: row.id)
    return [(Held(int(row.id), int(row.version), until), row) for row in rows]


def claim(rt: Runtime, context_id: int | None, now: datetime) -> Held | None:
    """One due row this worker now holds, or None when nothing is due."""
    held = claim_batch(rt, context_id, now, limit=1)
    return held[0] if held else None


def fresh(rt: Runtime, held: Held, now: datetime) -> bool:
    """A claim so recent that renewing its lease would add next to nothing: the post may
    start on it, as long as the row is still this claim's (see `fence`)."""
    if held.until is None:
        return False
    left = (held.until - now).total_seconds()
    return left > 0.9 * rt.settings.passback_lease_seconds


def renew_leases(session: Any, held_rows: list[Held], until: datetime) -> set[int]:
    """Extend these claims' leases to `until`, each only if the row is still that claim's
    and pending; returns the rows renewed (one statement per lease end, no commit). A batch
    still in flight keeps its rows this way: they would otherwise outlive their lease while
    earlier posts are slow, and be posted twice by two workers."""
    by_until: dict[datetime, list[int]] = {}
    for held in held_rows:
        if held.until is not None:
            by_until.setdefault(held.until, []).append(held.row_id)
    table = ScoreOutbox.__table__
    kept: set[int] = set()
    for old, ids in by_until.items():
        kept.update(
            session.connection()
            .execute(
                update(table)
                .where(
                    table.c.id.in_(ids), table.c.claimed_until == old, table.c.state == "pending"
                )
                .values(claimed_until=until)
                .returning(table.c.id)
            )
            .scalars()
        )
    return kept


def try_later_all(session: Session, rows: list[tuple[Held, int, str]]) -> None:
    """Failed tries (each row's claim, its tries before this one, the error): each waits out
    its back-off, fenced by version and claim like `try_later` (no commit)."""
    table = ScoreOutbox.__table__
    for held, attempts, error in rows:
        query = update(table).where(table.c.id == held.row_id, table.c.version == held.version)
        if held.until is not None:
            query = query.where(table.c.claimed_until == held.until)
        session.connection().execute(
            query.values(
                attempts=table.c.attempts + 1,
                claimed_until=None,
                next_attempt_at=utcnow() + backoff(attempts + 1),
                last_error=error[:1000],
            )
        )
        log.warning("score %s not posted yet (attempt %s): %s", held.row_id, attempts + 1, error)


def release_all(session: Any, held_rows: list[Held]) -> None:
    """`release` for many claims, one statement per lease end (no commit)."""
    by_until: dict[datetime | None, list[int]] = {}
    for held in held_rows:
        by_until.setdefault(held.until, []).append(held.row_id)
    table = ScoreOutbox.__table__
    for until, ids in by_until.items():
        if until is not None:  # no claim, no lease of ours to free
            session.connection().execute(
                update(table)
                .where(table.c.id.in_(ids), table.c.claimed_until == until)
                .values(claimed_until=None)
            )


def settle(
    session: Session, row_id: int, version: int, state: str, reason: str, now: datetime
) -> None:
    """A final answer for the version posted; a newer value queued meanwhile stays pending."""
    session.execute(
        update(ScoreOutbox)
        .where(
            ScoreOutbox.id == row_id,
            ScoreOutbox.version == version,
            ScoreOutbox.state == "pending",
        )
        .values(state=state, claimed_until=None, last_error=reason, updated_at=now)
    )


def next_ready(session: Session, context_id: int | None) -> datetime | None:
    """The soonest time a pending row can be claimed: a retry at its time, a row another
    worker holds at its lease's end (if that worker died, nothing else would post it)."""
    leased = and_(
        ScoreOutbox.claimed_until.is_not(None),
        ScoreOutbox.claimed_until > ScoreOutbox.next_attempt_at,
    )
    ready_at = case((leased, ScoreOutbox.claimed_until), else_=ScoreOutbox.next_attempt_at)
    query = select(func.min(ready_at)).where(ScoreOutbox.state == "pending")
    if context_id is not None:
        query = query.where(ScoreOutbox.context_id == context_id)
    return session.scalar(query)


def retry_failed(session: Any, context_id: int, row_ids: list[int] | None = None) -> int:
    """The teacher's "retry" on scores the LMS refused, or "post ours" on scores changed in
    the LMS: back to pending, due now (no commit)."""
    query = update(ScoreOutbox).where(
        ScoreOutbox.context_id == context_id, ScoreOutbox.state.in_(("failed", CHANGED))
    )
    if row_ids is not None:
        query = query.where(ScoreOutbox.id.in_(row_ids))
    result = session.execute(
        query.values(
            state="pending",
            attempts=0,
            next_attempt_at=utcnow(),
            claimed_until=None,
            version=ScoreOutbox.version + 1,
        )
    )
    return int(result.rowcount or 0)


def post_now(session: Session, context_id: int) -> int:
    """The teacher's "Post now": every waiting score of the course is due at once, its
    back-off forgotten (no commit). A lease still held by a worker is left to it."""
    result = session.execute(
        update(ScoreOutbox)
        .where(ScoreOutbox.context_id == context_id, ScoreOutbox.state == "pending")
        .values(next_attempt_at=utcnow(), attempts=0)
    )
    return int(result.rowcount or 0)
