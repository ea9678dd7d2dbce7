"""The sandbox platform's own tables: its platforms, keys, registered tools and demo courses,
and each course's own content (Moodle activities with grade conditions, Canvas modules).

They live beside the tool's tables (one migration history) but the tool never reads them:
tool and sandbox talk only over HTTP, as a tool and a real LMS would.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
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
    # active | pending (Moodle: a dynamically registered tool waits for the admin's activation).
    state: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    # How it came: "manual" (seeded, as an admin types it in) or "dynamic" (Dynamic Registration).
    registered_by: Mapped[str] = mapped_column(
        String(20), default="manual", server_default="manual"
    )
    # The tool's registration request as it was posted (dynamic registrations).
    registration: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    # Tool-level custom parameters, sent in every launch (variables substituted).
    custom: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))


class SandboxCourse(Base):
    __tablename__ = "sandbox_courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("sandbox_platforms.id"), index=True)
    lti_context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(100))
    # The context ids this course was copied from, most recent first ($Context.id.history).
    history: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))


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
    # Canvas' manual post policy: grades count for students only once the teacher posts them.
    post_manually: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    # When the teacher posted the column's grades (matters only under a manual post policy).
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


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


# -- the course's own content (native gating; rules in native.py) -----------------------------


class SandboxActivity(Base):
    """A Moodle-shape course's own activity, a Page or a Quiz, which grade conditions restrict."""

    __tablename__ = "sandbox_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("sandbox_courses.id"), index=True)
    # page | quiz
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class SandboxGradeCondition(Base):
    """Moodle's "Restrict access → Grade" on an activity: a grade item, limits in percent
    (minimum inclusive, maximum exclusive) and the eye ("hidden entirely if not met")."""

    __tablename__ = "sandbox_grade_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_activities.id", ondelete="CASCADE"), index=True
    )
    # None with no `waiting_resource_id`: the grade item was deleted, "(missing activity)".
    line_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("sandbox_line_items.id", ondelete="SET NULL"), default=None
    )
    # A column the tool has not made yet: the first line item of the course with this
    # resourceId (or, ending in ":", starting with it) becomes the grade item.
    waiting_resource_id: Mapped[str] = mapped_column(String(255), default="")
    min_percent: Mapped[float | None] = mapped_column(Float, default=None)
    max_percent: Mapped[float | None] = mapped_column(Float, default=None)
    shown: Mapped[bool] = mapped_column(Boolean, default=True)


class SandboxModule(Base):
    """A Canvas-shape course's module: ordered, with earlier modules as prerequisites."""

    __tablename__ = "sandbox_modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("sandbox_courses.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Canvas keeps them serialized on the module, too.
    prerequisite_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class SandboxModuleItem(Base):
    """An item of a Canvas module: a native Page, Quiz or Assignment, or an assignment that is
    a gradebook column (kind "column"), which may carry "score at least N"."""

    __tablename__ = "sandbox_module_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_modules.id", ondelete="CASCADE"), index=True
    )
    # page | quiz | assignment | column
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # For a column: its line item (None once deleted, unless still waiting, as above).
    line_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("sandbox_line_items.id", ondelete="SET NULL"), default=None
    )
    waiting_resource_id: Mapped[str] = mapped_column(String(255), default="")
    # The completion requirement "score at least N" (points), or None.
    min_score: Mapped[float | None] = mapped_column(Float, default=None)


class SandboxProgression(Base):
    """A module Canvas has unlocked for a student: it stays unlocked until a teacher's change
    to its requirements or prerequisites relocks it."""

    __tablename__ = "sandbox_module_progressions"
    __table_args__ = (UniqueConstraint("module_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(
        ForeignKey("sandbox_modules.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("sandbox_users.id"))
    unlocked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
