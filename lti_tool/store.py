"""The shared store: short-lived values (spent login states, launch data, cached JWKS, tokens)
that every web process must see, in the database by default or in Redis when configured.

`add` and `take` are atomic: of two processes adding (or taking) one key, exactly one
succeeds. `add` is what makes a login state, and with it the nonce, single-use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import upserts
from lti_tool.models.store import StoreEntry

Clock = Callable[[], float]


class SharedStore(Protocol):
    def put(self, key: str, value: Any, ttl: int) -> None: ...

    def get(self, key: str) -> Any | None: ...

    def take(self, key: str) -> Any | None:
        """Return the value and delete it, atomically; None when absent or expired."""
        ...

    def delete(self, key: str) -> None: ...

    def add(self, key: str, value: Any, ttl: int) -> bool:
        """Store the value unless a live one is there; True when this call stored it."""
        ...


StoreOpener = Callable[[], AbstractContextManager[SharedStore]]


# Built once per process: statement construction costs more than execution on SQLite.
_GET = select(StoreEntry.value).where(
    StoreEntry.key == bindparam("key"), StoreEntry.expires_at > bindparam("now")
)
_TAKE = (
    delete(StoreEntry)
    .where(StoreEntry.key == bindparam("key"))
    .returning(StoreEntry.value, StoreEntry.expires_at)
)
_DELETE = delete(StoreEntry).where(StoreEntry.key == bindparam("key"))

# Each write also deletes up to this many expired rows, oldest first: far more than one per
# write, so expired rows cannot pile up however many logins arrive (the next ordinary login
# clears a flood's), and a bound, so a write stays cheap on a table that grew before this
# sweep existed. Rows locked by another transaction are left to it.
SWEEP_ON_WRITE = 1000


def _sweep_statement(limit: int | None, *also: Any) -> Any:
    expired = (
        select(StoreEntry.key)
        .where(StoreEntry.expires_at <= bindparam("now"), *also)
        .order_by(StoreEntry.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return delete(StoreEntry).where(StoreEntry.key.in_(expired.scalar_subquery()))


_SWEEP_SOME = _sweep_statement(SWEEP_ON_WRITE)


_VALUES = {"key": bindparam("key"), "value": bindparam("value"), "expires_at": bindparam("expires")}


def _replace(excluded: Any) -> dict[str, Any]:
    return {"value": excluded.value, "expires_at": excluded.expires_at}


_PUT = upserts(StoreEntry, _VALUES, [StoreEntry.key], _replace)
# PostgreSQL sweeps and writes in one round trip (a data-modifying WITH); the key written is
# left to the upsert, since one statement must not touch a row twice.
_PUT["postgresql"] = _PUT["postgresql"].add_cte(
    _sweep_statement(SWEEP_ON_WRITE, StoreEntry.key != bindparam("key"))
    .returning(StoreEntry.key)
    .cte("swept")
)
# An expired entry may be taken over; a live one may not. Each launch adds one (its spent
# state), so an add sweeps as a put does, in the same round trip on PostgreSQL.
_ADD = upserts(
    StoreEntry,
    _VALUES,
    [StoreEntry.key],
    _replace,
    where=StoreEntry.expires_at <= bindparam("now"),
    returning=[StoreEntry.key],
)
# When this process's last add on SQLite swept (unix seconds).
_ADD_SWEPT = [-1]
_ADD["postgresql"] = _ADD["postgresql"].add_cte(
    _sweep_statement(SWEEP_ON_WRITE, StoreEntry.key != bindparam("key"))
    .returning(StoreEntry.key)
    .cte("swept")
)


def add_on(conn: Connection, params: dict[str, Any]) -> bool:
    """`DatabaseStore.add` on `conn`, with the parameters of `add_params`; False when a live
    entry holds the key."""
    dialect = conn.dialect.name
    now = params["now"]
    if dialect != "postgresql" and not _ADD_SWEPT[0] <= now < _ADD_SWEPT[0] + 1:
        # A statement of its own here: once a second per process is enough for a
        # thousand launches a second, and costs a launch nothing the rest of the time.
        conn.execute(_SWEEP_SOME, {"now": now})
        _ADD_SWEPT[0] = now
    return conn.execute(_ADD[dialect], params).first() is not None


def carrying_add(statement: Any) -> Any:
    """`statement` (a SELECT) with an `add` to the store in a WITH and, as its last column,
    whether it added: one round trip for both on PostgreSQL (`DatabaseStore.add_params`)."""
    added = _ADD["postgresql"].cte("added")
    return statement.add_cte(added).add_columns(
        select(func.count()).select_from(added).scalar_subquery()
    )


class DatabaseStore:
    """Uses the request's session, so a put commits with the rest of the request."""

    def __init__(self, session: Session, clock: Clock = time.time) -> None:
        self._session = session
        self._clock = clock

    def put(self, key: str, value: Any, ttl: int) -> None:
        conn = self._session.connection()
        now = int(self._clock())
        dialect = conn.dialect.name
        if dialect != "postgresql":
            conn.execute(_SWEEP_SOME, {"now": now})
        conn.execute(
            _PUT[dialect],
            {
                "key": key,
                "value": json.dumps(value, separators=(",", ":")),
                "expires": now + ttl,
                "now": now,
            },
        )

    def get(self, key: str) -> Any | None:
        row = (
            self._session.connection()
            .execute(_GET, {"key": key, "now": int(self._clock())})
            .scalar_one_or_none()
        )
        return None if row is None else json.loads(row)

    def take(self, key: str) -> Any | None:
        row = self._session.connection().execute(_TAKE, {"key": key}).one_or_none()
        if row is None or row.expires_at <= int(self._clock()):
            return None
        return json.loads(row.value)

    def delete(self, key: str) -> None:
        self._session.execute(_DELETE, {"key": key})

    def add(self, key: str, value: Any, ttl: int) -> bool:
        return add_on(self._session.connection(), self.add_params(key, value, ttl))

    def add_params(self, key: str, value: Any, ttl: int) -> dict[str, Any]:
        """The parameters of an add that the caller sends itself: in a statement from
        `carrying_add` (PostgreSQL: one round trip), or by `add_on` on a connection of its
        own (SQLite: a transaction of two statements, not the whole request's)."""
        now = int(self._clock())
        value = json.dumps(value, separators=(",", ":"))
        return {"key": key, "value": value, "expires": now + ttl, "now": now}

    def sweep(self, batch: int = 10_000) -> int:
        """Delete every expired row, in batches so no transaction grows huge; the worker tick
        and `lti-tool store sweep` run it. Returns how many rows went."""
        statement = _sweep_statement(batch)
        total = 0
        while True:
            result = self._session.execute(statement, {"now": int(self._clock())})
            deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
            total += deleted
            if deleted < batch:
                return total


class RedisStore:
    def __init__(self, client: Any, prefix: str = "lti_tool:") -> None:
        self._redis = client
        self._prefix = prefix

    def put(self, key: str, value: Any, ttl: int) -> None:
        self._redis.set(self._prefix + key, json.dumps(value, separators=(",", ":")), ex=ttl)

    def get(self, key: str) -> Any | None:
        raw = self._redis.get(self._prefix + key)
        return None if raw is None else json.loads(raw)

    def take(self, key: str) -> Any | None:
        raw = self._redis.getdel(self._prefix + key)
        return None if raw is None else json.loads(raw)

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def add(self, key: str, value: Any, ttl: int) -> bool:
        data = json.dumps(value, separators=(",", ":"))
        return bool(self._redis.set(self._prefix + key, data, ex=ttl, nx=True))


def store_in(redis: Any | None, prefix: str, session: Session) -> SharedStore:
    """Redis when configured, else the database in the given session's transaction."""
    if redis is not None:
        return RedisStore(redis, prefix + ":")
    return DatabaseStore(session)


def short_store_opener(
    redis: Any | None, prefix: str, session_factory: sessionmaker[Session]
) -> StoreOpener:
    """Opens a store in its own transaction, committed on exit, for caches written mid-work."""

    @contextmanager
    def short_store() -> Iterator[SharedStore]:
        if redis is not None:
            yield RedisStore(redis, prefix + ":")
            return
        with session_factory() as session:
            yield DatabaseStore(session)
            session.commit()

    return short_store
