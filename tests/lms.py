"""Drive the sandbox LMS and the tool over real HTTP the way a browser would: follow
redirects one hop at a time, submit auto-posting forms, and keep loopback cookies even
when they are `Secure` (browsers treat http://127.0.0.1 and localhost as secure contexts)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxEnrollment,
    SandboxLink,
    SandboxPlatform,
    SandboxUser,
)

LOOPBACK = {"127.0.0.1", "localhost", "localhost.local"}


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action") or "",
                    "method": (a.get("method") or "get").lower(),
                    "fields": {},
                }
            )
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    """A requests session that behaves like a browser on loopback addresses."""

    def __init__(self) -> None:
        self.http = requests.Session()
        self.history: list[requests.Response] = []

    def _unsecure_loopback(self) -> None:
        for cookie in self.http.cookies:
            if cookie.domain.lstrip(".") in LOOPBACK:
                cookie.secure = False

    def request(self, method: str, url: str, **kw: Any) -> requests.Response:
        """One request, then every redirect hop, re-checking cookies at each."""
        for _ in range(20):
            self._unsecure_loopback()
            resp = self.http.request(method, url, allow_redirects=False, timeout=10, **kw)
            self.history.append(resp)
            if resp.status_code not in (301, 302, 303, 307, 308):
                return resp
            url = urljoin(url, resp.headers["Location"])
            if resp.status_code in (301, 302, 303):
                method, kw = "GET", {}
        raise AssertionError("too many redirects")

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, data: dict[str, str], **kw: Any) -> requests.Response:
        return self.request("POST", url, data=data, **kw)

    def submit_autopost(self, resp: requests.Response) -> requests.Response:
        """Submit the page's one auto-posting form, as its inline script would."""
        found = forms(resp.text)
        assert found, f"no form in {resp.url}: {resp.text[:300]}"
        form = found[0]
        return self.post(urljoin(resp.url, form["action"]), form["fields"])

    def follow_autoposts(self, resp: requests.Response, limit: int = 5) -> requests.Response:
        storage_steps = ('data-mode="login"',)
        while limit and (
            'id="autopost"' in resp.text or any(m in resp.text for m in storage_steps)
        ):
            if any(m in resp.text for m in storage_steps):
                # The tool's platform-storage login page: with no LMS frame to talk to, its
                # script goes straight on to the next page.
                resp = self.get(urljoin(resp.url, storage_login_next(resp.text)))
            else:
                resp = self.submit_autopost(resp)
            limit -= 1
        return resp


def auth_url_of(login: requests.Response) -> str:
    """The auth request a login answer sends the browser to: its redirect, or (the LMS
    offered platform storage) the storage page's next step."""
    if login.status_code == 302:
        return str(login.headers["Location"])
    assert login.status_code == 200, login.text[:300]
    return storage_login_next(login.text)


def storage_login_next(html: str) -> str:
    """Where a tool's platform-storage page sends the browser next (its data-next)."""
    found = re.search(r'data-next="([^"]*)"', html)
    assert found, html[:300]
    return unescape(found.group(1))


@dataclass
class Person:
    user_id: int
    name: str
    sub: str
    role: str


def people(session: Session, slug: str) -> dict[str, list[Person]]:
    rows = session.execute(
        select(SandboxEnrollment, SandboxUser)
        .join(SandboxUser, SandboxUser.id == SandboxEnrollment.user_id)
        .join(SandboxPlatform, SandboxPlatform.id == SandboxUser.platform_id)
        .where(SandboxPlatform.slug == slug)
        .order_by(SandboxUser.id)
    ).all()
    out: dict[str, list[Person]] = {}
    for e, u in rows:
        out.setdefault(e.role, []).append(Person(u.id, u.name, u.lti_sub, e.role))
    return out


def course_and_link(
    session: Session, slug: str, message_type: str = "LtiResourceLinkRequest"
) -> tuple[int, int]:
    course = session.scalar(
        select(SandboxCourse).join(SandboxPlatform).where(SandboxPlatform.slug == slug)
    )
    assert course is not None
    link = session.scalar(
        select(SandboxLink).where(
            SandboxLink.course_id == course.id, SandboxLink.message_type == message_type
        )
    )
    assert link is not None
    return course.id, link.id


def launch_as(
    browser: Browser, platform_url: str, slug: str, course_id: int, link_id: int, user_id: int
) -> requests.Response:
    """Click "Launch as …" in the sandbox, then load the iframe and follow the LTI flow."""
    page = browser.post(
        f"{platform_url}/sandbox/{slug}/courses/{course_id}/launch-as",
        {"user_id": str(user_id), "link_id": str(link_id)},
    )
    assert page.status_code == 200, page.text[:500]
    frame = browser.get(f"{platform_url}/sandbox/{slug}/links/{link_id}/initiate")
    return browser.follow_autoposts(frame)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def synced_or_started(page: str) -> bool:
    """The class page after "Sync now": the job has started, or has already come to an end."""
    return any(s in page for s in ("Sync started", "Synced", "could not be read from the LMS"))
