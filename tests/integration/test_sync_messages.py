"""What a teacher reads when the LMS refuses or fails a sync: a short message in words; the
platform's error body and its internal URLs go to the log only."""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from lti_tool.models.course import Context
from tests.conftest import free_port
from tests.lms import Browser, course_and_link, forms, launch_as, people, synced_or_started

pytestmark = pytest.mark.postgres
SECRET = "ORA-00942 at /var/www/moodle/internal/memberships.php line 42"


@pytest.fixture
def failing_nrps() -> Iterator[str]:
    """A roster endpoint that refuses with an internal error body, over real HTTP."""
    app = Flask("failing_nrps")

    @app.get("/internal/members")
    def members():  # type: ignore[no-untyped-def]
        return SECRET, 403

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/internal/members"
    server.shutdown()
    thread.join(5)


def _teacher(live_server, nrps_url: str) -> tuple[Browser, str]:
    rt = live_server.rt
    with rt.session_factory() as s:
        teacher = people(s, "moodle")["teacher"][0]
        course_id, link_id = course_and_link(s, "moodle")
    browser = Browser()
    home = launch_as(
        browser, live_server.platform_url, "moodle", course_id, link_id, teacher.user_id
    )
    assert home.url.endswith("/home")
    with rt.session_factory() as s:
        s.scalars(select(Context)).one().memberships_url = nrps_url
        s.commit()
    return browser, home.url


def _post_form(browser: Browser, page, action_part: str):
    (form,) = [f for f in forms(page.text) if action_part in f["action"]]
    return browser.post(urljoin(page.url, form["action"]), form["fields"])


def test_roster_sync_failure_shows_words_not_the_platform_body(
    live_server, failing_nrps: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    browser, home_url = _teacher(live_server, failing_nrps)
    page = _post_form(browser, browser.get(home_url), "/roster/sync")
    assert page.status_code == 200 and page.url.split("?")[0].endswith("/home")
    text = html.unescape(page.text)
    assert "The roster could not be synced" in text
    assert "refused" in text and "tool's log" in text
    assert SECRET not in text and "127.0.0.1" not in text.split("<body", 1)[1]
    assert "internal" not in page.url and "ORA" not in page.url
    assert SECRET in caplog.text  # the detail is in the log


def test_class_sync_now_failure_shows_words_not_the_platform_body(
    live_server, failing_nrps: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    browser, home_url = _teacher(live_server, failing_nrps)
    class_page = browser.get(home_url.rsplit("/", 1)[0] + "/class")
    started = _post_form(browser, class_page, "/class/sync")
    assert started.status_code == 200 and synced_or_started(started.text)
    live_server.rt.jobs.wait()  # the sync is a job; the class page shows what it came to
    page = browser.get(class_page.url)
    text = html.unescape(page.text)
    assert "tool's log" in text
    assert SECRET not in text and "/internal/members" not in text
    assert SECRET in caplog.text
