"""What launches tell us: users, courses (contexts), memberships and resource links.

Everything course-level hangs off a Context, which belongs to one deployment of one
registration: that triple is the isolation boundary between schools and courses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, or_, text
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base
from lti_tool.models.types import UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("registration_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(300), default="")
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Context(Base):
    __tablename__ = "contexts"
    __table_args__ = (UniqueConstraint("deployment_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    # The platform's id of the course (the launch's context.id); the column keeps its old name.
    id_on_platform: Mapped[str] = mapped_column("context_id", String(255))
    title: Mapped[str] = mapped_column(String(500), default="")
    label: Mapped[str] = mapped_column(String(255), default="")
    # Service endpoints the platform gave in the latest launch.
    memberships_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    lineitems_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    ags_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # When the roster was last read in full through NRPS (None: never).
    # The tool's columns (resourceIds) the teacher said are kept out of the LMS course total:
    # the warning comes back when a new one appears (it would count again).
    columns_out_of_total: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    roster_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Bumped in the transaction of every change to what the engine's course model is built
    # from (models/model_version.py): each process rebuilds its cached model when it moved.
    # (The server's default only: a Python one is sent as a parameter, which an INSERT
    # nested in a CTE, as a launch writes, leaves NULL.)
    model_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Course copy (services/course_copy.py): the earlier context ids the LMS named in a
    # teacher's latest launch ($Context.id.history, newest first), the course this one's setup
    # was copied from (no foreign key: the old course may be deleted, its id stays a fact), and
    # the teacher's answer to "copy or start empty" (None: not asked yet; "copied" | "empty").
    # (Server default only, as model_version: a launch's INSERT inside a CTE drops Python's.)
    history: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))
    copied_from_id: Mapped[int | None] = mapped_column(Integer, default=None)
    setup_choice: Mapped[str | None] = mapped_column(String(20), default=None)
    # Bumped by every recompute that wrote a state or ran for students whose evidence changed
    # (models/states_version.py): each process recounts its cached class summary when it moved.
    states_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @hybrid_method
    def roster_stale(self, max_age_seconds: int, now: datetime) -> bool:
        """Never read, or read more than `max_age_seconds` before `now`; in SQL too."""
        return roster_stale(self.roster_synced_at, max_age_seconds, now)

    @roster_stale.inplace.expression
    @classmethod
    def _roster_stale_sql(cls, max_age_seconds: int, now: datetime) -> Any:
        cutoff = now - timedelta(seconds=max_age_seconds)
        return or_(cls.roster_synced_at.is_(None), cls.roster_synced_at < cutoff)


def roster_stale(synced_at: datetime | None, max_age_seconds: int, now: datetime) -> bool:
    """A roster never read, or read more than `max_age_seconds` ago, is read again."""
    return synced_at is None or synced_at < now - timedelta(seconds=max_age_seconds)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("context_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # teacher | student | mentor | none: what the tool lets this person do.
    role: Mapped[str] = mapped_column(String(20))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # For mentors: the `sub`s of their mentees (role_scope_mentor).
    mentees: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Active | Inactive | Deleted, as NRPS reports it; a launch makes it Active.
    status: Mapped[str] = mapped_column(String(20), default="Active")
    # Hash of everything the latest launch recorded: a repeat launch that matches it
    # writes nothing (one SELECT instead of four upserts).
    launch_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResourceLink(Base):
    __tablename__ = "resource_links"
    __table_args__ = (UniqueConstraint("context_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500), default="")
    custom: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    lineitem_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
