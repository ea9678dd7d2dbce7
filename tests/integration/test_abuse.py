"""Abuse without logging in: a flood of logins writes no row, expired store rows are swept,
and a client that sends too many gets a 429 page saying when to retry."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import func, select

from lti_tool.models.platform import Registration
from lti_tool.models.store import StoreEntry
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres


def store_rows(rt) -> int:
    with rt.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(StoreEntry)) or 0)


def bogus_login(http: requests.Session, server, reg: Registration) -> requests.Response:
    """What anyone can send: a registered platform's public issuer and client id."""
    return http.post(
        f"{server.tool_url}/lti/login",
        data={
            "iss": reg.issuer,
            "client_id": reg.client_id,
            "login_hint": "nobody",
            "target_link_uri": f"{server.tool_url}/lti/launch",
        },
        allow_redirects=False,
        timeout=10,
    )


def a_registration(rt) -> Registration:
    with rt.session_factory() as s:
        reg = s.scalars(select(Registration).order_by(Registration.id)).first()
        s.expunge(reg)
        return reg


def test_500_bogus_logins_write_no_row(live_server) -> None:
    """A login keeps its state in the browser (decisions #5): a flood of them leaves the
    database as it was, and a real launch still works after it."""
    rt = live_server.rt
    with rt.session_factory() as s:
        course_id, link_id = course_and_link(s, "moodle")
        teacher = people(s, "moodle")["teacher"][0]
    before = store_rows(rt)

    reg = a_registration(rt)
    http = requests.Session()
    for _ in range(500):
        assert bogus_login(http, live_server, reg).status_code == 302
    assert store_rows(rt) == before

    page = launch_as(
        Browser(), live_server.platform_url, "moodle", course_id, link_id, teacher.user_id
    )
    assert page.status_code == 200, page.text[:300]


@pytest.mark.parametrize(
    "settings_overrides", [{"rate_limit_login": "5/minute", "rate_limit_launch": "5/minute"}]
)
def test_too_many_logins_from_one_client_get_a_429_page_with_retry_after(live_server) -> None:
    reg = a_registration(live_server.rt)
    http = requests.Session()
    answers = [bogus_login(http, live_server, reg) for _ in range(6)]
    assert [a.status_code for a in answers] == [302] * 5 + [429]
    refused = answers[-1]
    retry = int(refused.headers["Retry-After"])
    assert 0 < retry <= 61  # the rest of the minute, rounded up
    assert "Too many requests" in refused.text
    assert f"Try again in {retry} second" in refused.text
    assert "text/html" in refused.headers["Content-Type"]
    rows = store_rows(live_server.rt)
    assert bogus_login(http, live_server, reg).status_code == 429
    assert store_rows(live_server.rt) == rows  # a refused login writes nothing

    launches = [
        http.post(f"{live_server.tool_url}/lti/launch", data={"state": "x"}, timeout=10)
        for _ in range(6)
    ]
    assert [a.status_code for a in launches][-1] == 429
    assert all(a.status_code != 429 for a in launches[:5])


def _expired_and_live_rows(rt) -> None:
    with rt.session_factory() as s:
        s.add_all(
            [StoreEntry(key=f"lti_state:old{i}", value="{}", expires_at=1000) for i in range(3)]
            + [StoreEntry(key="lti_state:live", value="{}", expires_at=int(time.time()) + 600)]
        )
        s.commit()


def _state_keys(rt) -> list[str]:
    with rt.session_factory() as s:
        return sorted(s.scalars(select(StoreEntry.key).where(StoreEntry.key.like("lti_state:%"))))


def test_the_worker_tick_deletes_expired_store_rows(live_server) -> None:
    from lti_tool.jobs.tasks import TASKS

    rt = live_server.rt
    _expired_and_live_rows(rt)
    TASKS["tick"](rt)
    assert _state_keys(rt) == ["lti_state:live"]


def test_store_sweep_command_deletes_expired_rows(live_server, monkeypatch) -> None:
    from click.testing import CliRunner

    from lti_tool.cli import main

    rt = live_server.rt
    _expired_and_live_rows(rt)
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LTI_TOOL_LOG_LEVEL", "WARNING")
    result = CliRunner().invoke(main, ["store", "sweep"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Deleted 3 expired store entries." in result.output
    assert _state_keys(rt) == ["lti_state:live"]


def test_with_redis_every_process_counts_against_one_budget(database_url, redis_space) -> None:
    from tests.conftest import free_port, lay_demo, make_app

    port = free_port()
    limits = {"rate_limit_login": "5/minute", "secret_key": "s" * 40}
    first = make_app(database_url, port, **redis_space.settings(), **limits)
    second = make_app(database_url, port, **redis_space.settings(), **limits)
    rt = first.extensions["lti_tool"]
    lay_demo(first)
    reg = a_registration(rt)
    form = {
        "iss": reg.issuer,
        "client_id": reg.client_id,
        "login_hint": "nobody",
        "target_link_uri": f"http://127.0.0.1:{port}/lti/launch",
    }
    codes = [
        app.test_client().post("/lti/login", data=form).status_code
        for app in (first, second, first, second, first, second)
    ]
    assert codes == [302] * 5 + [429]
    for app in (first, second):
        app.extensions["lti_tool"].engine.dispose()
