"""The grade sync job: read the course's results, store the evidence, recompute, and hand
changed competency scores to the passback worker."""

from __future__ import annotations

import logging

from lti_tool.clients.lti_services import caller_for
from lti_tool.models.course import Context
from lti_tool.runtime import Runtime
from lti_tool.services.evidence import GradePull, pull_grades
from lti_tool.services.recompute import Recomputed, recompute_course

log = logging.getLogger("lti_tool.jobs.grades")


def sync_course_grades(
    rt: Runtime, context_id: int, post: bool = True
) -> tuple[GradePull, Recomputed]:
    with rt.session_factory() as session:
        context = session.get(Context, context_id)
        if context is None:
            raise LookupError(f"no course {context_id}")
        caller = caller_for(session, context, rt.platform_http, rt.tokens)
        pull = pull_grades(session, caller, context)
        cause = {
            "kind": "grade sync",
            "added": pull.added,
            "changed": pull.changed,
            "withdrawn": pull.withdrawn,
        }
        recomputed = recompute_course(
            session, context_id, cause, student_causes=pull.touched, only=set(pull.touched)
        )
        session.commit()
    log.info(
        "grades of course %s: %s results, %s new, %s changed, %s withdrawn; %s mastery changes, "
        "%s scores queued",
        context_id,
        pull.results,
        pull.added,
        pull.changed,
        pull.withdrawn,
        recomputed.mastery_changed,
        recomputed.scores_queued,
    )
    if post and recomputed.scores_queued:
        rt.jobs.enqueue("drain", context_id)
    return pull, recomputed
