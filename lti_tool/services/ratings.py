"""Teachers' ratings, one student or a grid of them: all checked before any is written, so a
refused rating leaves nothing behind and the view has nothing to undo."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.roles import STUDENT
from lti_tool.models.course import Membership
from lti_tool.models.mastery import Competency
from lti_tool.services.course_model import scale_of
from lti_tool.services.evidence import add_rating
from lti_tool.services.parent_evidence import rating_problem
from lti_tool.services.recompute import Recomputed, recompute_course


class RatingRefused(ValueError):
    """Why the ratings were not saved, in words for the teacher."""


def rate(
    session: Session,
    context_id: int,
    competency_id: int | None,
    levels: dict[int, str],
    note: str,
    by: int,
    grid: bool = False,
) -> tuple[int, Recomputed]:
    """Rate each listed student of the course at a level of the competency's scale, then
    recompute them; students not enrolled as learners are passed over."""
    comp = session.get(Competency, competency_id) if competency_id else None
    if comp is None or comp.context_id != context_id:
        raise RatingRefused("Choose a competency of this course.")
    if refused := rating_problem(session, comp):
        raise RatingRefused(refused)
    learners = set(
        session.scalars(
            select(Membership.user_id).where(
                Membership.context_id == context_id,
                Membership.role == STUDENT,
                Membership.user_id.in_(list(levels)),
            )
        )
    )
    scale = scale_of(session, comp)
    points: dict[int, float] = {}
    for user_id, level in levels.items():
        if user_id not in learners:
            continue
        found = scale.level_named(level)
        if found is None:
            names = ", ".join(lv.name for lv in scale.levels)
            raise RatingRefused(f"Choose a level of the scale ({names}).")
        points[user_id] = found.points
    if not points:
        raise RatingRefused("No level was chosen.")
    for user_id, value in points.items():
        add_rating(session, context_id, comp, user_id, value, note.strip()[:1000], by)
    cause: dict[str, object] = {"by": by}
    if grid:
        cause["count"] = len(points)
    return len(points), recompute_course(session, context_id, {"rating": cause}, only=set(points))
