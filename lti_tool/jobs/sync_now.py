"""The teacher's "Sync now" as a job: the roster, then the grades, each in its own transaction;
the outcome, in words a teacher reads, kept for the class page, and the detail in the log."""

from __future__ import annotations

import logging

from lti_tool.clients.errors import PlatformError
from lti_tool.jobs.grades import sync_course_grades
from lti_tool.jobs.roster import sync_course_roster
from lti_tool.models.course import Context
from lti_tool.runtime import Runtime
from lti_tool.services import sync_outcome
from lti_tool.services.roster import RosterUnavailable

log = logging.getLogger("lti_tool.jobs.sync_now")


def sync_now(rt: Runtime, context_id: int) -> None:
    with rt.session_factory() as session:
        context = session.get(Context, context_id)
        if context is None:
            log.warning("sync now: course %s is gone", context_id)
            return
        roster, grades = bool(context.memberships_url), bool(context.lineitems_url)
    parts = []
    stage = "roster"
    try:
        if roster:
            synced = sync_course_roster(rt, context_id)
            parts.append("roster: " + (synced.summary() if synced else "the course is gone"))
        if grades:
            stage = "grades"
            pulled, recomputed = sync_course_grades(rt, context_id)
            parts.append(
                f"grades: {pulled.added} new, {pulled.changed} changed, "
                f"{pulled.withdrawn} withdrawn; {recomputed.mastery_changed} mastery changes"
            )
            if pulled.problems:
                parts.append(f"{pulled.problems} grades not used as they are (listed below)")
    except Exception as exc:
        # Platform trouble (or a bug) is a sentence for the teacher; the detail, with the
        # URLs and the platform's answer, goes to the log.
        known = (RosterUnavailable, PlatformError)
        if isinstance(exc, known):
            log.warning("sync of course %s failed: %s", context_id, exc)
        else:
            log.exception("sync of course %s failed", context_id)
        problem = (
            f"The {stage} could not be read from the LMS just now. Try again in a few "
            "minutes; if it keeps failing, the tool's log says why."
        )
        with rt.short_store() as store:
            sync_outcome.record(store, context_id, problem=problem)
        return
    notice = (
        "Synced — " + "; ".join(parts)
        if parts
        else "The LMS offers no roster or grade service here."
    )
    with rt.short_store() as store:
        sync_outcome.record(store, context_id, notice=notice)
