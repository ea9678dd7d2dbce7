"""Roster sync through NRPS: every member of a course, upserted a page at a time.

A member the platform no longer lists is kept, marked Inactive, with everything the tool
knows of them (their evidence stays); a member listed again becomes Active again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from lti_tool.clients.lti_services import ServiceCaller
from lti_tool.clients.nrps import member_pages
from lti_tool.lti.message import user_values
from lti_tool.lti.roles import tool_role
from lti_tool.models.course import Context, Membership, User
from lti_tool.models.stored_text import display_text, id_problem, limit_of
from lti_tool.models.types import utcnow

log = logging.getLogger(__name__)
STATUSES = {"Active", "Inactive", "Deleted"}
WRITE_CHUNK = 1000


class RosterUnavailable(RuntimeError):
    """The platform offers no roster for this course (no NRPS claim in its launches)."""


@dataclass
class RosterSync:
    members: int = 0
    added: int = 0
    updated: int = 0
    now_inactive: int = 0
    pages: int = 0
    # Members whose id the tool cannot keep (over 255 characters, a NUL): left out, logged.
    skipped: int = 0
    seen: set[int] = field(default_factory=set, repr=False)

    def summary(self) -> str:
        text = (
            f"{self.members} members ({self.added} new, {self.updated} changed, "
            f"{self.now_inactive} no longer in the course)"
        )
        if self.skipped:
            text += f"; {self.skipped} skipped: the LMS sent ids the tool cannot keep"
        return text


def _user_values(member: dict[str, Any]) -> dict[str, str]:
    # Privacy settings may withhold names: never overwrite a known name with nothing.
    values = user_values(member)
    if not values["name"] and (values["given_name"] or values["family_name"]):
        full = f"{values['given_name']} {values['family_name']}".strip()
        values["name"] = display_text(full, limit_of(User.name))
    return {k: v for k, v in values.items() if v}


def _keepable(members: list[dict[str, Any]], result: RosterSync) -> list[dict[str, Any]]:
    """Members whose id the users table can keep; the others are logged and counted."""
    kept = []
    limit = limit_of(User.sub)
    for m in members:
        problem = id_problem(m["user_id"], limit)
        if problem:
            log.warning("roster: member skipped, their user_id %s", problem)
            result.skipped += 1
        else:
            kept.append(m)
    return kept


def _page(
    session: Session, context: Context, members: list[dict[str, Any]], result: RosterSync
) -> None:
    # A member listed twice (it happens across pages of a changing roster) counts once.
    members = list({str(m["user_id"]): m for m in _keepable(members, result)}.values())
    subs = [str(m["user_id"]) for m in members]
    users = {
        u.sub: u
        for u in session.scalars(
            select(User).where(User.registration_id == context.registration_id, User.sub.in_(subs))
        )
    }
    ids = {sub: u.id for sub, u in users.items()}
    blank = {"name": "", "given_name": "", "family_name": "", "email": ""}
    new_users = [
        {
            "registration_id": context.registration_id,
            "sub": str(m["user_id"]),
            "updated_at": utcnow(),
            **blank,
            **_user_values(m),
        }
        for m in members
        if str(m["user_id"]) not in users
    ]
    if new_users:
        # Core executemany (pipelined, one prepared statement), then one read of the new
        # ids: a multi-row INSERT … RETURNING string is re-parsed by the driver every time.
        conn = session.connection()
        conn.execute(insert(User.__table__), new_users)
        added = [u["sub"] for u in new_users]
        ids.update(
            (sub, user_id)
            for user_id, sub in conn.execute(
                select(User.id, User.sub).where(
                    User.registration_id == context.registration_id, User.sub.in_(added)
                )
            )
        )
    for m in members:
        user = users.get(str(m["user_id"]))
        if user is None:
            continue
        for name, value in _user_values(m).items():
            if getattr(user, name) != value:
                setattr(user, name, value)
    memberships = {
        ms.user_id: ms
        for ms in session.scalars(
            select(Membership).where(
                Membership.context_id == context.id, Membership.user_id.in_(list(ids.values()))
            )
        )
    }
    new_memberships = []
    now = utcnow()
    for m in members:
        user_id = ids[str(m["user_id"])]
        roles = [str(r) for r in m.get("roles") or []]
        status = str(m.get("status") or "Active")
        status = status if status in STATUSES else "Active"
        role = tool_role(roles)
        result.seen.add(user_id)
        existing = memberships.get(user_id)
        if existing is None:
            new_memberships.append(
                {
                    "context_id": context.id,
                    "user_id": user_id,
                    "role": role,
                    "roles": roles,
                    "mentees": [],
                    "status": status,
                    "launch_fingerprint": "",
                    "updated_at": now,
                }
            )
            result.added += 1
            continue
        if (existing.role, existing.roles, existing.status) != (role, roles, status):
            existing.role, existing.roles, existing.status = role, roles, status
            existing.updated_at = now
            result.updated += 1
    if new_memberships:
        session.connection().execute(insert(Membership.__table__), new_memberships)
    result.members += len(members)
    session.flush()


def sync_roster(
    session: Session,
    caller: ServiceCaller,
    context: Context,
    page_size: int,
    now: datetime | None = None,
) -> RosterSync:
    if not context.memberships_url:
        raise RosterUnavailable(
            "The LMS did not offer its roster service (Names and Role Provisioning) for "
            "this course. An LMS administrator can turn it on in the tool's settings."
        )
    result = RosterSync()
    # Read every page before writing: no write transaction is held while the platform is
    # called (SQLite has one writer, and the sandbox may share the file). Then write in
    # chunks far larger than a page: round trips, not rows, are what a sync costs.
    members: list[dict[str, Any]] = []
    for page in member_pages(caller, context.memberships_url, page_size):
        members.extend(page)
        result.pages += 1
    for start in range(0, len(members), WRITE_CHUNK):
        _page(session, context, members[start : start + WRITE_CHUNK], result)
    gone = [
        ms_id
        for ms_id, user_id in session.execute(
            select(Membership.id, Membership.user_id).where(
                Membership.context_id == context.id, Membership.status == "Active"
            )
        )
        if user_id not in result.seen
    ]
    for start in range(0, len(gone), 500):
        session.execute(
            update(Membership)
            .where(Membership.id.in_(gone[start : start + 500]))
            .values(status="Inactive", updated_at=utcnow())
        )
    result.now_inactive = len(gone)
    context.roster_synced_at = now or utcnow()
    session.flush()
    return result
