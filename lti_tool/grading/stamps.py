"""Posting a score to an LMS gradebook column for one person, the way every platform
accepts it: only learners, and a timestamp that never goes backwards.

Canvas refuses a timestamp older than the last update (400); Moodle compares whole seconds
and refuses one not newer than the stored grade (409). So each new score is stamped at least
one second after the last one this tool posted for the person and column, and never in the
future (it waits out the rest of that second instead). A retry sends the same body, with its
original timestamp.

The caller commits the stamps with the post's answer (a drain: one commit per batch,
grading.posting); no write transaction stays open across HTTP calls (SQLite has one writer,
and the sandbox platform may share its file).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, String, bindparam, case, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from lti_tool.clients.ags import ScoreOutcome, post_score, results
from lti_tool.clients.errors import PlatformError
from lti_tool.clients.lti_services import ServiceCaller
from lti_tool.db import upserts
from lti_tool.lti.roles import STUDENT
from lti_tool.models.course import Membership, User
from lti_tool.models.grading import ScoreStamp
from lti_tool.models.types import url_hash

log = logging.getLogger("lti_tool.grading.stamps")

_ROLE = select(Membership.role).where(
    Membership.context_id == bindparam("context"), Membership.user_id == bindparam("user")
)
_STAMP = select(ScoreStamp.last_timestamp).where(
    ScoreStamp.user_id == bindparam("user"), ScoreStamp.lineitem_hash == bindparam("hash")
)
# PostgreSQL: lock the stamp row, so two posts for one person and column take turns.
_STAMP_LOCKED = _STAMP.with_for_update()


def _never_backwards(excluded: Any) -> dict[str, Any]:
    # never backwards: two workers' posts may finish in either order
    current = ScoreStamp.__table__.c.last_timestamp
    newer = excluded.last_timestamp
    return {"last_timestamp": case((newer > current, newer), else_=current)}


_UPSERT = upserts(
    ScoreStamp,
    {
        "user_id": bindparam("user"),
        "lineitem_hash": bindparam("hash"),
        "lineitem_url": bindparam("url"),
        "last_timestamp": bindparam("ts", type_=ScoreStamp.__table__.c.last_timestamp.type),
    },
    [ScoreStamp.user_id, ScoreStamp.lineitem_hash],
    _never_backwards,
)


_ARRAYS = pg_insert(ScoreStamp).from_select(
    ["user_id", "lineitem_hash", "lineitem_url", "last_timestamp"],
    select(
        func.unnest(bindparam("users", type_=ARRAY(Integer))),
        func.unnest(bindparam("hashes", type_=ARRAY(String))),
        func.unnest(bindparam("urls", type_=ARRAY(String))),
        func.unnest(bindparam("stamps", type_=ARRAY(DateTime(timezone=True)))),
    ),
)
_UPSERT_ARRAYS = _ARRAYS.on_conflict_do_update(
    index_elements=[ScoreStamp.user_id, ScoreStamp.lineitem_hash],
    set_=_never_backwards(_ARRAYS.excluded),
)


_PAIRS = (
    func.unnest(bindparam("users", type_=ARRAY(Integer)), bindparam("hashes", type_=ARRAY(String)))
    .table_valued("user_id", "lineitem_hash")
    .render_derived(name="wanted")
)
# PostgreSQL: the pairs as two arrays, so the statement is the same whatever the batch's size
# (psycopg parses anew, uncached, every statement of more than 50 parameters), the rows locked
# in a fixed order
_STAMPS_OF_PAIRS = (
    select(ScoreStamp.user_id, ScoreStamp.lineitem_hash, ScoreStamp.last_timestamp)
    .join(
        _PAIRS,
        (ScoreStamp.user_id == _PAIRS.c.user_id)
        & (ScoreStamp.lineitem_hash == _PAIRS.c.lineitem_hash),
    )
    .order_by(ScoreStamp.user_id, ScoreStamp.lineitem_hash)
    .with_for_update(of=ScoreStamp)
)


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
        return ScoreOutcome(False, 0, NOT_A_LEARNER)
    digest = url_hash(lineitem_url)
    postgres = conn.dialect.name == "postgresql"
    last = conn.execute(
        _STAMP_LOCKED if postgres else _STAMP, {"user": user.id, "hash": digest}
    ).scalar_one_or_none()
    timestamp = stamp_now(last, clock, sleep)
    outcome = send_score(
        caller, lineitem_url, user.sub, score_given, score_maximum, timestamp, comment
    )
    if outcome.posted:
        record_stamps(session, [(user.id, lineitem_url, timestamp)])
    return outcome


NOT_A_LEARNER = "not a learner in this course: not posted"


def stamp_now(
    last: datetime | None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> datetime:
    """The next timestamp after `last`, never in the future: waits out the rest of the second
    when the last post for this person and column was this very second."""
    now = clock()
    timestamp = next_timestamp(last, now)
    if timestamp > now:
        sleep((timestamp - now).total_seconds())
    return timestamp


def send_score(
    caller: ServiceCaller,
    lineitem_url: str,
    sub: str,
    score_given: float,
    score_maximum: float,
    timestamp: datetime,
    comment: str | None = None,
) -> ScoreOutcome:
    """The POST alone (HTTP only, no database): a drain's threads run it; Moodle's 409 is
    read back to tell our own score from one typed in the LMS."""
    body: dict[str, object] = {
        "userId": sub,
        "scoreGiven": score_given,
        "scoreMaximum": score_maximum,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": timestamp.isoformat(),
    }
    if comment:
        body["comment"] = comment
    outcome = post_score(caller, lineitem_url, body)
    if outcome.status == 409:
        outcome = read_back(caller, lineitem_url, sub, score_given, score_maximum)
    return outcome


def last_stamps(session: Session, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], datetime]:
    """The last timestamp posted for each (user id, line item URL); on PostgreSQL the rows
    are locked until the caller's transaction ends, so two posts for one person and column
    take turns (in one statement, in a fixed order)."""
    if not pairs:
        return {}
    by_hash = {(user, url_hash(url)): (user, url) for user, url in pairs}
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            _STAMPS_OF_PAIRS,
            {"users": [u for u, _ in by_hash], "hashes": [h for _, h in by_hash]},
        )
        return {by_hash[(u, h)]: ts for u, h, ts in found}
    table = ScoreStamp.__table__
    query = (
        select(table.c.user_id, table.c.lineitem_hash, table.c.last_timestamp)
        .where(
            table.c.user_id.in_({user for user, _ in by_hash}),
            tuple_(table.c.user_id, table.c.lineitem_hash).in_(list(by_hash)),
        )
        .order_by(table.c.user_id, table.c.lineitem_hash)
    )
    return {by_hash[(u, h)]: ts for u, h, ts in conn.execute(query)}


def record_stamps(session: Session, posted: list[tuple[int, str, datetime]]) -> None:
    """The timestamps just posted (user id, line item URL, timestamp), in one statement on
    PostgreSQL (arrays unnested: one prepared statement whatever the batch's size), one
    executemany on SQLite; a stamp never goes backwards (no commit)."""
    newest: dict[tuple[int, str], tuple[str, datetime]] = {}
    for user, url, ts in posted:
        key = (user, url_hash(url))
        if key not in newest or newest[key][1] < ts:
            newest[key] = (url, ts)
    if not newest:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(
            _UPSERT_ARRAYS,
            {
                "users": [u for u, _ in newest],
                "hashes": [h for _, h in newest],
                "urls": [url for url, _ in newest.values()],
                "stamps": [ts for _, ts in newest.values()],
            },
        )
        return
    conn.execute(
        _UPSERT[conn.dialect.name],
        [{"user": u, "hash": h, "url": url, "ts": ts} for (u, h), (url, ts) in newest.items()],
    )


def _shown(points: float) -> str:
    return f"{round(points, 2):g}"


def read_back(
    caller: ServiceCaller, lineitem_url: str, sub: str, given: float, maximum: float
) -> ScoreOutcome:
    """Moodle's 409: it holds a grade at least as new as our timestamp. Our own score (a
    retry after a lost answer) counts as posted; another value was typed in the LMS after
    ours, and the LMS keeps it (docs/decisions.md: a value typed in the LMS stays). A result
    that cannot be read back counts as posted, as the 409 alone did before."""
    try:
        found = next(
            (r for r in results(caller, lineitem_url, sub) if r.get("userId") == sub), None
        )
    except PlatformError as exc:
        log.warning(
            "409 from %s for %s, and the result could not be read back: %s", lineitem_url, sub, exc
        )
        return ScoreOutcome(True, 409, "the LMS already has a score at least this new (409)")
    if found is None:
        return ScoreOutcome(True, 409, "the LMS already has a score at least this new (409)")
    lms_score, lms_max = found.get("resultScore"), found.get("resultMaximum") or maximum
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (lms_score, lms_max)
    )
    if numbers and lms_max > 0 and math.isclose(lms_score / lms_max, given / maximum, abs_tol=1e-5):
        return ScoreOutcome(True, 409, "already in the LMS (409, read back)")
    there = f"{_shown(lms_score)} of {_shown(lms_max)}" if numbers else "no grade"
    return ScoreOutcome(
        False,
        409,
        f"Changed in the LMS: it shows {there}; the tool's score is "
        f"{_shown(given)} of {_shown(maximum)}",
        float(lms_score) if numbers else None,
        float(lms_max) if numbers else None,
    )
