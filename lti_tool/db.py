"""Engine, declarative base and the one session per request.

Services take a session and never commit; the request (after_request) or the CLI command
owns the transaction, so a refused launch writes nothing it did not mean to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def default_database_url() -> str:
    path = Path.cwd() / "instance" / "lti_tool.db"
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer (and makes each upsert ~3x cheaper);
    # busy_timeout makes a second process wait for the lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """Up to `pool_size` connections kept open, twice as many more opened when busy."""
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        sizes = {} if ":memory:" in url else {"pool_size": pool_size, "max_overflow": 2 * pool_size}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **sizes)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per request (a third of a launch's). Connections
    # are recycled well before managed databases drop idle ones, and a dropped one fails
    # one request, which the platform's user retries.
    return create_engine(url, pool_recycle=300, pool_size=pool_size, max_overflow=2 * pool_size)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def upserts(
    model: Any,
    values: Mapping[str, Any],
    conflict: Sequence[Any],
    update: Callable[[Any], Mapping[str, Any]],
    where: Any = None,
    returning: Sequence[Any] = (),
) -> dict[str, Any]:
    """INSERT … ON CONFLICT DO UPDATE for each dialect the tool runs on, keyed by dialect name:
    the two dialects spell it alike but need their own `insert`. `update` gets the `excluded`
    row and gives the columns to set."""
    statements = {}
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert)):
        stmt = insert(model).values(**values)
        upsert = stmt.on_conflict_do_update(
            index_elements=conflict, set_=update(stmt.excluded), where=where
        )
        statements[name] = upsert.returning(*returning) if returning else upsert
    return statements
