"""The launch without cookies, proven by LTI platform storage, over real HTTP against the
sandbox's Canvas shape: the browser here keeps the sandbox's cookie but never the tool's, and
plays the part of the page script (it reads back what the login page stored). Every launch
check holds on this path: replay, state mismatch and nonce reuse are refused, and nothing is
written for a refused launch."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import func, select

from lti_tool.models.course import Membership
from tests.lms import LOOPBACK, Browser, course_and_link, forms, people

pytestmark = pytest.mark.postgres


def _data(html: str) -> dict[str, str]:
    """The data-* attributes of the tool's storage element (`id="lti-storage"`)."""
    tag = re.search(r'<[a-z]+ id="lti-storage"[^>]*>', html, re.S)
    assert tag, html[:400]
    return {k: unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', tag.group(0))}


@dataclass
class Launch:
    """One login through the tool with storage offered, up to the tool's launch answer."""

    browser: Browser
    stored: dict[str, str]  # what the login page put into the LMS's storage
    launch_form: dict[str, str]  # the LMS's form post of id_token and state
    answer: requests.Response  # the tool's answer to that post, without any cookie of its own


class CookielessCanvas:
    def __init__(self, live_server, role: str = "teacher") -> None:
        self.server = live_server
        with live_server.rt.session_factory() as s:
            self.person = people(s, "canvas")[role][0]
            self.course_id, self.link_id = course_and_link(s, "canvas")
        self.base = f"{live_server.platform_url}/sandbox/canvas"

    def login(self) -> tuple[Browser, dict[str, str], dict[str, str]]:
        """(browser, what the login page stores, the LMS's launch form) of a fresh login."""
        b = Browser()
        b.post(
            f"{self.base}/courses/{self.course_id}/launch-as",
            {"user_id": str(self.person.user_id), "link_id": str(self.link_id)},
        )
        initiate = forms(b.get(f"{self.base}/links/{self.link_id}/initiate").text)[0]
        assert initiate["fields"]["lti_storage_target"] == "post_message_forwarding"
        login = b.http.post(initiate["action"], data=initiate["fields"], timeout=10)
        assert login.status_code == 200, login.text[:300]
        page = _data(login.text)
        assert page["mode"] == "login" and page["target"] == "post_message_forwarding"
        assert page["origin"] == self.server.platform_url  # the auth endpoint's origin
        stored = {page["state-key"]: page["state"], page["nonce-key"]: page["nonce"]}
        auth = b.get(page["next"])
        launch_form = forms(auth.text)[0]["fields"]
        assert launch_form["state"] == page["state"]
        return b, stored, launch_form

    def post_launch(self, b: Browser, launch_form: dict[str, str]) -> requests.Response:
        """The LMS's form post, with every cookie of the tool gone (the browser kept none)."""
        for cookie in list(b.http.cookies):
            if cookie.domain.lstrip(".") in LOOPBACK and cookie.name.startswith("lti_tool"):
                b.http.cookies.clear(cookie.domain, cookie.path, cookie.name)
        return b.http.post(
            f"{self.server.tool_url}/lti/launch", data=launch_form, allow_redirects=False
        )

    def launch(self) -> Launch:
        b, stored, launch_form = self.login()
        return Launch(b, stored, launch_form, self.post_launch(b, launch_form))

    def finish(self, launch: Launch, origin: str = "", **change: str) -> requests.Response:
        """What the launch page's script posts: the values read back from storage (a form of
        the tool's own page: the browser names the tool's origin)."""
        origin = origin or self.server.tool_url
        page = _data(launch.answer.text)
        form = forms(launch.answer.text)[0]
        fields = {
            **form["fields"],
            "state": launch.stored.get(page["state-key"], ""),
            "nonce": launch.stored.get(page["nonce-key"], ""),
            **change,
        }
        return requests.post(
            urljoin(launch.answer.url, form["action"]),
            data=fields,
            headers={"Origin": origin},
            allow_redirects=False,
            timeout=10,
        )


def memberships(rt) -> int:
    with rt.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Membership)) or 0


def test_storage_proves_the_launch_and_the_session_needs_no_cookie(live_server) -> None:
    canvas = CookielessCanvas(live_server)
    launch = canvas.launch()
    assert launch.answer.status_code == 200, launch.answer.text[:500]
    page = _data(launch.answer.text)
    assert page["mode"] == "launch" and page["origin"] == live_server.platform_url
    assert launch.answer.headers["Cache-Control"] == "no-store"
    assert set(launch.stored) == {page["state-key"], page["nonce-key"]}
    assert memberships(live_server.rt) == 0  # nothing before the storage answered

    done = canvas.finish(launch)
    assert done.status_code == 303, done.text[:500]
    landing = done.headers["Location"]
    assert "/c/t." in landing
    assert "lti_tool_session" not in done.headers.get("Set-Cookie", "")
    home = requests.get(urljoin(done.url, landing), timeout=10)  # no cookie jar at all
    assert home.status_code == 200 and "Course home" in home.text
    assert home.history[-1].headers["Referrer-Policy"] == "no-referrer"
    assert "lti_tool_session" not in str(home.history[-1].headers)
    assert memberships(live_server.rt) == 1

    # A form posted with the page's CSRF token passes without a cookie...
    sync = next(f for f in forms(home.text) if f["action"].endswith("/roster/sync"))
    url = urljoin(home.url, sync["action"])
    posted = requests.post(url, data=sync["fields"], timeout=10)
    assert posted.status_code == 200 and "Roster synced" in posted.text
    # ...and not without the token, nor with another launch's
    refused = requests.post(url, data={}, timeout=10)
    assert refused.status_code == 400 and "The form expired" in refused.text


def test_a_tampered_launch_token_is_refused(live_server, caplog) -> None:
    caplog.set_level(logging.INFO)
    canvas = CookielessCanvas(live_server, role="student")
    launch = canvas.launch()
    landing = canvas.finish(launch).headers["Location"]
    path = urljoin(live_server.tool_url, landing)
    assert requests.get(path, timeout=10).status_code == 200
    token = landing.split("/")[2]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    resp = requests.get(path.replace(token, forged), timeout=10)
    assert resp.status_code == 401 and "Your session has ended" in resp.text
    # a student's token never opens a teacher's page
    teacher_page = urljoin(live_server.tool_url, f"/c/{token}/home")
    assert requests.get(teacher_page, timeout=10).status_code == 403
    # the request lines and the refusal were logged, the token never
    logged = [r.getMessage() for r in caplog.records]
    assert any("/c/t.<" in m for m in logged) and any("refused" in m for m in logged)
    assert not [m for m in logged if token in m or forged in m]


def test_replayed_launch_post_is_refused(live_server) -> None:
    canvas = CookielessCanvas(live_server)
    launch = canvas.launch()
    assert canvas.finish(launch).status_code == 303
    again = canvas.post_launch(launch.browser, launch.launch_form)
    assert again.status_code == 400 and "already used or has expired" in again.text
    # replaying the storage answer too
    replay = canvas.finish(launch)
    assert replay.status_code == 400 and "already used or has expired" in replay.text
    assert memberships(live_server.rt) == 1


def test_replay_before_the_storage_answered_is_refused(live_server) -> None:
    """The state is consumed when the id_token is checked: a second post of the same form,
    even before the first launch finished, finds nothing."""
    canvas = CookielessCanvas(live_server)
    launch = canvas.launch()
    again = canvas.post_launch(launch.browser, launch.launch_form)
    assert again.status_code == 400 and "already used or has expired" in again.text
    assert canvas.finish(launch).status_code == 303  # the first one still completes


def test_state_mismatch_from_storage_is_refused_and_burns_the_launch(live_server) -> None:
    canvas = CookielessCanvas(live_server)
    other = canvas.launch()  # another login of the same person: a real, different state
    launch = canvas.launch()
    wrong = canvas.finish(launch, state=next(iter(other.stored.values())))
    assert wrong.status_code == 401 and "could not be verified" in wrong.text
    # no second guess: the parked launch is gone even with the right values now
    retry = canvas.finish(launch)
    assert retry.status_code == 400 and "already used or has expired" in retry.text
    assert memberships(live_server.rt) == 0


def test_the_last_step_from_another_site_is_refused(live_server) -> None:
    """Login CSRF without cookies: an attacker's page posting the values of the attacker's
    own launch from the victim's browser. Browsers name the posting page's origin."""
    canvas = CookielessCanvas(live_server)
    launch = canvas.launch()
    forged = canvas.finish(launch, origin="https://attacker.example")
    assert forged.status_code == 403 and "must come from the tool" in forged.text
    assert memberships(live_server.rt) == 0
    assert canvas.finish(launch).status_code == 303  # refused before the launch was used


def test_storage_that_answers_nothing_is_refused(live_server) -> None:
    canvas = CookielessCanvas(live_server)
    launch = canvas.launch()
    empty = canvas.finish(launch, state="", nonce="")
    assert empty.status_code == 401 and "could not be verified" in empty.text
    assert memberships(live_server.rt) == 0


def test_nonce_from_storage_must_be_the_issued_one(live_server) -> None:
    canvas = CookielessCanvas(live_server)
    other = canvas.launch()
    launch = canvas.launch()
    other_nonce = next(v for k, v in other.stored.items() if k.startswith("lti_nonce_"))
    wrong = canvas.finish(launch, nonce=other_nonce)
    assert wrong.status_code == 401 and "could not be verified" in wrong.text
    assert memberships(live_server.rt) == 0


def test_id_token_of_another_login_is_refused_on_the_storage_path(live_server) -> None:
    """Nonce reuse: login A's id_token (nonce A) posted with login B's state, no cookie."""
    canvas = CookielessCanvas(live_server)
    b_a, _, form_a = canvas.login()
    b_b, _, form_b = canvas.login()
    mixed = canvas.post_launch(b_b, {**form_b, "id_token": form_a["id_token"]})
    assert mixed.status_code == 401 and "could not be verified" in mixed.text
    # and login A's own launch, once used, cannot be used again with its nonce
    first = canvas.post_launch(b_a, form_a)
    assert first.status_code == 200
    second = canvas.post_launch(b_a, form_a)
    assert second.status_code == 400 and "already used or has expired" in second.text
    assert memberships(live_server.rt) == 0


def test_without_storage_and_without_cookie_the_launch_says_open_a_new_window(
    live_server,
) -> None:
    """The Moodle shape offers no storage: a launch whose cookie did not come back."""
    with live_server.rt.session_factory() as s:
        student = people(s, "moodle")["student"][0]
        course_id, link_id = course_and_link(s, "moodle")
    b = Browser()
    base = f"{live_server.platform_url}/sandbox/moodle"
    b.post(
        f"{base}/courses/{course_id}/launch-as",
        {"user_id": str(student.user_id), "link_id": str(link_id)},
    )
    initiate = forms(b.get(f"{base}/links/{link_id}/initiate").text)[0]
    login = b.http.post(initiate["action"], data=initiate["fields"], allow_redirects=False)
    assert login.status_code == 302  # no storage offered: the plain redirect
    launch_form = forms(b.get(login.headers["Location"]).text)[0]["fields"]
    resp = requests.post(f"{live_server.tool_url}/lti/launch", data=launch_form, timeout=10)
    assert resp.status_code == 400
    assert "Open the tool in a new window" in resp.text
    assert 'data-full-window="' in resp.text and "Launch container: New window" in resp.text
    assert memberships(live_server.rt) == 0
