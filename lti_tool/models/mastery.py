"""A course's mastery setup and what the loop computes from it: scales, competencies, the
course's gradebook columns, alignments, evidence, mastery and unlock states, overrides,
goals and the audit log. Every row hangs off a Context (registration + deployment + course).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base
from lti_tool.mastery.scales import DEFAULT_SCALE
from lti_tool.models.types import UTCDateTime, context_column, course_of_parent_column, utcnow

#: The engine's default scale as a scale row stores its levels (whole points stay whole).
DEFAULT_LEVELS: list[dict[str, Any]] = [
    {"name": lv.name, "points": int(lv.points), "color": lv.colour, "mastery": lv.mastery}
    for lv in DEFAULT_SCALE.levels
]
DEFAULT_METHOD: dict[str, Any] = {"method": "decaying_average", "w": 0.65}


class Scale(Base):
    __tablename__ = "scales"

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    name: Mapped[str] = mapped_column(String(200))
    # [{"name", "points", "color", "mastery"}], highest first, exactly one mastery level.
    levels: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The ids this scale had in the courses it was copied from, newest first.
    copied_from_ids: Mapped[list[int]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )


class Competency(Base):
    __tablename__ = "competencies"
    __table_args__ = (UniqueConstraint("context_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    code: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("competencies.id", ondelete="SET NULL"), default=None
    )
    scale_id: Mapped[int | None] = mapped_column(
        ForeignKey("scales.id", ondelete="SET NULL"), default=None
    )
    # The engine's calculation method as JSON, e.g. {"method": "decaying_average", "w": 0.65}.
    method: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: dict(DEFAULT_METHOD))
    min_evidence: Mapped[int] = mapped_column(Integer, default=1)
    # "graded" or "submitted": which time orders the evidence.
    order_by: Mapped[str] = mapped_column(String(20), default="graded")
    # Roll-up of a parent from its children: {"kind": "average" | "minimum" | "weighted", ...}.
    rollup: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The competency's column in the LMS gradebook (created on first need) and the label it
    # was last given there, so a renamed competency renames its column.
    passback_lineitem_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    passback_label: Mapped[str | None] = mapped_column(String(400), default=None)
    # The resourceId its LMS column carries when that is not `competency:<id>`: a copied
    # course's column, copied by the LMS with the old id (grading/columns.py adopts it).
    column_resource_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # The ids this competency had in the courses it was copied from, newest first.
    copied_from_ids: Mapped[list[int]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CourseLineItem(Base):
    """A gradebook column of the course as AGS lists it: evidence comes from its results."""

    __tablename__ = "course_line_items"
    __table_args__ = (UniqueConstraint("context_id", "url_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    url: Mapped[str] = mapped_column(String(1000))
    url_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(400), default="")
    score_maximum: Mapped[float] = mapped_column(Float, default=100.0)
    resource_id: Mapped[str] = mapped_column(String(255), default="")
    tag: Mapped[str] = mapped_column(String(255), default="")
    # When the results were last read (None: never).
    results_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Set when the LMS no longer lists it; its evidence is withdrawn.
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Alignment(Base):
    """A module or a gradebook column counts as evidence for a competency."""

    __tablename__ = "alignments"
    __table_args__ = (
        CheckConstraint("(module_id IS NULL) != (line_item_id IS NULL)", name="one_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    competency_id: Mapped[int] = mapped_column(ForeignKey("competencies.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(
        ForeignKey("modules.id", ondelete="CASCADE"), default=None
    )
    line_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_line_items.id", ondelete="CASCADE"), default=None
    )
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class Evidence(Base):
    """One observed score of a student on a competency, kept once per source and key.

    A regraded result replaces its earlier value (same key); a deleted one is withdrawn.
    """

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("competency_id", "user_id", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    competency_id: Mapped[int] = mapped_column(ForeignKey("competencies.id", ondelete="CASCADE"))
    # "ags" (a result of a gradebook column) or "rating" (a teacher's rating in the tool).
    source: Mapped[str] = mapped_column(String(20))
    source_key: Mapped[str] = mapped_column(String(255))
    line_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_line_items.id", ondelete="SET NULL"), default=None
    )
    result_id: Mapped[str | None] = mapped_column(String(1000), default=None)
    # What was observed, never converted: a result's points and its maximum, or a rating's
    # points and the top of the scale it was given on. The engine puts it on the
    # competency's scale when it evaluates, so a scale changed later reads it correctly.
    raw_score: Mapped[float] = mapped_column(Float)
    raw_maximum: Mapped[float] = mapped_column(Float)
    graded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MasteryState(Base):
    __tablename__ = "mastery_states"
    __table_args__ = (UniqueConstraint("competency_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = course_of_parent_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    competency_id: Mapped[int] = mapped_column(ForeignKey("competencies.id", ondelete="CASCADE"))
    score: Mapped[float | None] = mapped_column(Float, default=None)
    level: Mapped[str | None] = mapped_column(String(100), default=None)
    mastered: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UnlockState(Base):
    __tablename__ = "unlock_states"
    __table_args__ = (UniqueConstraint("module_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = course_of_parent_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    # locked | unlocked | completed | mastered | exempt
    status: Mapped[str] = mapped_column(String(20))
    # A sticky rule held once: the module stays unlocked.
    sticky_unlocked: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Override(Base):
    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    # unlock | lock | exempt
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Goal(Base):
    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    competency_id: Mapped[int | None] = mapped_column(
        ForeignKey("competencies.id", ondelete="CASCADE"), default=None
    )
    level: Mapped[str | None] = mapped_column(String(100), default=None)
    module_id: Mapped[int | None] = mapped_column(
        ForeignKey("modules.id", ondelete="CASCADE"), default=None
    )
    due: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    set_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class AuditEntry(Base):
    """Every change of mastery or unlock, every override and posted score, with its cause."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    # no index: nothing reads the log by time alone (decision #51)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # mastery | unlock | override | score_posted | score_failed | evidence
    kind: Mapped[str] = mapped_column(String(30))
    # The student it is about, and who did it (None: the tool itself).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None, index=True
    )
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
