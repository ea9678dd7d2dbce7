"""Posting one claimed outbox row to the LMS: the lease renewed, the column (a competency's,
or a gated module's unlock column) found or made, the score posted with its stamp, and the
answer recorded with an audit entry, in one commit per score (and one more to renew the
lease of a row claimed a while ago)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from lti_tool.clients.errors import PlatformError
from lti_tool.clients.lti_services import ServiceError, caller_for
from lti_tool.grading.columns import column_for, ensure_column, forget_column
from lti_tool.grading.outbox import (
    CHANGED,
    Held,
    fence,
    fresh,
    mark_posted,
    release,
    renew,
    settle,
    try_later,
)
from lti_tool.grading.stamps import post_grade
from lti_tool.models.course import Context, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, Competency
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from lti_tool.runtime import Runtime

log = logging.getLogger("lti_tool.grading.posting")

_ROW = select(
    ScoreOutbox.competency_id,
    ScoreOutbox.module_id,
    ScoreOutbox.context_id,
    ScoreOutbox.user_id,
    ScoreOutbox.score_given,
    ScoreOutbox.score_maximum,
)


def about(owner: Competency | Module) -> dict[str, object]:
    """What an audit entry names: the competency's code, or the gated module."""
    if isinstance(owner, Module):
        return {"module": owner.id, "title": owner.title, "column": "unlock"}
    return {"competency": owner.code}


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
    held = Held(row_id, version, until)
    if fresh(rt, held, utcnow()):
        # Claimed a moment ago (a drain claims rows as its threads free up): the row read
        # checks the claim, and the lease stands as it is, one write and commit fewer.
        values = session.execute(_ROW.where(*fence(held))).first()
        if values is None:
            release(session, held)
            session.commit()
            return "superseded"
        lease = until
    else:
        lease = renew(rt, session, held)
        if lease is None:
            return "superseded"
        values = session.execute(_ROW.where(ScoreOutbox.id == row_id)).first()
        assert values is not None
    mine = ScoreOutbox.claimed_until == lease if until is not None else ScoreOutbox.id == row_id
    comp_id, module_id, ctx_id, user_id, given, maximum = values
    owner: Competency | Module | None = (
        session.get(Competency, comp_id) if comp_id is not None else session.get(Module, module_id)
    )
    context = session.get(Context, ctx_id)
    user = session.get(User, user_id)
    if owner is None or context is None or user is None:
        session.execute(delete(ScoreOutbox).where(ScoreOutbox.id == row_id))
        session.commit()
        return "superseded"
    try:
        caller = callers.get(context.id)
        if caller is None:
            caller = callers[context.id] = caller_for(session, context, rt.platform_http, rt.tokens)
        url = column_for(rt.short_store, session, caller, context, owner, maximum)
        try:
            outcome = post_grade(session, caller, context.id, user, url, given, maximum)
        except ServiceError as exc:
            if exc.status != 404:
                raise
            # The column was deleted in the LMS: make it again and post there.
            forget_column(session, owner)
            session.commit()
            url = ensure_column(session, caller, context, owner, maximum)
            session.commit()
            outcome = post_grade(session, caller, context.id, user, url, given, maximum)
        # the stamp is committed below, with the outbox record: one commit per score
    except (PlatformError, LookupError) as exc:
        session.rollback()
        attempts = try_later(session, row_id, version, mine, str(exc))
        session.commit()
        log.warning("score %s not posted yet (attempt %s): %s", row_id, attempts, exc)
        return "later"
    now = utcnow()
    if outcome.posted:
        result = "posted" if mark_posted(session, row_id, version, mine, now) else "superseded"
        kind, extra = "score_posted", {"of": maximum}
    elif outcome.changed_in_lms:
        settle(session, row_id, version, CHANGED, outcome.reason, now)
        result, kind = "changed", "score_changed_in_lms"
        extra = {"of": maximum, "lms_score": outcome.lms_score, "lms_of": outcome.lms_maximum}
    else:
        settle(session, row_id, version, "failed", outcome.reason, now)
        result, kind, extra = "failed", "score_failed", {"reason": outcome.reason}
    session.add(
        AuditEntry(
            context_id=context.id,
            at=now,
            kind=kind,
            user_id=user.id,
            detail={**about(owner), "score": given, **extra},
        )
    )
    session.commit()
    return result
