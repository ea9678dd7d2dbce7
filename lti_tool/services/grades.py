"""Posting a score to an LMS gradebook column for one person, the way every platform
accepts it: only learners, and a timestamp that never goes backwards.

Canvas refuses a timestamp older than the last update (400); Moodle compares whole seconds
and refuses one not newer than the stored grade (409). So each new score is stamped at least
one second after the last one this tool posted for the person and column, and never in the
future (it waits out the rest of that second instead). A retry sends the same body, with its
original timestamp.

The caller commits after each post, before calling the platform again: the stamp is a
write, and a write transaction must not stay open across HTTP calls (SQLite has one writer,
and the sandbox platform may share its file).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lti_tool.clients.ags import ScoreOutcome, post_score
from lti_tool.clients.lti_services import ServiceCaller
from lti_tool.lti.roles import STUDENT
from lti_tool.models.course import Membership, User
from lti_tool.models.grading import ScoreStamp
from lti_tool.models.types import url_hash

_ROLE = select(Membership.role).where(
    Membership.context_id == bindparam("context"), Membership.user_id == bindparam("user")
)
_STAMP = select(ScoreStamp.last_timestamp).where(
    ScoreStamp.user_id == bindparam("user"), ScoreStamp.lineitem_hash == bindparam("hash")
)
# PostgreSQL: lock the stamp row, so two posts for one person and column take turns.
_STAMP_LOCKED = _STAMP.with_for_update()


def _stamp_upsert(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(ScoreStamp).values(
        user_id=bindparam("user"),
        lineitem_hash=bindparam("hash"),
        lineitem_url=bindparam("url"),
        last_timestamp=bindparam("ts", type_=ScoreStamp.__table__.c.last_timestamp.type),
    )
    newer = stmt.excluded.last_timestamp
    current = ScoreStamp.__table__.c.last_timestamp
    return stmt.on_conflict_do_update(
        index_elements=[ScoreStamp.user_id, ScoreStamp.lineitem_hash],
        # never backwards: two workers' posts may finish in either order
        set_={"last_timestamp": case((newer > current, newer), else_=current)},
    )


_UPSERT = {name: _stamp_upsert(name) for name in ("postgresql", "sqlite")}


def next_timestamp(last: datetime | None, now: datetime) -> datetime:
    """Whole seconds, at least one after `last`."""
    stamp = now.replace(microsecond=0)
    if last is not None and stamp <= last:
        stamp = last.replace(microsecond=0) + timedelta(seconds=1)
    return stamp


def post_grade(
    session: Session,
    caller: ServiceCaller,
    context_id: int,
    user: User,
    lineitem_url: str,
    score_given: float,
    score_maximum: float,
    comment: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> ScoreOutcome:
    conn = session.connection()
    role = conn.execute(_ROLE, {"context": context_id, "user": user.id}).scalar_one_or_none()
    if role != STUDENT:
        return ScoreOutcome(False, 0, "not a learner in this course: not posted")
    digest = url_hash(lineitem_url)
    postgres = conn.dialect.name == "postgresql"
    last = conn.execute(
        _STAMP_LOCKED if postgres else _STAMP, {"user": user.id, "hash": digest}
    ).scalar_one_or_none()
    now = clock()
    timestamp = next_timestamp(last, now)
    if timestamp > now:
        sleep((timestamp - now).total_seconds())
    body: dict[str, object] = {
        "userId": user.sub,
        "scoreGiven": score_given,
        "scoreMaximum": score_maximum,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": timestamp.isoformat(),
    }
    if comment:
        body["comment"] = comment
    outcome = post_score(caller, lineitem_url, body)
    if outcome.posted:
        conn.execute(
            _UPSERT[conn.dialect.name],
            {"user": user.id, "hash": digest, "url": lineitem_url, "ts": timestamp},
        )
    return outcome
