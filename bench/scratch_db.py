"""A throwaway PostgreSQL database for a benchmark run (None when no server answers)."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text

# The same server as the tests'; each run makes its own database and drops only that one.
PG_ADMIN = os.environ.get(
    "LTI_TOOL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def create() -> tuple[str, str] | None:
    """(SQLAlchemy URL, database name) of a new empty database, or None."""
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"lti_tool_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        print(f"PostgreSQL not reachable ({type(exc).__name__}).")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def drop(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
