"""The class's counts that cost a pass over every state of the course (500,000 unlock rows at
5,000 students), kept per process until the course's states or setup change.

Counted over every state row of the course, whoever it belongs to; a page takes away, live,
the rows of the people it does not count (teachers, inactive students unless shown): few,
and found through the state tables' user index. So a roster change or a launch needs no bump,
and only what a recompute writes does (`Context.states_version`, models/states_version.py;
`Context.model_version` for a module or competency deleted with its states).

"Stuck" also moves with the clock: its set is kept at most `STUCK_TTL` seconds (and never
across a write); a page shows it as of that moment.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from lti_tool.models.course import Context, Membership
from lti_tool.models.mastery import Evidence, MasteryState, UnlockState
from lti_tool.models.model_version import EVERY_COURSE, changed_courses
from lti_tool.models.states_version import states_changed
from lti_tool.services.stamped_cache import PerDatabase, StampedCache

STUCK_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class Stuck:
    """Students locked out of a module since before the cut-off with no evidence since."""

    cutoff: datetime
    taken_at: datetime
    students: frozenset[int]
    per_module: dict[int, int]  # module -> students stuck at it


@dataclass
class CourseCounts:
    """Every state row of a course, counted: shared between requests, never changed."""

    levels: dict[tuple[int, str | None], tuple[int, float]]  # (competency, level) -> n, sum
    modules: dict[tuple[int, str], int]  # (module, status) -> n
    stuck: dict[int, Stuck] = field(default_factory=dict)  # stuck days -> the set
    # the rows of the people a page leaves out (as a set) -> their counts
    less: dict[frozenset[int], CourseCounts] = field(default_factory=dict)


class CountsCache(StampedCache[tuple[int, int], CourseCounts]):
    """Context id -> ((model version, states version), counts)."""


counts_cache = PerDatabase(CountsCache)


_STAMP = select(Context.model_version, Context.states_version).where(
    Context.id == bindparam("context")
)


def course_counts(session: Session, context_id: int) -> CourseCounts:
    """The course's counts: cached while its stamp stands; counted fresh (and not cached) in
    a transaction that changed the course, which may yet roll back."""
    stamp = session.execute(_STAMP, {"context": context_id}).one_or_none()
    mine = states_changed(session) | changed_courses(session)
    if stamp is None or context_id in mine or EVERY_COURSE in mine:
        return _count(session, context_id)
    key = (int(stamp[0]), int(stamp[1]))
    cache = counts_cache(session)
    counts = cache.get(context_id, key)
    if counts is None:
        counts = _count(session, context_id)
        cache.put(context_id, key, counts)
    return counts


def _count(session: Session, context_id: int) -> CourseCounts:
    levels = {
        (comp_id, level): (int(n), float(total or 0.0))
        for comp_id, level, n, total in session.execute(
            select(
                MasteryState.competency_id,
                MasteryState.level,
                func.count(),
                func.sum(MasteryState.score),
            )
            .where(MasteryState.context_id == context_id, MasteryState.score.is_not(None))
            .group_by(MasteryState.competency_id, MasteryState.level)
        )
    }
    modules = {
        (module_id, status): int(n)
        for module_id, status, n in session.execute(
            select(UnlockState.module_id, UnlockState.status, func.count())
            .where(UnlockState.context_id == context_id)
            .group_by(UnlockState.module_id, UnlockState.status)
        )
    }
    return CourseCounts(levels, modules)


def stuck_of(session: Session, context_id: int, days: int, now: datetime) -> Stuck:
    """The course's stuck people (anyone with states; the page keeps its students), from the
    cache if counted under the same stamp less than STUCK_TTL ago."""
    counts = course_counts(session, context_id)
    found = counts.stuck.get(days)
    if found is not None and timedelta(0) <= now - found.taken_at < STUCK_TTL:
        return found
    found = _stuck(session, context_id, now - timedelta(days=days), now)
    counts.stuck[days] = found
    return found


def _stuck(session: Session, context_id: int, cutoff: datetime, now: datetime) -> Stuck:
    """One pass over the course's people: a locked module since before the cut-off (their
    unlock rows through the user index), and no live evidence since (likewise)."""
    locked = exists().where(
        UnlockState.user_id == Membership.user_id,
        UnlockState.context_id == context_id,
        UnlockState.status == "locked",
        UnlockState.since <= cutoff,
    )
    recent = exists().where(
        Evidence.user_id == Membership.user_id,
        Evidence.context_id == context_id,
        Evidence.withdrawn_at.is_(None),
        Evidence.graded_at > cutoff,
    )
    students = frozenset(
        session.scalars(
            select(Membership.user_id).where(Membership.context_id == context_id, locked, ~recent)
        )
    )
    return Stuck(cutoff, now, students, _stuck_per_module(session, context_id, cutoff, students))


def _stuck_per_module(
    session: Session, context_id: int, cutoff: datetime, students: Collection[int]
) -> dict[int, int]:
    """Module -> how many of `students` are locked out of it since before the cut-off."""
    if not students:
        return {}
    return {
        int(m): int(n)
        for m, n in session.execute(
            select(UnlockState.module_id, func.count())
            .where(
                UnlockState.context_id == context_id,
                UnlockState.status == "locked",
                UnlockState.since <= cutoff,
                UnlockState.user_id.in_(sorted(students)),
            )
            .group_by(UnlockState.module_id)
        )
    }


def left_out(session: Session, members: list[Any], context_id: int) -> list[int]:
    """The course's people the page does not count: every membership not matching `members`
    (Scope.members' clauses)."""
    counted = select(Membership.user_id).where(*members)
    return list(
        session.scalars(
            select(Membership.user_id).where(
                Membership.context_id == context_id, Membership.user_id.not_in(counted)
            )
        )
    )


def counts_of(
    session: Session, context_id: int, people: list[int], stuck: Stuck
) -> tuple[CourseCounts, dict[int, int]]:
    """What `people` (left_out) contribute to the course's counts (kept with them, by the set
    of people) and to the stuck per module: the page takes it away."""
    if not people:
        return CourseCounts({}, {}), {}
    course = course_counts(session, context_id)
    key = frozenset(people)
    less = course.less.get(key)
    if less is None:
        if len(course.less) >= 4:  # a roster that keeps changing under one states version
            course.less.clear()
        less = course.less[key] = _count_of(session, context_id, people)
    return less, _stuck_per_module(session, context_id, stuck.cutoff, key & stuck.students)


def _count_of(session: Session, context_id: int, people: list[int]) -> CourseCounts:
    """The states of these people, counted as `_count` counts the course's."""
    levels = {
        (comp_id, level): (int(n), float(total or 0.0))
        for comp_id, level, n, total in session.execute(
            select(
                MasteryState.competency_id,
                MasteryState.level,
                func.count(),
                func.sum(MasteryState.score),
            )
            .where(
                MasteryState.context_id == context_id,
                MasteryState.score.is_not(None),
                MasteryState.user_id.in_(people),
            )
            .group_by(MasteryState.competency_id, MasteryState.level)
        )
    }
    modules = {
        (module_id, status): int(n)
        for module_id, status, n in session.execute(
            select(UnlockState.module_id, UnlockState.status, func.count())
            .where(UnlockState.context_id == context_id, UnlockState.user_id.in_(people))
            .group_by(UnlockState.module_id, UnlockState.status)
        )
    }
    return CourseCounts(levels, modules)
