"""Shared fixtures: databases built by the migrations (SQLite and PostgreSQL), the app with
the sandbox platform on, and a live server on 127.0.0.1 for real HTTP between them."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Table, create_engine, insert, select, text
from sqlalchemy.engine import Connection, Engine
from werkzeug.serving import make_server

import lti_tool.sandbox.models  # noqa: F401  (their tables are wiped between tests too)
from lti_tool import migrate
from lti_tool.app import create_app
from lti_tool.db import Base, make_engine
from lti_tool.settings import load_settings
from tests.redis_space import TEST_REDIS_URL, RedisSpace, open_space, remove_space

IN_CI = os.environ.get("CI") == "true"
PG_ADMIN_URL = os.environ.get(
    "LTI_TOOL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Each session creates its own databases, named with this prefix and a random part, and
# drops only those.
PG_DB_PREFIX = os.environ.get("LTI_TOOL_TEST_PG_PREFIX", "lti_tool_test_")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Tests run in one worker process per CPU (pytest-xdist, a dev dependency): most of a
    test is waiting on HTTP and the database. `-n 0` runs them in this process; without
    pytest-xdist installed they run here as before."""
    if getattr(config.option, "numprocesses", 0) is None and not hasattr(config, "workerinput"):
        config.option.numprocesses = "auto"


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return str(exc).splitlines()[0]


@contextmanager
def _scratch_postgres() -> Iterator[str]:
    """A PostgreSQL database of this run's own (named from LTI_TOOL_TEST_PG_PREFIX), dropped
    after; skipped with the reason where there is no server, a failure under CI."""
    problem = _postgres_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}")
    name = f"{PG_DB_PREFIX}{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per backend and test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
        return
    with _scratch_postgres() as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database of its own with no schema yet (removed after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migration.db'}"
        return
    with _scratch_postgres() as url:
        yield url


@pytest.fixture
def migrated_engine(empty_url: str) -> Iterator[Engine]:
    """An engine on a database of its own at the newest schema (both databases)."""
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_space() -> Iterator[RedisSpace]:
    """Redis for one test (LTI_TOOL_TEST_REDIS_URL) under a prefix of its own, removed after."""
    import redis

    try:
        space = open_space()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required under CI=true: {exc}")
        pytest.skip(f"Redis not reachable at {TEST_REDIS_URL}: {exc}")
    yield space
    remove_space(space)


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        _wipe_in(conn)


def _wipe_in(conn: Connection) -> None:
    """Every table emptied and its ids starting at 1 again. On PostgreSQL the DELETEs and the
    sequence resets go as one batch: TRUNCATE of every table took 0.1 s on an idle machine and
    over a second on a busy one, the batch a few milliseconds."""
    tables = list(reversed(Base.metadata.sorted_tables))
    if conn.dialect.name != "postgresql":
        for t in tables:
            conn.execute(text(f'DELETE FROM "{t.name}"'))
        return
    batch = [f'DELETE FROM "{t.name}"' for t in tables]
    batch.append("SELECT " + ", ".join(_setval(t, 1, False) for t in _with_sequence(tables)))
    conn.exec_driver_sql(";\n".join(batch))


def _with_sequence(tables: list[Table]) -> list[Table]:
    return [t for t in tables if t.autoincrement_column is not None]


def _setval(table: Table, value: int, is_called: bool = True) -> str:
    column = table.autoincrement_column
    assert column is not None
    sequence = f"pg_get_serial_sequence('\"{table.name}\"', '{column.name}')"
    return f"setval({sequence}, {value}, {str(is_called).lower()})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """Serve a WSGI app on 127.0.0.1 in a thread while the block runs. It looks for the stop
    every 10 ms: serve_forever's default of half a second, paid once per test, cost minutes."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


class AppSwitch:
    """A WSGI app handing each request to the app plugged in now: one server (so one port,
    which the demo rows name) serves a whole session, each test's own app in turn."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no test is running"]
        return self.app(environ, start_response)


@dataclass
class LiveServer:
    app: Flask
    port: int
    tool_url: str
    platform_url: str

    @property
    def rt(self) -> Any:
        return self.app.extensions["lti_tool"]


def make_app(database_url: str, port: int, **overrides: Any) -> Flask:
    settings = load_settings(
        environ={},
        overrides={
            "environment": "test",
            "sandbox_enabled": True,
            "base_url": f"http://127.0.0.1:{port}",
            "sandbox_base_url": f"http://localhost:{port}",
            "jwks_refetch_min_interval_seconds": 0,
            # no background roster syncs unless a test asks for them
            "roster_max_age_seconds": 0,
            "log_level": "WARNING",
            # every test launches from 127.0.0.1: limits on, but out of reach unless a test
            # sets its own
            "rate_limit_login": "100000/minute",
            "rate_limit_launch": "100000/minute",
            "database_url": database_url,
            **overrides,
        },
    )
    return create_app(settings)


@dataclass
class _Snapshot:
    heads: set[str]
    taken: datetime
    rows: list[tuple[Table, list[dict[str, Any]]]]


# The rows `prepare` and `seed_demo` wrote, per database and settings (both shape them).
_SNAPSHOTS: dict[tuple[str, str, str], _Snapshot] = {}


def _heads(conn: Connection) -> set[str]:
    return set(conn.scalars(text("SELECT version_num FROM alembic_version")))


def lay_demo(app: Flask) -> None:
    """Empty every table, then prepare the tool and seed the demo world as `lti-tool demo`
    does. The first time for a database and settings that runs `prepare` and `seed_demo`;
    later it writes back the rows they wrote, dates moved to now, in one transaction (making
    RSA keys and flushing ORM objects were most of a test's setup)."""
    from lti_tool.cli import prepare
    from lti_tool.sandbox.seed import seed_demo

    rt = app.extensions["lti_tool"]
    key = (rt.settings.database_url, repr(rt.settings), rt.settings.key_encryption_key)
    snapshot = _SNAPSHOTS.get(key)
    if snapshot is not None:
        with rt.engine.begin() as conn:
            if _heads(conn) == snapshot.heads:
                _wipe_in(conn)
                _restore(conn, snapshot)
                return
    _wipe(rt.engine)
    prepare(rt)
    with rt.session_factory() as session:
        seed_demo(session, rt.settings)
        session.commit()
    with rt.engine.connect() as conn:
        _SNAPSHOTS[key] = _Snapshot(
            heads=_heads(conn),
            taken=datetime.now(UTC),
            rows=[
                (table, [dict(row) for row in conn.execute(select(table)).mappings()])
                for table in Base.metadata.sorted_tables
            ],
        )


def _restore(conn: Connection, snapshot: _Snapshot) -> None:
    shift = datetime.now(UTC) - snapshot.taken
    filled = []
    for table, rows in snapshot.rows:
        if rows:
            conn.execute(
                insert(table),
                [
                    {k: v + shift if isinstance(v, datetime) else v for k, v in r.items()}
                    for r in rows
                ],
            )
            filled.append((table, rows))
    counters = [
        _setval(table, max(r[table.autoincrement_column.name] for r in rows))
        for table, rows in filled
        if table.autoincrement_column is not None
    ]
    if conn.dialect.name == "postgresql" and counters:
        # the rows came with their ids: each sequence goes on after them, as it did
        conn.exec_driver_sql("SELECT " + ", ".join(counters))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Tests override settings by overriding this fixture or parametrizing it."""
    return {}


@pytest.fixture(scope="session")
def app_switch() -> Iterator[tuple[AppSwitch, int]]:
    """The session's one server on 127.0.0.1, and its port."""
    switch = AppSwitch()
    port = free_port()
    with serving(switch, port):
        yield switch, port


@pytest.fixture
def live_server(
    database_url: str, settings_overrides: dict[str, Any], app_switch: tuple[AppSwitch, int]
) -> Iterator[LiveServer]:
    """The tool with the sandbox platform and the demo world, this test's own app, over HTTP."""
    switch, port = app_switch
    app = make_app(database_url, port, **settings_overrides)
    lay_demo(app)
    switch.app = app
    try:
        yield LiveServer(app, port, f"http://127.0.0.1:{port}", f"http://localhost:{port}")
    finally:
        jobs = app.extensions["lti_tool"].jobs
        if hasattr(jobs, "shutdown"):
            # A page's follow-up job (a drain) finishes while the sandbox still answers and
            # before the database goes; later retries are cancelled, not run against nothing.
            jobs.wait()
            jobs.shutdown()
        switch.app = None
        app.extensions["lti_tool"].engine.dispose()
