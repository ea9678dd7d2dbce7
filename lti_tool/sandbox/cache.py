"""Per-process caches of sandbox rows only an admin changes, emptied by any change this
process writes through the ORM (platforms, courses, tools, fault switches)."""

from __future__ import annotations

import time
import weakref
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from lti_tool.sandbox.models import SandboxCourse, SandboxFaults, SandboxPlatform, SandboxTool

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A per-process map whose entries are trusted for `ttl` seconds: what the sandbox keeps
    of rows that only an admin changes, so that each gunicorn worker sees a change within
    `ttl` without asking the database on every call. A change this process commits through
    the ORM empties every cache at once (see `_changed`). Only found rows are kept (a miss
    asks again)."""

    _all: weakref.WeakSet[TTLCache[Any, Any]] = weakref.WeakSet()

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[K, tuple[V, float]] = {}
        TTLCache._all.add(self)

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[1] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return hit[0]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (value, time.monotonic() + self.ttl)

    def clear(self) -> None:
        self._entries.clear()

    @classmethod
    def clear_all(cls, *_args: Any) -> None:
        for cache in list(cls._all):
            cache.clear()


def _changed(_mapper: Any, _connection: Any, target: Any) -> None:
    """A cached kind of row was written in this process: forget every cached row now, and
    again when the change is committed (a call in between may have read the old row)."""
    TTLCache.clear_all()
    session = object_session(target)
    if session is not None and not session.info.get("sandbox_caches_stale"):
        session.info["sandbox_caches_stale"] = True
        event.listen(session, "after_commit", _committed, once=True)


def _committed(session: Session) -> None:
    session.info.pop("sandbox_caches_stale", None)
    TTLCache.clear_all()


for _model in (SandboxPlatform, SandboxCourse, SandboxTool, SandboxFaults):
    for _event in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _event, _changed)
