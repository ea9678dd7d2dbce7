"""The sandbox platform's own tables: its platforms, keys, registered tools and demo courses.

They live beside the tool's tables (one migration history) but the tool never reads them:
tool and sandbox talk only over HTTP, as a tool and a real LMS would.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base
from lti_tool.models.types import UTCDateTime, utcnow


class SandboxPlatform(Base):
    __tablename__ = "sandbox_platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    # URL segment and shape: "canvas" or "moodle".
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    shape: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))


class SandboxKey(Base):
    __tablename__ = "sandbox_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("sandbox_platforms.id"), index=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The newest active key signs; older active keys are still published.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SandboxTool(Base):
    """A tool registered in the sandbox platform (what an LMS admin types in)."""

    __tablename__ = "sandbox_tools"
    __table_args__ = (UniqueConstraint("platform_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("sandbox_platforms.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    login_url: Mapped[str] = mapped_column(String(1000))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    target_link_uri: Mapped[str] = mapped_column(String(1000))
    jwks_url: Mapped[str] = mapped_column(String(1000))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The tool's JWKS as last fetched, to verify its client assertions.
    jwks_cache: Mapped[dict[str, list[dict[str, str]]] | None] = mapped_column(JSON, default=None)


class SandboxCourse(Base):
    __tablename__ = "sandbox_courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("sandbox_platforms.id"), index=True)
    lti_context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(100))


class SandboxUser(Base):
    __tablename__ = "sandbox_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("sandbox_platforms.id"), index=True)
    lti_sub: Mapped[str] = mapped_column(String(255))
    username: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(300))

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class SandboxEnrollment(Base):
    __tablename__ = "sandbox_enrollments"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("sandbox_courses.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("sandbox_users.id"))
    # teacher | ta | student | mentor
    role: Mapped[str] = mapped_column(String(20))
    # Active | Inactive | Deleted
    status: Mapped[str] = mapped_column(String(20), default="Active")
    # For mentors: the sandbox user ids of their mentees.
    mentee_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class SandboxLink(Base):
    """A resource link placed in a sandbox course that launches a tool."""

    __tablename__ = "sandbox_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("sandbox_courses.id"), index=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("sandbox_tools.id"))
    lti_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300))
    # Overrides the tool's target_link_uri (deep-linked items carry their own URL).
    url: Mapped[str | None] = mapped_column(String(1000), default=None)
    custom: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # LtiResourceLinkRequest, or LtiDeepLinkingRequest for the "add content" entry point.
    message_type: Mapped[str] = mapped_column(String(40), default="LtiResourceLinkRequest")


class SandboxLineItem(Base):
    """A gradebook column (AGS line item) in a sandbox course."""

    __tablename__ = "sandbox_line_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("sandbox_courses.id"), index=True)
    # The tool that owns it (AGS lists a tool's own line items), or None for a column the
    # teacher made in the gradebook.
    tool_id: Mapped[int | None] = mapped_column(ForeignKey("sandbox_tools.id"), default=None)
    label: Mapped[str] = mapped_column(String(300))
    score_maximum: Mapped[float] = mapped_column(Float)
    resource_id: Mapped[str] = mapped_column(String(255), default="")
    tag: Mapped[str] = mapped_column(String(255), default="")
    link_id: Mapped[int | None] = mapped_column(ForeignKey("sandbox_links.id"), default=None)
    start_date_time: Mapped[str | None] = mapped_column(String(40), default=None)
    end_date_time: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SandboxResult(Base):
    """One student's grade in one column: posted by the tool, or typed by the teacher."""

    __tablename__ = "sandbox_results"
    __table_args__ = (UniqueConstraint("line_item_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_item_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_line_items.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("sandbox_users.id"))
    score_given: Mapped[float | None] = mapped_column(Float, default=None)
    score_maximum: Mapped[float | None] = mapped_column(Float, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    activity_progress: Mapped[str] = mapped_column(String(40), default="Completed")
    grading_progress: Mapped[str] = mapped_column(String(40), default="FullyGraded")
    # The score's own timestamp, as the tool sent it (or the time the teacher typed it).
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    # How many scores were accepted for this cell: tests count double posts with it.
    posts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SandboxFaults(Base):
    """The fault switch of one sandbox platform's service endpoints (reliability tests)."""

    __tablename__ = "sandbox_faults"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("sandbox_platforms.id"), unique=True)
    # Share of service calls (0..1) that fail, spread over `kinds`.
    error_rate: Mapped[float] = mapped_column(Float, default=0.0)
    # Any of "500", "503", "429", "drop" (connection closed without an answer).
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    retry_after: Mapped[int] = mapped_column(Integer, default=1)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
