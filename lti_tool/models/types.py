"""Column types and columns shared by the models."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def url_hash(url: str) -> str:
    """Long URLs (Moodle's line items) are indexed by this, not by themselves."""
    return hashlib.sha256(url.encode()).hexdigest()


def context_column() -> Mapped[int]:
    """The course a row belongs to: deleting the course deletes the row."""
    return mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"), index=True)


def course_of_parent_column() -> Mapped[int]:
    """The course of a row whose competency or module already cascades from it: no foreign
    key, which PostgreSQL checked once per inserted state for nothing (decision #50)."""
    return mapped_column(Integer, index=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite hands back naive datetimes otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
