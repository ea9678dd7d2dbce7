"""Rows of the database-backed shared store (used when no Redis is configured)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base


class StoreEntry(Base):
    __tablename__ = "store_entries"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # Unix seconds; expired rows are invisible and swept now and then.
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
