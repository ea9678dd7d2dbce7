"""Shared fixtures: databases built by the migrations (SQLite and PostgreSQL), the app with
the sandbox platform on, and a live server on 127.0.0.1 for real HTTP between them."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
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


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return str(exc).splitlines()[0]


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
    problem = _postgres_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}")
    name = f"{PG_DB_PREFIX}{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database of its own with no schema yet (removed after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migration.db'}"
        return
    problem = _postgres_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"{PG_DB_PREFIX}{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Tests override settings by overriding this fixture or parametrizing it."""
    return {}


@pytest.fixture
def live_server(database_url: str, settings_overrides: dict[str, Any]) -> Iterator[LiveServer]:
    from lti_tool.cli import prepare
    from lti_tool.sandbox.seed import seed_demo

    port = free_port()
    app = make_app(database_url, port, **settings_overrides)
    engine = app.extensions["lti_tool"].engine
    _wipe(engine)
    rt = app.extensions["lti_tool"]
    prepare(rt)
    with rt.session_factory() as session:
        seed_demo(session, rt.settings)
        session.commit()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, port, f"http://127.0.0.1:{port}", f"http://localhost:{port}")
    finally:
        jobs = app.extensions["lti_tool"].jobs
        if hasattr(jobs, "shutdown"):
            # A page's follow-up job (a drain) finishes while the sandbox still answers and
            # before the database goes; later retries are cancelled, not run against nothing.
            jobs.wait()
            jobs.shutdown()
        server.shutdown()
        thread.join(5)
        engine.dispose()
