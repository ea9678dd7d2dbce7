"""What a valid launch records: user, course, membership and resource link.

A launch is the hottest write path the tool has, and most launches repeat the previous one
of the same person in the same place: a fingerprint of everything recorded lets such a
launch cost one SELECT and no write.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.db import Base
from lti_tool.lti.launch import (
    DEEP_LINKING_REQUEST,
    LTI,
    ValidLaunch,
    context_key,
    resource_link_id,
)
from lti_tool.lti.roles import tool_role
from lti_tool.models.course import Context, Membership, ResourceLink, User
from lti_tool.models.platform import Registration
from lti_tool.models.stored_text import display_text, limit_of, url_or_none, whole_or_empty
from lti_tool.models.types import utcnow

NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
PLATFORM = LTI + "tool_platform"


@dataclass(frozen=True)
class LaunchRecord:
    user_id: int
    context_pk: int
    context_id: str
    role: str
    # When the course's roster was last synced (None: never), to decide on a background sync.
    roster_synced_at: datetime | None = None
    has_roster_service: bool = False


def platform_family(claims: dict[str, Any]) -> str:
    code = (claims.get(PLATFORM) or {}).get("product_family_code", "")
    if code in ("canvas", "moodle"):
        return str(code)
    if "https://www.instructure.com/placement" in claims:
        return "canvas"
    return "other"


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


def user_values(person: dict[str, Any]) -> dict[str, str]:
    """Name and email of a launch or an NRPS member as the users table can keep them."""
    return {
        name: display_text(person.get(name) or "", limit_of(getattr(User, name)))
        for name in ("name", "given_name", "family_name")
    } | {"email": whole_or_empty(person.get("email") or "", limit_of(User.email))}


@dataclass(frozen=True)
class _Values:
    user: dict[str, Any]
    context: dict[str, Any]
    membership: dict[str, Any]
    link: dict[str, Any] | None
    fingerprint: str


def _values(launch: ValidLaunch) -> _Values:
    claims = launch.claims
    ags = claims.get(AGS) or {}
    ctx = claims.get(LTI + "context") or {}
    roles = [str(r) for r in claims[LTI + "roles"]]
    user = user_values(claims)
    context = {
        "registration_id": launch.registration_id,
        "title": display_text(
            ctx.get("title") or ctx.get("label") or "Untitled course", limit_of(Context.title)
        ),
        "label": display_text(ctx.get("label") or "", limit_of(Context.label)),
        "memberships_url": url_or_none(
            (claims.get(NRPS) or {}).get("context_memberships_url"),
            limit_of(Context.memberships_url),
        ),
        "lineitems_url": url_or_none(ags.get("lineitems"), limit_of(Context.lineitems_url)),
        "ags_scopes": list(ags.get("scope") or []),
    }
    membership = {
        "role": tool_role(roles),
        "roles": roles,
        "mentees": [str(m) for m in claims.get(LTI + "role_scope_mentor") or []],
        "status": "Active",
    }
    link = None
    if launch.message_type != DEEP_LINKING_REQUEST:
        link_claim = claims[LTI + "resource_link"]
        link = {
            "title": display_text(link_claim.get("title") or "", limit_of(ResourceLink.title)),
            "custom": dict(claims.get(LTI + "custom") or {}),
            "lineitem_url": url_or_none(ags.get("lineitem"), limit_of(ResourceLink.lineitem_url)),
        }
    digest = hashlib.sha256(
        json.dumps([user, context, membership, link], sort_keys=True).encode()
    ).hexdigest()
    return _Values(user, context, membership, link, digest)


def record_launch(session: Session, launch: ValidLaunch) -> LaunchRecord:
    claims = launch.claims
    family = platform_family(claims)
    if launch.platform_family != family:
        reg = session.get(Registration, launch.registration_id)
        assert reg is not None
        reg.platform_family = family
    context_id = context_key(claims)
    link_id = resource_link_id(claims)
    values = _values(launch)
    role = values.membership["role"]

    known = launch.known
    if known is not None:
        # A roster sync may have marked the member inactive since: then write.
        unchanged = known.fingerprint == values.fingerprint and known.status == "Active"
        if unchanged and (link_id is None or known.link_pk is not None):
            return LaunchRecord(
                known.user_id,
                known.context_pk,
                context_id,
                role,
                known.roster_synced_at,
                bool(values.context["memberships_url"]),
            )

    user = _upsert(
        session,
        User,
        {"registration_id": launch.registration_id, "sub": str(claims["sub"])},
        values.user,
    )
    context = _upsert(
        session,
        Context,
        {"deployment_id": launch.deployment_pk, "context_id": context_id},
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
        context_id,
        role,
        context.roster_synced_at,
        bool(context.memberships_url),
    )
