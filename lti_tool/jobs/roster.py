"""The roster sync job: one course, its own session and transaction."""

from __future__ import annotations

import logging

from lti_tool.clients.lti_services import caller_for
from lti_tool.models.course import Context
from lti_tool.runtime import Runtime
from lti_tool.services.roster import RosterSync, sync_roster

log = logging.getLogger("lti_tool.jobs.roster")


def sync_course_roster(rt: Runtime, context_id: int) -> RosterSync | None:
    with rt.session_factory() as session:
        context = session.get(Context, context_id)
        if context is None:
            log.warning("roster sync: course %s is gone", context_id)
            return None
        caller = caller_for(session, context, rt.platform_http, rt.tokens)
        result = sync_roster(session, caller, context, rt.settings.nrps_page_size)
        session.commit()
        log.info("roster of course %s synced: %s", context_id, result.summary())
        return result
