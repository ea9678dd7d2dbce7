"""Modules of a course: what students open and teachers place into the LMS, each with the
rule that unlocks it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base
from lti_tool.models.types import UTCDateTime, context_column, utcnow


class Module(Base):
    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = context_column()
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    # What students read once it is open: Markdown (services/module_content.py renders it).
    content: Mapped[str] = mapped_column(Text, default="", server_default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the module is graded: its LMS column gets this maximum.
    score_maximum: Mapped[float | None] = mapped_column(Float, default=None)
    # The unlock rule as the engine's JSON (None: always unlocked), and whether it is sticky.
    unlock_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    sticky: Mapped[bool] = mapped_column(Boolean, default=False)
    # A choice module: completed when any one of these modules (ids) is.
    choice_of: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The module's own gradebook column (placed graded modules) and what completes it.
    lineitem_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    complete_at_percent: Mapped[float | None] = mapped_column(Float, default=None)
    # "Gate my LMS content with this": the tool keeps an "Unlocked: <title>" column (0 or 1
    # per student) that the LMS's own restrictions can use (grading/columns.py).
    gates_lms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unlock_lineitem_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    unlock_label: Mapped[str | None] = mapped_column(String(300), default=None)
    # What the LMS opens with it ("Quiz 3" and its address), told to students once it is open.
    lms_target_title: Mapped[str] = mapped_column(String(300), default="", server_default="")
    lms_target_url: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    # As Competency's: the resourceId of a copied unlock column, and the ids this module had in
    # the courses it was copied from, newest first (a copied link's custom module_id names one).
    column_resource_id: Mapped[str | None] = mapped_column(String(255), default=None)
    copied_from_ids: Mapped[list[int]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
