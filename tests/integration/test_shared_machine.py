"""Tests share the machine with other runs and with developers: they take their Redis and
PostgreSQL from the environment and remove only what they made."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from tests import conftest
from tests.redis_space import open_space, remove_space

pytestmark = pytest.mark.postgres


def test_a_tests_redis_space_is_removed_and_nothing_else(database_url, redis_space) -> None:
    from lti_tool.cli import prepare
    from lti_tool.models.platform import Registration
    from tests.conftest import _wipe, free_port, make_app

    # what another run, or a developer, keeps in the same Redis database
    other = open_space(redis_space.url)
    theirs = [f"{other.prefix}:lti_state:x", f"someone:{uuid.uuid4().hex}"]
    for key in theirs:
        other.client.set(key, "keep", ex=600)

    # a test's app writes store keys, limiter counts and queued jobs under its prefix
    port = free_port()
    app = make_app(database_url, port, **redis_space.settings(), rate_limit_login="50/minute")
    rt = app.extensions["lti_tool"]
    _wipe(rt.engine)
    prepare(rt)
    with rt.session_factory() as s:
        s.add(
            Registration(
                issuer="https://lms.example",
                client_id="c1",
                auth_login_url="https://lms.example/auth",
                auth_token_url="https://lms.example/token",
                key_set_url="https://lms.example/jwks",
            )
        )
        s.commit()
    login = app.test_client().post(
        "/lti/login",
        data={
            "iss": "https://lms.example",
            "client_id": "c1",
            "login_hint": "u",
            "target_link_uri": f"http://127.0.0.1:{port}/lti/launch",
        },
    )
    assert login.status_code == 302
    rt.jobs.enqueue("drain", None)
    rt.jobs.enqueue_in(3600, "tick")
    rt.engine.dispose()
    made = [k for k in redis_space.client.scan_iter(match=f"*{redis_space.prefix}*")]
    assert any(b":limits:" in k for k in made)  # the login writes no state: a count
    job_ids = redis_space.queue().queue.get_job_ids()
    assert job_ids

    remove_space(redis_space)

    client = other.client
    assert list(client.scan_iter(match=f"*{redis_space.prefix}*")) == []
    assert not any(client.exists(f"rq:job:{job_id}") for job_id in job_ids)
    assert all(client.get(key) == b"keep" for key in theirs)
    client.delete(*theirs)
    other.client.close()


def test_postgresql_databases_come_from_the_environment(database_url) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    name = database_url.rsplit("/", 1)[1]
    assert name.startswith(conftest.PG_DB_PREFIX) and len(name) > len(conftest.PG_DB_PREFIX)
    assert database_url.rsplit("/", 1)[0] == conftest.PG_ADMIN_URL.rsplit("/", 1)[0]
    admin = create_engine(conftest.PG_ADMIN_URL)
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    admin.dispose()
