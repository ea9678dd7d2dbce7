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

from sqlalchemy import bindparam, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lti_tool.lti.launch import ValidLaunch
from lti_tool.models.course import Context, Membership, ResourceLink, User
from lti_tool.models.modules import Module
from lti_tool.models.platform import Registration
from lti_tool.models.types import utcnow
from lti_tool.services import course_copy

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


def _upsert(
    model: Any,
    keys: list[Any],
    columns: list[Any],
    returning: list[Any],
    insert_only: tuple[Any, ...] = (),
) -> Any:
    """INSERT … ON CONFLICT DO UPDATE of `columns` (and updated_at) for each dialect, keyed
    by `keys`: two first launches of one course at once both succeed, with no SAVEPOINT.
    Parameters are named table_column (`insert_only` columns are given on insert and kept
    on update); built once per process."""
    table = model.__table__
    keys = [k.expression for k in keys]
    columns = [c.expression for c in columns]
    named = keys + columns + [c.expression for c in insert_only]
    values = {c: bindparam(f"{table.name}_{c.name}", type_=c.type) for c in named}
    values[table.c.updated_at] = bindparam("now", type_=table.c.updated_at.type)

    def statements(insert: Any) -> Any:
        stmt = insert(table).values(values)
        set_ = {c.name: stmt.excluded[c.name] for c in [*columns, table.c.updated_at]}
        return stmt.on_conflict_do_update(index_elements=keys, set_=set_).returning(*returning)

    return {"postgresql": statements(pg_insert), "sqlite": statements(sqlite_insert)}


_USER = _upsert(
    User,
    [User.registration_id, User.sub],
    [User.name, User.given_name, User.family_name, User.email],
    [User.id],
)
_CONTEXT = _upsert(
    Context,
    [Context.deployment_id, Context.id_on_platform],
    [
        Context.registration_id,
        Context.title,
        Context.label,
        Context.memberships_url,
        Context.lineitems_url,
        Context.ags_scopes,
    ],
    [Context.id, Context.roster_synced_at],
    insert_only=(Context.columns_out_of_total,),
)
_MEMBERSHIP = _upsert(
    Membership,
    [Membership.context_id, Membership.user_id],
    [
        Membership.role,
        Membership.roles,
        Membership.mentees,
        Membership.status,
        Membership.launch_fingerprint,
    ],
    [Membership.id],
)
_LINK = _upsert(
    ResourceLink,
    [ResourceLink.context_id, ResourceLink.resource_link_id],
    [ResourceLink.title, ResourceLink.custom, ResourceLink.lineitem_url],
    [ResourceLink.id],
)


def _chained() -> dict[str, Any]:
    """PostgreSQL: the four upserts as one statement (data-modifying WITHs), one round trip;
    the membership and the link take the ids the user and course upserts return."""
    user = _USER["postgresql"].cte("u")
    context = _CONTEXT["postgresql"].cte("c")
    both = context.join(user, true())  # one row each: their product is that one row
    chained = {}
    for with_link in (False, True):
        membership = pg_insert(Membership).from_select(
            [
                "context_id",
                "user_id",
                "role",
                "roles",
                "mentees",
                "status",
                "launch_fingerprint",
                "updated_at",
            ],
            select(
                context.c.id,
                user.c.id,
                *(
                    bindparam(f"memberships_{name}", type_=Membership.__table__.c[name].type)
                    for name in ("role", "roles", "mentees", "status", "launch_fingerprint")
                ),
                bindparam("now", type_=Membership.__table__.c.updated_at.type),
            ).select_from(both),
        )
        membership = membership.on_conflict_do_update(
            index_elements=[Membership.context_id, Membership.user_id],
            set_={
                name: membership.excluded[name]
                for name in (
                    "role",
                    "roles",
                    "mentees",
                    "status",
                    "launch_fingerprint",
                    "updated_at",
                )
            },
        ).returning(Membership.id)
        statement = (
            select(user.c.id, context.c.id, context.c.roster_synced_at)
            .select_from(both)
            .add_cte(user, context, membership.cte("m"))
        )
        if with_link:
            link = pg_insert(ResourceLink).from_select(
                ["context_id", "resource_link_id", "title", "custom", "lineitem_url", "updated_at"],
                select(
                    context.c.id,
                    *(
                        bindparam(
                            f"resource_links_{name}", type_=ResourceLink.__table__.c[name].type
                        )
                        for name in ("resource_link_id", "title", "custom", "lineitem_url")
                    ),
                    bindparam("now", type_=ResourceLink.__table__.c.updated_at.type),
                ),
            )
            link = link.on_conflict_do_update(
                index_elements=[ResourceLink.context_id, ResourceLink.resource_link_id],
                set_={
                    name: link.excluded[name]
                    for name in ("title", "custom", "lineitem_url", "updated_at")
                },
            ).returning(ResourceLink.id)
            statement = statement.add_cte(link.cte("l"))
        chained[with_link] = statement
    return chained


_CHAINED = _chained()


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
        copied = course_copy.module_of_copied_link(session, module_id, context_id)
        if copied is not None:
            return copied
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

    user_id, context_id, synced = _write(session, launch, values)
    return LaunchRecord(
        user_id,
        context_id,
        id_on_platform,
        message.role,
        synced,
        bool(values.context["memberships_url"]),
        _placed_module(session, message.placed_module_id, context_id),
    )


def _write(session: Session, launch: ValidLaunch, values: _Values) -> tuple[int, int, Any]:
    """Write what changed: one statement on PostgreSQL, plain upserts (no SAVEPOINT) on
    SQLite, where a statement costs no network round trip. Returns the user's and the
    course's ids and when the course's roster was last synced."""
    message = launch.message
    params: dict[str, Any] = {"now": utcnow()}
    params |= {f"users_{k}": v for k, v in values.user.items()}
    params |= {"users_registration_id": launch.registration_id, "users_sub": message.sub}
    params |= {f"contexts_{k}": v for k, v in values.context.items()}
    params["contexts_columns_out_of_total"] = []
    params |= {
        "contexts_deployment_id": launch.deployment_pk,
        "contexts_context_id": message.context_id,
    }
    params |= {f"memberships_{k}": v for k, v in values.membership.items()}
    params["memberships_launch_fingerprint"] = values.fingerprint
    with_link = message.resource_link_id is not None and values.link is not None
    if with_link:
        params |= {f"resource_links_{k}": v for k, v in (values.link or {}).items()}
        params["resource_links_resource_link_id"] = message.resource_link_id
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect == "postgresql":
        user_id, context_id, synced = conn.execute(_CHAINED[with_link], params).one()
        return user_id, context_id, synced
    user_id = conn.execute(_USER[dialect], params).scalar_one()
    context_id, synced = conn.execute(_CONTEXT[dialect], params).one()
    params |= {"memberships_context_id": context_id, "memberships_user_id": user_id}
    conn.execute(_MEMBERSHIP[dialect], params)
    if with_link:
        params["resource_links_context_id"] = context_id
        conn.execute(_LINK[dialect], params)
    return user_id, context_id, synced
