"""The passback worker: posts the score outbox to the LMS, one row at a time.

Each row is claimed with a lease in its own short transaction, posted, and recorded in
another, so no transaction is open while the platform is called, a worker killed mid-post
leaves a lease that expires (the row is claimed again), and two workers never hold the same
row. A row is marked posted only if its version is still the one posted: a newer value that
arrived meanwhile stays pending and is posted next.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, case, delete, func, or_, select, update

from lti_tool.clients.http import HttpError
from lti_tool.clients.lti_services import ServiceError
from lti_tool.clients.platform_http import PlatformUnavailable
from lti_tool.models.course import Context, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, Competency
from lti_tool.models.types import utcnow
from lti_tool.runtime import Runtime
from lti_tool.services.grades import post_grade
from lti_tool.services.passback import ensure_column, forget_column, label_of
from lti_tool.services.passback_status import CHANGED
from lti_tool.services.platform_services import caller_for

log = logging.getLogger("lti_tool.jobs.passback")


@dataclass
class Drained:
    posted: int = 0
    failed: int = 0
    later: int = 0
    superseded: int = 0
    # 409 over a value typed in the LMS: kept there, shown to the teacher
    changed: int = 0


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
    """Up to `limit` due rows this worker now holds, in one statement.

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
                .returning(table.c.id, table.c.version)
            )
            .all()
        )
        session.commit()
    return sorted(Held(int(i), int(v), until) for i, v in rows)


def renew(rt: Runtime, session: Any, held: Held) -> datetime | None:
    """Extend this worker's lease just before it posts, if the row is still this worker's
    and still at the claimed version. A batch's last rows would otherwise outlive their
    lease while the first ones are posted, and be posted twice by two workers."""
    until = utcnow() + timedelta(seconds=rt.settings.passback_lease_seconds)
    if held.until is None:
        return until
    result = session.execute(
        update(ScoreOutbox)
        .where(
            ScoreOutbox.id == held.row_id,
            ScoreOutbox.claimed_until == held.until,
            ScoreOutbox.version == held.version,
            ScoreOutbox.state == "pending",
        )
        .values(claimed_until=until)
    )
    if not result.rowcount:
        # Lost it: another worker's claim, or a newer value. Free the lease if it is ours,
        # so the newer value is due now rather than after the lease.
        session.execute(
            update(ScoreOutbox)
            .where(ScoreOutbox.id == held.row_id, ScoreOutbox.claimed_until == held.until)
            .values(claimed_until=None)
        )
    session.commit()
    return until if result.rowcount else None


def claim(rt: Runtime, context_id: int | None, now: datetime) -> Held | None:
    """One due row this worker now holds, or None when nothing is due."""
    held = claim_batch(rt, context_id, now, limit=1)
    return held[0] if held else None


_ROW = select(
    ScoreOutbox.competency_id,
    ScoreOutbox.context_id,
    ScoreOutbox.user_id,
    ScoreOutbox.score_given,
    ScoreOutbox.score_maximum,
)


def post_row(
    rt: Runtime,
    row_id: int,
    version: int,
    until: datetime | None = None,
    session: Any = None,
    callers: dict[int, Any] | None = None,
) -> str:
    """posted | superseded | failed | changed | later. A drain passes its session and
    callers, so the course, competency and registration are read once per drain, not once per
    score."""
    if session is None:
        with rt.session_factory() as own:
            return post_row(rt, row_id, version, until, own, {})
    callers = {} if callers is None else callers
    lease = renew(rt, session, Held(row_id, version, until))
    if lease is None:
        return "superseded"
    mine = ScoreOutbox.claimed_until == lease if until is not None else ScoreOutbox.id == row_id
    values = session.execute(_ROW.where(ScoreOutbox.id == row_id)).first()
    assert values is not None
    comp_id, ctx_id, user_id, given, maximum = values
    competency = session.get(Competency, comp_id)
    context = session.get(Context, ctx_id)
    user = session.get(User, user_id)
    if competency is None or context is None or user is None:
        session.execute(delete(ScoreOutbox).where(ScoreOutbox.id == row_id))
        session.commit()
        return "superseded"
    try:
        caller = callers.get(context.id)
        if caller is None:
            caller = callers[context.id] = caller_for(session, context, rt.platform_http, rt.tokens)
        url = column_for(rt, session, caller, context, competency, maximum)
        try:
            outcome = post_grade(session, caller, context.id, user, url, given, maximum)
        except ServiceError as exc:
            if exc.status != 404:
                raise
            # The column was deleted in the LMS: make it again and post there.
            forget_column(session, competency)
            session.commit()
            url = ensure_column(session, caller, context, competency, maximum)
            session.commit()
            outcome = post_grade(session, caller, context.id, user, url, given, maximum)
        # the stamp is committed below, with the outbox record: one commit per score
    except (PlatformUnavailable, HttpError, ServiceError, LookupError) as exc:
        session.rollback()
        # Only a failed try counts towards the back-off: a lease that expired under a killed
        # worker, or a value replaced by a newer one, is no reason to wait longer.
        attempts = 1 + (
            session.scalar(select(ScoreOutbox.attempts).where(ScoreOutbox.id == row_id)) or 0
        )
        # Fenced: a newer value (due now) or another worker's claim is left as it is.
        session.execute(
            update(ScoreOutbox)
            .where(ScoreOutbox.id == row_id, ScoreOutbox.version == version, mine)
            .values(
                attempts=attempts,
                claimed_until=None,
                next_attempt_at=utcnow() + backoff(attempts),
                last_error=str(exc)[:1000],
            )
        )
        session.commit()
        log.warning("score %s not posted yet (attempt %s): %s", row_id, attempts, exc)
        return "later"
    now = utcnow()
    if outcome.posted:
        done = session.execute(
            update(ScoreOutbox)
            .where(ScoreOutbox.id == row_id, ScoreOutbox.version == version)
            .values(
                state="posted",
                posted_version=version,
                claimed_until=None,
                last_error="",
                updated_at=now,
            )
        )
        result = "posted"
        if not done.rowcount:  # type: ignore[attr-defined]
            session.execute(
                update(ScoreOutbox).where(ScoreOutbox.id == row_id, mine).values(claimed_until=None)
            )
            result = "superseded"
        _audit(
            session,
            context.id,
            user.id,
            "score_posted",
            competency.code,
            given,
            {"of": maximum},
            now,
        )
    elif outcome.changed_in_lms:
        _settle(session, row_id, version, CHANGED, outcome.reason, now)
        detail = {"lms_score": outcome.lms_score, "lms_of": outcome.lms_maximum}
        _audit(
            session,
            context.id,
            user.id,
            "score_changed_in_lms",
            competency.code,
            given,
            {"of": maximum, **detail},
            now,
        )
        result = "changed"
    else:
        _settle(session, row_id, version, "failed", outcome.reason, now)
        _audit(
            session,
            context.id,
            user.id,
            "score_failed",
            competency.code,
            given,
            {"reason": outcome.reason},
            now,
        )
        result = "failed"
    session.commit()
    return result


def _settle(
    session: Any, row_id: int, version: int, state: str, reason: str, now: datetime
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


def _audit(
    session: Any,
    context_id: int,
    user_id: int,
    kind: str,
    code: str,
    score: float,
    extra: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        AuditEntry(
            context_id=context_id,
            at=now,
            kind=kind,
            user_id=user_id,
            detail={"competency": code, "score": score, **extra},
        )
    )


def column_for(
    rt: Runtime,
    session: Any,
    caller: Any,
    context: Context,
    competency: Competency,
    maximum: float,
    wait: float = 30.0,
) -> str:
    """The competency's column, made by exactly one worker: the others wait for it."""
    lock = f"passback_column:{competency.id}"
    deadline = time.monotonic() + wait
    while True:
        if competency.passback_lineitem_url and competency.passback_label == label_of(competency):
            return competency.passback_lineitem_url
        with rt.short_store() as store:
            mine = store.add(lock, 1, 60)
        if mine:
            try:
                url = ensure_column(session, caller, context, competency, maximum)
                session.commit()
                return url
            finally:
                with rt.short_store() as store:
                    store.delete(lock)
        if time.monotonic() > deadline:
            raise LookupError(f"the column of competency {competency.code} is still being made")
        time.sleep(0.1)
        session.commit()  # end the read, so the next one sees the other worker's column
        session.refresh(competency)


def drain(rt: Runtime, context_id: int | None = None, max_rows: int | None = None) -> Drained:
    """Post every due row (of one course, or all); returns what became of them. Rows left
    waiting for a retry get a later drain, so nothing waits for the next change."""
    out = Drained()
    done = 0
    callers: dict[int, Any] = {}
    session = rt.session_factory()
    try:
        while max_rows is None or done < max_rows:
            left = 10 if max_rows is None else min(10, max_rows - done)
            batch = claim_batch(rt, context_id, utcnow(), limit=left)
            if not batch:
                break
            for held in batch:
                result = post_row(rt, *held, session=session, callers=callers)
                done += 1
                if result == "posted":
                    out.posted += 1
                elif result == "failed":
                    out.failed += 1
                elif result == "superseded":
                    out.superseded += 1
                elif result == "changed":
                    out.changed += 1
                else:
                    out.later += 1
    finally:
        session.close()
    follow_up(rt, context_id)
    return out


def follow_up(rt: Runtime, context_id: int | None) -> None:
    """Rows still pending get a later drain, at the soonest time one can be claimed: a retry
    at its time, a row another worker holds at its lease's end (if that worker died, nothing
    else would post it until the next tick)."""
    leased = and_(
        ScoreOutbox.claimed_until.is_not(None),
        ScoreOutbox.claimed_until > ScoreOutbox.next_attempt_at,
    )
    ready_at = case((leased, ScoreOutbox.claimed_until), else_=ScoreOutbox.next_attempt_at)
    query = select(func.min(ready_at)).where(ScoreOutbox.state == "pending")
    if context_id is not None:
        query = query.where(ScoreOutbox.context_id == context_id)
    with rt.session_factory() as session:
        when = session.scalar(query)
    if when is not None:
        wait = (when - utcnow()).total_seconds() + 1.0
        rt.jobs.enqueue_in(max(1.0, wait), "drain", context_id)


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
