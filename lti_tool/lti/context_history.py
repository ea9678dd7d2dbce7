"""`$Context.id.history` as the tool asks for it (custom `context_history`): the earlier
context ids of a copied course, most recent first (LTI 1.3 core appendix B).

A platform that does not know the variable sends it back literally; Canvas may end a long
list with `truncated` or answer `timed out`. None of those is a course id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

#: The custom parameter the tool asks for, and the variable it is set to.
PARAM = "context_history"
VARIABLE = "$Context.id.history"
# Canvas' markers at the end of a list, and what a timed-out expansion reads.
NOT_IDS = frozenset({"truncated", "timed out"})
# Ids kept of one list: enough for years of copies, never a flood into the database.
MOST = 50
LONGEST_ID = 255


def earlier_context_ids(custom: Mapping[str, Any]) -> list[str]:
    """The course ids the history names, newest first; [] for none or an unexpanded variable."""
    raw = custom.get(PARAM)
    if not isinstance(raw, str) or raw.strip().startswith("$"):
        return []
    ids: list[str] = []
    for part in raw.split(","):
        value = unquote(part).strip()
        if (
            not value
            or value.lower() in NOT_IDS
            or len(value) > LONGEST_ID
            or "\x00" in value
            or value in ids
        ):
            continue
        ids.append(value)
        if len(ids) == MOST:
            break
    return ids
