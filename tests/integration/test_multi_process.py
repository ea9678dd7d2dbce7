"""Stateless web processes: a login started on one app instance finishes on another, and a
launch spent on one is refused on the other, with the spent states kept in the database
(default) or in Redis (LTI_TOOL_REDIS_URL)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import free_port, lay_demo, make_app, serving
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres


class Split:
    """A load balancer that sends logins to one instance and everything else to the other."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second
        self.seen: dict[str, list[str]] = {"first": [], "second": []}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        name = "first" if path.startswith("/lti/login") else "second"
        self.seen[name].append(path)
        return (self.first if name == "first" else self.second)(environ, start_response)


@pytest.mark.parametrize("store", ["database", "redis"])
def test_login_on_one_process_launch_on_another(
    database_url: str, store: str, request: pytest.FixtureRequest
) -> None:
    extra = request.getfixturevalue("redis_space").settings() if store == "redis" else {}
    port = free_port()
    # the same secret, as every process of one deployment has
    first = make_app(database_url, port, secret_key="s" * 40, **extra)
    second = make_app(database_url, port, secret_key="s" * 40, **extra)
    rt = first.extensions["lti_tool"]
    lay_demo(first)
    split = Split(first, second)
    try:
        with rt.session_factory() as s:
            student = people(s, "moodle")["student"][0]
            course_id, link_id = course_and_link(s, "moodle")
        with serving(split, port):
            browser = Browser()
            page = launch_as(
                browser, f"http://localhost:{port}", "moodle", course_id, link_id, student.user_id
            )
            assert page.status_code == 200 and "Your path" in page.text
            assert split.seen["first"] == ["/lti/login"]
            assert "/lti/launch" in split.seen["second"]

            # The same post again (token, state and the state's cookie), now sent to the
            # process that did not take it: refused there too.
            (spent,) = [r for r in browser.history if r.request.path_url == "/lti/launch"]
            split.first, split.second = second, first
            again = requests.post(
                f"http://127.0.0.1:{port}/lti/launch",
                data=spent.request.body,
                headers={
                    "Content-Type": spent.request.headers["Content-Type"],
                    "Cookie": spent.request.headers["Cookie"],
                },
                allow_redirects=False,
                timeout=10,
            )
        assert again.status_code == 400 and "already used" in again.text, again.text[:300]
    finally:
        for app in (first, second):
            app.extensions["lti_tool"].engine.dispose()
