"""What the teacher's last "Sync now" came to, kept where any process sees it: the sync runs as
a job (perhaps in a worker process), and the class page shows its outcome when it is there."""

from __future__ import annotations

from typing import Any

from lti_tool.store import SharedStore

#: How long an outcome stays on the class page.
KEEP_SECONDS = 15 * 60
RUNNING = (
    "Sync started: the roster and grades are being read from the LMS. Reload this page in a "
    "moment to see what came in."
)


def _key(context_id: int) -> str:
    return f"sync-now:{context_id}"


def started(store: SharedStore, context_id: int) -> None:
    store.put(_key(context_id), {"notice": RUNNING}, KEEP_SECONDS)


def record(store: SharedStore, context_id: int, *, notice: str = "", problem: str = "") -> None:
    store.put(_key(context_id), {"notice": notice, "problem": problem}, KEEP_SECONDS)


def last(store: SharedStore, context_id: int) -> dict[str, Any]:
    """{"notice": ..., "problem": ...} of the last sync (empty strings: none lately)."""
    found = store.get(_key(context_id)) or {}
    return {"notice": found.get("notice", ""), "problem": found.get("problem", "")}
