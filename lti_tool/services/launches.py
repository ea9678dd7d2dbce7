"""What a valid launch records: user, course, membership and resource link.

A launch is the hottest write path the tool has, and most launches repeat the previous one
of the same person in the same place: a fingerprint of everything recorded lets such a
launch cost one SELECT and no write.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.db import Base
from lti_tool.lti.launch import ValidLaunch
from lti_tool.models.course import Context, Membership, ResourceLink, User
from lti_tool.models.modules import Module
from lti_tool.models.platform import Registration
from lti_tool.models.types import utcnow

log = logging.getLogger("lti_tool.launch")  # the launch's log, as web/lti.py


@dataclass(frozen=True)
class LaunchRecord:
    user_id: int
    context_id: int
    id_on_platform: str
    role: str
    # When the course's roster was last synced (None: never), to decide on a background sync.
    roster_synced_at: datetime | None = None
    has_roster_service: bool = False
    # The module a placed link opens, only if it belongs to this very course.
    module_id: int | None = None


def _sync(row: Base, values: dict[str, Any]) -> None:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed and hasattr(row, "updated_at"):
        row.updated_at = utcnow()  # type: ignore[attr-defined]


def _upsert(
    session: Session, model: type[Base], keys: dict[str, Any], values: dict[str, Any]
) -> Any:
    query = select(model).filter_by(**keys)
    row = session.scalar(query)
    if row is not None:
        _sync(row, values)
        return row
    row = model(**keys, **values)
    try:
        # A savepoint: two first launches of one course at once must both succeed.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        row = session.scalars(query).one()
        _sync(row, values)
    return row


@dataclass(frozen=True)
class _Values:
    user: dict[str, Any]
    context: dict[str, Any]
    membership: dict[str, Any]
    link: dict[str, Any] | None
    fingerprint: str


def _values(launch: ValidLaunch) -> _Values:
    message = launch.message
    user = dict(message.person)
    context = {
        "registration_id": launch.registration_id,
        "title": message.context_title,
        "label": message.context_label,
        "memberships_url": message.memberships_url,
        "lineitems_url": message.lineitems_url,
        "ags_scopes": list(message.ags_scopes),
    }
    membership = {
        "role": message.role,
        "roles": list(message.roles),
        "mentees": list(message.mentees),
        "status": "Active",
    }
    link = None
    if message.resource_link_id is not None:
        link = {
            "title": message.resource_link_title,
            "custom": dict(message.custom),
            "lineitem_url": message.lineitem_url,
        }
    digest = hashlib.sha256(
        json.dumps([user, context, membership, link], sort_keys=True).encode()
    ).hexdigest()
    return _Values(user, context, membership, link, digest)


def _placed_module(session: Session, module_id: int | None, context_id: int) -> int | None:
    """The module a deep-linked item opens, only if it belongs to this very course."""
    if module_id is None:
        return None
    module = session.get(Module, module_id)
    if module is None or module.context_id != context_id:
        log.warning("launch names module %s, which is not in course %s", module_id, context_id)
        return None
    return module.id


def record_launch(session: Session, launch: ValidLaunch) -> LaunchRecord:
    message = launch.message
    if launch.registered_family != message.platform_family:
        reg = session.get(Registration, launch.registration_id)
        assert reg is not None
        reg.platform_family = message.platform_family
    id_on_platform = message.context_id
    link_id = message.resource_link_id
    values = _values(launch)

    known = launch.known
    if known is not None:
        # A roster sync may have marked the member inactive since: then write.
        unchanged = known.fingerprint == values.fingerprint and known.status == "Active"
        if unchanged and (link_id is None or known.link_pk is not None):
            return LaunchRecord(
                known.user_id,
                known.context_id,
                id_on_platform,
                message.role,
                known.roster_synced_at,
                bool(values.context["memberships_url"]),
                _placed_module(session, message.placed_module_id, known.context_id),
            )

    user = _upsert(
        session,
        User,
        {"registration_id": launch.registration_id, "sub": message.sub},
        values.user,
    )
    context = _upsert(
        session,
        Context,
        {"deployment_id": launch.deployment_pk, "id_on_platform": id_on_platform},
        values.context,
    )
    _upsert(
        session,
        Membership,
        {"context_id": context.id, "user_id": user.id},
        {**values.membership, "launch_fingerprint": values.fingerprint},
    )
    if link_id is not None and values.link is not None:
        _upsert(
            session,
            ResourceLink,
            {"context_id": context.id, "resource_link_id": link_id},
            values.link,
        )
    return LaunchRecord(
        user.id,
        context.id,
        id_on_platform,
        message.role,
        context.roster_synced_at,
        bool(context.memberships_url),
        _placed_module(session, message.placed_module_id, context.id),
    )
