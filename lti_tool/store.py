"""The shared store: short-lived values (login state, launch data, cached JWKS, tokens) that
every web process must see, in the database by default or in Redis when configured.

`take` is atomic: of two processes taking one key, exactly one gets the value. That is what
makes a login state, and with it the nonce, single-use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lti_tool.models.store import StoreEntry

Clock = Callable[[], float]


class SharedStore(Protocol):
    def put(self, key: str, value: Any, ttl: int) -> None: ...

    def get(self, key: str) -> Any | None: ...

    def take(self, key: str) -> Any | None:
        """Return the value and delete it, atomically; None when absent or expired."""
        ...

    def delete(self, key: str) -> None: ...


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


def _upsert_statement(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(StoreEntry).values(
        key=bindparam("key"), value=bindparam("value"), expires_at=bindparam("expires")
    )
    return stmt.on_conflict_do_update(
        index_elements=[StoreEntry.key],
        set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
    )


_PUT = {name: _upsert_statement(name) for name in ("postgresql", "sqlite")}


def _add_statement(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(StoreEntry).values(
        key=bindparam("key"), value=bindparam("value"), expires_at=bindparam("expires")
    )
    # An expired entry may be taken over; a live one may not.
    return stmt.on_conflict_do_update(
        index_elements=[StoreEntry.key],
        set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
        where=StoreEntry.expires_at <= bindparam("now"),
    ).returning(StoreEntry.key)


_ADD = {name: _add_statement(name) for name in ("postgresql", "sqlite")}


class DatabaseStore:
    """Uses the request's session, so a put commits with the rest of the request."""

    def __init__(self, session: Session, clock: Clock = time.time) -> None:
        self._session = session
        self._clock = clock

    def put(self, key: str, value: Any, ttl: int) -> None:
        conn = self._session.connection()
        conn.execute(
            _PUT[conn.dialect.name],
            {
                "key": key,
                "value": json.dumps(value, separators=(",", ":")),
                "expires": int(self._clock()) + ttl,
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
        conn = self._session.connection()
        now = int(self._clock())
        row = conn.execute(
            _ADD[conn.dialect.name],
            {
                "key": key,
                "value": json.dumps(value, separators=(",", ":")),
                "expires": now + ttl,
                "now": now,
            },
        ).first()
        return row is not None

    def sweep(self) -> int:
        """Delete expired rows; run from the CLI or a scheduled job."""
        result = self._session.execute(
            delete(StoreEntry).where(StoreEntry.expires_at <= int(self._clock()))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
