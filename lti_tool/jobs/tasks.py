"""Jobs by name: what the queues run, each with the process's runtime and plain arguments
(the RQ worker's entry point and runtime are in wiring.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lti_tool.runtime import Runtime

log = logging.getLogger("lti_tool.jobs")


def _drain(rt: Runtime, context_id: int | None = None) -> Any:
    from lti_tool.jobs.passback import drain

    return drain(rt, context_id)


def _sync_grades(rt: Runtime, context_id: int) -> Any:
    from lti_tool.jobs.grades import sync_course_grades

    return sync_course_grades(rt, context_id)


def _sync_roster(rt: Runtime, context_id: int) -> Any:
    from lti_tool.jobs.roster import sync_course_roster

    return sync_course_roster(rt, context_id)


def _sync_course(rt: Runtime, context_id: int) -> Any:
    """Roster first, then grades: a new student's results need their membership."""
    _sync_roster(rt, context_id)
    return _sync_grades(rt, context_id)


def _sync_now(rt: Runtime, context_id: int) -> Any:
    from lti_tool.jobs.sync_now import sync_now

    return sync_now(rt, context_id)


def _tick(rt: Runtime) -> list[int]:
    """The periodic sync: start the stalest courses' syncs, at most N per platform, post
    what is due, delete expired store rows, and come back in an interval. One tick per
    interval, however many workers."""
    from lti_tool.jobs.schedule import courses_due
    from lti_tool.store import DatabaseStore

    interval = rt.settings.sync_interval_seconds
    with rt.short_store() as store:
        if not store.add("tick", 1, max(1, interval - 5)):
            return []
    with rt.session_factory() as session:
        due = courses_due(session, rt.settings)
        # The database store even with Redis: the sandbox and older runs write rows there.
        swept = DatabaseStore(session).sweep()
        session.commit()
    for context_id in due:
        rt.jobs.enqueue("sync_course", context_id)
    rt.jobs.enqueue("drain", None)
    rt.jobs.enqueue_in(interval, "tick")
    log.info("tick: %s course syncs started, %s expired store rows deleted", len(due), swept)
    return due


def resume_after_restart(rt: Runtime) -> None:
    """Post what a killed process left: due scores now, and those it still held once their
    lease has run out. Without Redis no worker watches the outbox, so a web process that
    serves the tool (`serve`, `demo`, the WSGI entry) does this when it starts."""
    rt.jobs.enqueue("drain", None)
    rt.jobs.enqueue_in(rt.settings.passback_lease_seconds + 1, "drain", None)


TASKS: dict[str, Callable[..., Any]] = {
    "tick": _tick,
    "sync_course": _sync_course,
    "drain": _drain,
    "sync_grades": _sync_grades,
    "sync_roster": _sync_roster,
    "sync_now": _sync_now,
}


def run(rt: Runtime, name: str, *args: Any) -> Any:
    """Run the job called `name` (a key of TASKS)."""
    return TASKS[name](rt, *args)
