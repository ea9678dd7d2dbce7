"""Row ids from outside (URLs, forms, LMS claims): ASCII digits within the database's integer."""

from __future__ import annotations

#: Primary keys are PostgreSQL `integer` columns; a larger number can name no row, and the
#: database (or SQLite's driver) answers it with an error instead of "not found".
MAX_ROW_ID = 2**31 - 1


def row_id(raw: object) -> int | None:
    """The id `raw` names, or None when it cannot name a row (not digits, "²", too large)."""
    text = str(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ROW_ID)):
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None
