"""What a launch writes, counted statement by statement (decisions #5): a repeat launch writes
only its spent login state, a changed one writes in one round trip, and the rate limit counts only
the login and the launch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import event, select

from lti_tool.models.course import Membership, User
from lti_tool.services.launches import record_launch
from lti_tool.web import lti as lti_views
from tests.integration.test_abuse import a_registration, bogus_login
from tests.integration.test_launch_refusals import Forger

pytestmark = pytest.mark.postgres

# A write, alone or in a WITH of a SELECT (PostgreSQL's chained upserts).
WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I)
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"


@contextmanager
def statements(rt) -> Iterator[list[str]]:
    """Every SQL statement the tool's engine sends meanwhile."""
    seen: list[str] = []

    def record(conn, cursor, sql: str, *args) -> None:
        seen.append(sql)

    event.listen(rt.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(rt.engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    return [sql for sql in seen if WRITE.search(sql) or "SAVEPOINT" in sql.upper()]


def test_an_unchanged_repeat_launch_writes_only_its_spent_state(live_server) -> None:
    f = Forger(live_server)
    assert f.launch().status_code == 200
    with statements(f.rt) as seen:
        page = f.launch()
    assert page.status_code == 200, page.text[:600]
    assert "Your path" in page.text
    written = writes(seen)
    assert written, "the launch spends its login state"
    assert all("store_entries" in sql for sql in written), written
    assert not any("SAVEPOINT" in sql.upper() for sql in seen)


def test_an_unchanged_repeat_launch_holds_no_transaction_past_its_lookup(
    live_server, monkeypatch
) -> None:
    """The launch POST alone: the spend and the lookup in a transaction of their own, the
    request's never opened. PostgreSQL: one statement in autocommit, so no BEGIN and no COMMIT
    travel beside it. SQLite: the add and the read, committed at once, so the one write lock
    is not held while the rest of the request runs (issue 13)."""
    f = Forger(live_server)
    assert f.launch().status_code == 200
    state, nonce = f.login()
    token = f.sign(f.claims(nonce))
    seen: list[tuple[str, dict]] = []
    checkouts: list[int] = []
    steps: list[str] = []

    def record(conn, cursor, sql: str, *args) -> None:
        seen.append((sql, conn.get_execution_options()))

    def recorded(*args, **kwargs):
        steps.append("record_launch")
        return record_launch(*args, **kwargs)

    monkeypatch.setattr(lti_views, "record_launch", recorded)
    event.listen(f.rt.engine, "before_cursor_execute", record)
    event.listen(f.rt.engine, "commit", lambda conn: steps.append("commit"))
    event.listen(f.rt.engine.pool, "checkout", lambda *a: checkouts.append(1))
    try:
        resp = f.post_alone(token, state)
    finally:
        event.remove(f.rt.engine, "before_cursor_execute", record)
    assert resp.status_code == 303, resp.text[:600]
    assert len(checkouts) == 1  # the request's own transaction never took a connection
    if f.rt.engine.dialect.name == "postgresql":
        assert len(seen) == 1, [sql for sql, _ in seen]
        sql, options = seen[0]
        assert "store_entries" in sql and "memberships" in sql
        assert options.get("isolation_level") == "AUTOCOMMIT"
    else:
        statements = [sql for sql, _ in seen if not sql.lstrip().upper().startswith("DELETE")]
        assert len(statements) == 2, statements  # (a sweep at most once a second beside)
        assert "INSERT INTO store_entries" in statements[0]
        assert "memberships" in statements[1]
        assert steps == ["commit", "record_launch"], steps  # committed before the rest
    # The state was spent by then: a replay is refused.
    replay = f.post_alone(token, state)
    assert replay.status_code in (400, 401, 403), replay.status_code


def test_a_changed_role_is_written_in_one_round_trip(live_server) -> None:
    f = Forger(live_server)
    assert f.launch().status_code == 200

    def teach(claims: dict) -> None:
        claims[ROLES] = [INSTRUCTOR]

    with statements(f.rt) as seen:
        page = f.launch(teach)
    assert page.status_code == 200, page.text[:600]
    assert "Course home" in page.text  # the new role opens the teacher's page at once
    with f.rt.session_factory() as s:
        user = s.scalar(select(User).where(User.sub == f.user.lti_sub))
        membership = s.scalar(select(Membership).where(Membership.user_id == user.id))
        assert membership.role == "teacher" and membership.roles == [INSTRUCTOR]
    launch_writes = [sql for sql in writes(seen) if "store_entries" not in sql]
    assert not any("SAVEPOINT" in sql.upper() for sql in seen)
    if f.rt.engine.dialect.name == "postgresql":
        assert len(launch_writes) == 1, launch_writes  # one statement: one round trip
        assert all(t in launch_writes[0] for t in ("users", "contexts", "memberships"))
    else:  # SQLite: no round trip to save; one upsert per row, no SAVEPOINT
        assert all("ON CONFLICT" in sql for sql in launch_writes), launch_writes


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_login": "5/minute"}])
def test_other_pages_do_not_count_against_the_login_limit(live_server) -> None:
    http = requests.Session()
    for _ in range(20):
        assert http.get(f"{live_server.tool_url}/lti/config", timeout=10).status_code == 200
        assert http.get(f"{live_server.tool_url}/.well-known/jwks.json", timeout=10).ok
    reg = a_registration(live_server.rt)
    codes = [bogus_login(http, live_server, reg).status_code for _ in range(6)]
    assert codes == [302] * 5 + [429]
    refused = bogus_login(http, live_server, reg)
    assert refused.status_code == 429 and "Too many requests" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert http.get(f"{live_server.tool_url}/lti/config", timeout=10).status_code == 200
