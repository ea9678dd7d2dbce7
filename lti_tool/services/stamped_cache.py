"""Per-process caches of what a course's rows compute to, each entry good for one stamp the
database keeps (a version any process bumps): a process never serves what another changed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

S = TypeVar("S", bound=Hashable)
V = TypeVar("V")
C = TypeVar("C")


class StampedCache(Generic[S, V]):
    """Context id -> (stamp, value), the least recently used dropped past `size`.

    A lock keeps the map whole under threads; two threads missing at once both build, and
    either result is right for its stamp."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, tuple[S, V]] = OrderedDict()

    def get(self, context_id: int, stamp: S) -> V | None:
        with self._lock:
            entry = self._entries.get(context_id)
            if entry is None or entry[0] != stamp:
                return None
            self._entries.move_to_end(context_id)
            return entry[1]

    def put(self, context_id: int, stamp: S, value: V) -> None:
        with self._lock:
            self._entries[context_id] = (stamp, value)
            self._entries.move_to_end(context_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class PerDatabase(Generic[C]):
    """One cache per database (engine): context ids only mean something within one."""

    def __init__(self, make: Callable[[], C]) -> None:
        self._make = make
        self._caches: WeakKeyDictionary[Engine, C] = WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, session: Session) -> C:
        """The cache of the database the session reads."""
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        with self._lock:
            cache = self._caches.get(engine)
            if cache is None:
                cache = self._caches[engine] = self._make()
            return cache
