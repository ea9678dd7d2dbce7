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

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, select
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
    if outcome.status == 409:
        outcome = read_back(caller, lineitem_url, user.sub, score_given, score_maximum)
    if outcome.posted:
        conn.execute(
            _UPSERT[conn.dialect.name],
            {"user": user.id, "hash": digest, "url": lineitem_url, "ts": timestamp},
        )
    return outcome


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
