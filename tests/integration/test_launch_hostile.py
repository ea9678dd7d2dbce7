"""Genuinely signed launches carrying odd or hostile values: long names, long ids, NUL
characters. Each is stored safely (display text trimmed, NULs removed) or refused with a page
in words; none answers 500 (PostgreSQL refuses NULs and over-long text, SQLite does not)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from lti_tool.models.course import Context, Membership, ResourceLink, User
from tests.integration.test_launch_refusals import LTI, Forger, assert_refused

pytestmark = pytest.mark.postgres
NUL = "\x00"


def _stored(rt) -> tuple[User, Context, ResourceLink, Membership]:
    with rt.session_factory() as s:
        row = s.execute(
            select(User, Context, ResourceLink, Membership)
            .join(Membership, Membership.user_id == User.id)
            .join(Context, Context.id == Membership.context_id)
            .join(ResourceLink, ResourceLink.context_id == Context.id)
        ).one()
        s.expunge_all()
        return tuple(row)  # type: ignore[return-value]


def test_long_display_values_are_trimmed_and_the_student_gets_in(live_server) -> None:
    f = Forger(live_server)

    def change(c: dict[str, Any]) -> None:
        c["name"] = "Ava " + "x" * 400
        c["given_name"] = "A" * 250
        c["family_name"] = "B" * 250
        c["email"] = "a" * 330 + "@school.example"
        c[LTI + "context"]["title"] = "Fractions " + "y" * 600
        c[LTI + "context"]["label"] = "L" * 300
        c[LTI + "resource_link"]["title"] = "Lesson " + "z" * 600

    page = f.launch(change)
    assert page.status_code == 200 and "Your path" in page.text, page.text[:600]
    assert "Fractions yyy" in page.text
    user, context, link, _ = _stored(f.rt)
    assert user.name.startswith("Ava xxx") and len(user.name) == 300 and user.name.endswith("…")
    assert len(user.given_name) == 200 and len(user.family_name) == 200
    assert user.email == ""  # longer than any address can be: not kept
    assert context.title.startswith("Fractions yyy") and len(context.title) == 500
    assert len(context.label) == 255 and len(link.title) == 500


def test_nul_characters_are_removed(live_server) -> None:
    f = Forger(live_server)

    def change(c: dict[str, Any]) -> None:
        c["name"] = "Ava" + NUL + " Ng"
        c["given_name"] = NUL
        c["email"] = "ava" + NUL + "@school.example"
        c[LTI + "context"]["title"] = "Frac" + NUL + "tions"
        c[LTI + "resource_link"]["title"] = NUL + "Lesson"
        c[LTI + "roles"] = [*c[LTI + "roles"], "urn:x:" + NUL]
        c[LTI + "custom"] = {"note": "a" + NUL + "b"}

    page = f.launch(change)
    assert page.status_code == 200 and "Your path" in page.text, page.text[:600]
    user, context, link, membership = _stored(f.rt)
    assert (user.name, user.given_name, user.email) == ("Ava Ng", "", "ava@school.example")
    assert (context.title, link.title) == ("Fractions", "Lesson")
    assert membership.role == "student"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("sub", "s" * 256, "your user id"),
        ("sub", "ab" + NUL + "c", "your user id"),
        ("context.id", "c" * 256, "course id"),
        ("context.id", "c" + NUL, "course id"),
        ("resource_link.id", "r" * 256, "link id"),
        ("deployment_id", "d" * 256, "deployment id"),
        ("deployment_id", "d" + NUL, "deployment id"),
    ],
)
def test_ids_the_tool_cannot_keep_are_refused_in_words(
    live_server, field: str, value: str, words: str
) -> None:
    """Ids cannot be trimmed (two people would become one): a clear 400, nothing written."""
    f = Forger(live_server)

    def change(c: dict[str, Any]) -> None:
        if field == "sub":
            c["sub"] = value
        elif field == "deployment_id":
            c[LTI + "deployment_id"] = value
        else:
            claim, key = field.split(".")
            c[LTI + claim][key] = value

    resp = f.launch(change)
    assert_refused(resp, f.rt, 400, words)
    assert "255" in resp.text


def test_long_service_url_is_dropped_not_fatal(live_server) -> None:
    f = Forger(live_server)
    nrps = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"

    def change(c: dict[str, Any]) -> None:
        c[nrps]["context_memberships_url"] = "https://lms.example/" + "m" * 1200

    page = f.launch(change)
    assert page.status_code == 200 and "Your path" in page.text
    _, context, _, _ = _stored(f.rt)
    assert context.memberships_url is None


def test_module_id_past_the_integer_range_is_ignored(live_server) -> None:
    f = Forger(live_server)
    page = f.launch(lambda c: c[LTI + "custom"].__setitem__("module_id", "9" * 30))
    assert page.status_code == 200 and "Your path" in page.text


@pytest.mark.parametrize(
    "return_url",
    [
        "https://lms.example;script-src 'unsafe-inline'/x",
        "https://lms.example\x00evil/x",
        "https://lms.example:99999999/x",
        "https://user:pw@lms.example/x",
    ],
)
def test_odd_return_url_never_reaches_the_frame_policy(live_server, return_url: str) -> None:
    """The return URL's host goes into a header: only a plain host[:port] may."""
    f = Forger(live_server)
    page = f.launch(lambda c: c[LTI + "launch_presentation"].__setitem__("return_url", return_url))
    assert page.status_code == 200 and "Your path" in page.text, page.text[:400]
    csp = page.headers["Content-Security-Policy"]
    ancestors = csp.split("frame-ancestors ", 1)[1]
    assert ";" not in ancestors and "unsafe-inline" not in csp and "evil" not in csp
    assert "pw@" not in csp
