"""Platform text as the database can keep it: no NUL characters, no longer than its column.

PostgreSQL refuses NULs in text and text longer than a column; SQLite takes both. Display
text (names, titles) is kept, trimmed; values that would be wrong if trimmed (an email, a
service URL) are dropped; ids cannot be trimmed at all (two people would become one), so the
launch refuses them (`lti/launch.py`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

ELLIPSIS = "…"


_LIMITS: dict[tuple[type, str], int] = {}


def limit_of(column: InstrumentedAttribute[Any]) -> int:
    """The length a String column keeps (read once: a launch asks fourteen times)."""
    key = (column.class_, column.key)
    limit = _LIMITS.get(key)
    if limit is None:
        length = column.property.columns[0].type.length
        assert length is not None
        limit = _LIMITS[key] = int(length)
    return limit


def display_text(value: object, limit: int) -> str:
    """A name or title: NULs removed, trimmed to the column with an ellipsis."""
    text = "" if value is None else str(value).replace("\x00", "")
    if len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS
    return text


def whole_or_empty(value: object, limit: int) -> str:
    """An email: NULs removed; one too long for the column is wrong when trimmed, so empty."""
    text = "" if value is None else str(value).replace("\x00", "")
    return text if len(text) <= limit else ""


def url_or_none(value: object, limit: int) -> str | None:
    """A service URL the tool can keep and call, or None."""
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > limit:
        return None
    return value


def id_problem(value: object, limit: int) -> str | None:
    """Why an id cannot be kept as it is (None: it can)."""
    text = str(value)
    if "\x00" in text:
        return "contains a NUL character"
    if len(text) > limit:
        return f"is {len(text)} characters long (at most {limit})"
    return None
