"""Which courses a scheduled sync visits: those with services whose roster is older than
the interval, stalest first, at most `sync_courses_per_platform` per registration."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lti_tool.models.course import Context
from lti_tool.models.types import utcnow
from lti_tool.settings import Settings


def courses_due(session: Session, settings: Settings) -> list[int]:
    rows = session.execute(
        select(Context.id, Context.registration_id)
        .where(
            or_(Context.memberships_url.is_not(None), Context.lineitems_url.is_not(None)),
            Context.roster_stale(settings.sync_interval_seconds, utcnow()),
        )
        .order_by(Context.roster_synced_at.is_not(None), Context.roster_synced_at, Context.id)
    ).all()
    per_platform: dict[int, int] = {}
    chosen = []
    for context_id, registration_id in rows:
        if per_platform.get(registration_id, 0) >= settings.sync_courses_per_platform:
            continue
        per_platform[registration_id] = per_platform.get(registration_id, 0) + 1
        chosen.append(context_id)
    return chosen
