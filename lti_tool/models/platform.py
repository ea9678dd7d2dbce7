"""Registrations (one per LMS instance and client id), their deployments, and the tool's keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base
from lti_tool.models.types import UTCDateTime, utcnow


class Registration(Base):
    """A platform as the admin registered it: found by (issuer, client_id) or by its UUID."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(1000))
    # The `aud` of client assertions when the platform wants something other than the token URL.
    token_audience: Mapped[str | None] = mapped_column(String(1000), default=None)
    # canvas | moodle | other: detected from launches, used for platform quirks.
    platform_family: Mapped[str] = mapped_column(String(40), default="other")
    # Set by a dynamic registration whose platform named no deployment (Canvas' older flow):
    # the first deployment a launch brings is allowed, the ones after it are not.
    allow_first_deployment: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="registration", cascade="all, delete-orphan"
    )


class Deployment(Base):
    """A tool installation in the platform; unknown ones are recorded and refused until allowed."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("registration_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[str] = mapped_column(String(255))
    allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    registration: Mapped[Registration] = relationship(back_populates="deployments")


class RegistrationInvite(Base):
    """A registration URL an admin made (`lti-tool registration invite`): only its hash is
    kept, it expires, and the first registration that succeeds with it uses it up."""

    __tablename__ = "registration_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), default=None
    )


class ToolKey(Base):
    """One RSA key of the tool: published from creation, signs from `signs_from`."""

    __tablename__ = "tool_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    # PEM, or a Fernet token of the PEM when a key-encryption key is configured.
    private_key: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    signs_from: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Once set and past, the key is neither published nor used.
    retire_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
