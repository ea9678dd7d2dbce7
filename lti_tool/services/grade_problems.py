"""Results the tool cannot use as they are: one odd grade in the LMS gradebook must not stop
every other grade from arriving. Each result is checked before it becomes evidence; one that
cannot be read (a negative or missing number, a maximum of 0, someone the tool does not know)
is skipped, one above its maximum is counted at the maximum, and both are recorded with why,
for the teacher to see and fix in the LMS."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lti_tool.models.course import User
from lti_tool.models.grading import GradeProblem
from lti_tool.models.mastery import CourseLineItem

SKIPPED = "skipped"
CAPPED = "capped"


@dataclass(frozen=True)
class Checked:
    """A result as the tool counts it: points out of a maximum (both usable), or a problem."""

    points: float | None = None
    maximum: float | None = None
    kind: str | None = None  # None | skipped | capped
    value: str = ""
    reason: str = ""


def _shown(value: Any) -> str:
    """The value as the teacher would recognise it in the gradebook."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)[:100]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def check_result(result: dict[str, Any], column_maximum: float | None) -> Checked:
    """What this AGS result counts for; `column_maximum` is the column's scoreMaximum."""
    raw = result.get("resultScore")
    raw_max = result.get("resultMaximum")
    if raw_max is None:
        maximum = _number(column_maximum)
        if maximum is None or maximum <= 0:
            return Checked(
                kind=SKIPPED,
                value=_shown(raw),
                reason=f"the column's maximum is {_shown(column_maximum)} points, so no share "
                "of it can be worked out",
            )
    else:
        maximum = _number(raw_max)
        if maximum is None or maximum <= 0:
            return Checked(
                kind=SKIPPED,
                value=f"{_shown(raw)} of {_shown(raw_max)}",
                reason=f"the maximum is {_shown(raw_max)}: a maximum must be a number above 0",
            )
    points = _number(raw)
    if points is None:
        return Checked(
            kind=SKIPPED, value=_shown(raw), reason="the score is not a number the tool can count"
        )
    if points < 0:
        return Checked(
            kind=SKIPPED, value=_shown(raw), reason="the score is below 0, so it was not counted"
        )
    if points > maximum:
        return Checked(
            maximum,
            maximum,
            CAPPED,
            f"{_shown(raw)} of {_shown(maximum)}",
            f"above the maximum: counted as {_shown(maximum)} of {_shown(maximum)}",
        )
    return Checked(points, maximum)


def unknown_person(result: dict[str, Any]) -> Checked:
    return Checked(
        kind=SKIPPED,
        value=_shown(result.get("resultScore")),
        reason="the LMS names someone who is not on the tool's roster (sync the roster, then "
        "the grades)",
    )


def replace_problems(
    session: Session,
    context_id: int,
    line_item_id: int,
    found: list[tuple[int | None, str, Checked]],
    now: datetime,
) -> None:
    """The column's problems as of this read (no commit): earlier ones are gone."""
    session.execute(delete(GradeProblem).where(GradeProblem.line_item_id == line_item_id))
    for user_id, user_ref, checked in found:
        session.add(
            GradeProblem(
                context_id=context_id,
                line_item_id=line_item_id,
                user_id=user_id,
                user_ref=user_ref[:255],
                kind=checked.kind or SKIPPED,
                value=checked.value[:100],
                reason=checked.reason[:500],
                seen_at=now,
            )
        )


def forget_unread(session: Session, context_id: int, read: set[int]) -> None:
    """A column no longer read (no longer aligned, or gone from the LMS) takes its problems
    off the list (no commit)."""
    query = delete(GradeProblem).where(GradeProblem.context_id == context_id)
    if read:
        query = query.where(GradeProblem.line_item_id.not_in(read))
    session.execute(query)


@dataclass(frozen=True)
class ShownProblem:
    student: str
    column: str
    value: str
    kind: str
    reason: str


def course_problems(session: Session, context_id: int, limit: int = 200) -> list[ShownProblem]:
    """What the class view lists under the grades the tool could not use as they are."""
    rows = session.execute(
        select(GradeProblem, User.name, CourseLineItem.label)
        .join(CourseLineItem, CourseLineItem.id == GradeProblem.line_item_id)
        .outerjoin(User, User.id == GradeProblem.user_id)
        .where(GradeProblem.context_id == context_id, CourseLineItem.gone_at.is_(None))
        .order_by(GradeProblem.kind.desc(), CourseLineItem.label, User.name, GradeProblem.id)
        .limit(limit)
    ).all()
    return [
        ShownProblem(
            name or f"LMS user {p.user_ref}",
            label or "(a column without a name)",
            p.value,
            p.kind,
            p.reason,
        )
        for p, name, label in rows
    ]
