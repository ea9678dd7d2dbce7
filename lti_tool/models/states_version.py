"""The version of a course's stored states and evidence, which the class summary is cached by.

Only a recompute writes mastery and unlock states, and every change of evidence is followed
by a recompute for the students it touched, so the recompute bumps `Context.states_version`
in its own transaction (the course row is already locked by `lock_course`). A commit publishes
the number with the states; a rollback takes both back. The session remembers the courses
it bumped until its transaction ends: their summary is counted fresh, never from or into the
cache, since what it sees may yet be rolled back under a number another transaction reuses.
"""

from __future__ import annotations

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from lti_tool.models.course import Context
from lti_tool.models.model_version import UNVERSIONED

# The session `info` key holding the context ids whose states this transaction changed.
STATES_CHANGED = "lti_tool.states_changed"


def bump_states(session: Session, context_id: int) -> None:
    """Move the course's states version on, in the session's transaction."""
    if session.info.get(UNVERSIONED):
        return
    table = Context.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == context_id)
        .values(states_version=table.c.states_version + 1)
    )
    session.info.setdefault(STATES_CHANGED, set()).add(context_id)


def states_changed(session: Session) -> set[int]:
    """The courses whose states this session's open transaction changed."""
    return session.info.get(STATES_CHANGED) or set()


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_over(session: Session) -> None:
    session.info.pop(STATES_CHANGED, None)
