"""What the tool posts to LMS gradebooks: the score outbox, and the last timestamp per column
and person, so a score's timestamp never goes backwards (Canvas answers 400, Moodle 409)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base
from lti_tool.models.types import UTCDateTime, context_column, course_of_parent_column, utcnow


class ScoreStamp(Base):
    __tablename__ = "score_stamps"
    __table_args__ = (UniqueConstraint("user_id", "lineitem_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # sha256 of the line item URL (URLs can be long; the index stays small).
    lineitem_hash: Mapped[str] = mapped_column(String(64))
    lineitem_url: Mapped[str] = mapped_column(String(1000))
    last_timestamp: Mapped[datetime] = mapped_column(UTCDateTime())


class ScoreOutbox(Base):
    """The score each student should have in one of the tool's LMS gradebook columns: one
    row per student and competency (the competency score), or per student and gated module
    (its unlock column: 1 open, 0 locked), written in the same transaction as the change.

    The latest value wins: a newer value bumps `version`, and a worker marks the row posted
    only if the version it posted is still the row's version. A claimed row carries a lease
    (`claimed_until`), so a worker killed mid-post leaves the row to be claimed again.
    """

    __tablename__ = "score_outbox"
    __table_args__ = (
        UniqueConstraint("competency_id", "user_id"),
        UniqueConstraint("module_id", "user_id"),
        CheckConstraint("(competency_id IS NULL) <> (module_id IS NULL)", name="one_column_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = course_of_parent_column()
    # indexed: a student's page reads their own rows of a course with thousands
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Exactly one of the two: whose column the score goes to.
    competency_id: Mapped[int | None] = mapped_column(
        ForeignKey("competencies.id", ondelete="CASCADE"), default=None
    )
    module_id: Mapped[int | None] = mapped_column(
        ForeignKey("modules.id", ondelete="CASCADE"), default=None
    )
    score_given: Mapped[float] = mapped_column(Float)
    score_maximum: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)
    posted_version: Mapped[int] = mapped_column(Integer, default=0)
    # pending | posted | failed (final: shown to the teacher with the reason and a retry)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GradeProblem(Base):
    """A result read from an aligned gradebook column that the tool skipped or capped, with
    why: shown to the teacher, and replaced on each read of that column, so a grade fixed in
    the LMS leaves the list at the next sync."""

    __tablename__ = "grade_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    line_item_id: Mapped[int] = mapped_column(
        ForeignKey("course_line_items.id", ondelete="CASCADE"), index=True
    )
    # None when the LMS names someone the tool does not know (`user_ref` keeps the LMS id).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    user_ref: Mapped[str] = mapped_column(String(255), default="")
    # skipped (not counted) | capped (counted at the maximum)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
