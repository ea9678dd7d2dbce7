"""An NRPS answer with odd or hostile members: over-long names and ids, NUL characters.
Display values are trimmed and cleaned, members whose id the tool cannot keep are skipped
and counted; the rest of the roster arrives (PostgreSQL refused the whole sync before)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, jsonify
from sqlalchemy import select

from lti_tool.clients.lti_services import caller_for
from lti_tool.models.course import Context, Membership, User
from lti_tool.services.roster import sync_roster
from tests.conftest import free_port, serving
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
MEMBERS = [
    {"user_id": "plain-1", "name": "Ava Ng", "roles": [LEARNER]},
    {"user_id": "long-name", "name": "Bo " + "x" * 400, "email": "b" * 400, "roles": [LEARNER]},
    {"user_id": "nul-name", "name": "Cy\x00 Lee", "given_name": "\x00", "roles": [LEARNER]},
    {"user_id": "u" * 256, "name": "Too long id", "roles": [LEARNER]},
    {"user_id": "nul\x00id", "name": "NUL id", "roles": [LEARNER]},
    {"user_id": "odd-roles", "name": "Di", "roles": ["x\x00", LEARNER], "status": "Act\x00ive"},
]


@pytest.fixture
def hostile_nrps() -> Iterator[str]:
    """A platform's roster endpoint answering the members above, over real HTTP."""
    app = Flask("hostile_nrps")

    @app.get("/members")
    def members():  # type: ignore[no-untyped-def]
        return jsonify({"id": "x", "context": {"id": "c"}, "members": MEMBERS})

    port = free_port()
    with serving(app, port):
        yield f"http://127.0.0.1:{port}/members"


def test_hostile_members_are_cleaned_or_skipped(live_server, hostile_nrps: str) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        teacher = people(s, "moodle")["teacher"][0]
        course_id, link_id = course_and_link(s, "moodle")
    launch_as(Browser(), live_server.platform_url, "moodle", course_id, link_id, teacher.user_id)
    with rt.session_factory() as s:
        s.scalars(select(Context)).one().memberships_url = hostile_nrps
        s.commit()  # no write held while the token endpoint (same SQLite file) is called
    with rt.session_factory() as s:
        context = s.scalars(select(Context)).one()
        caller = caller_for(s, context, rt.platform_http, rt.tokens)
        result = sync_roster(s, caller, context, 50)
        s.commit()
        assert (result.members, result.added, result.skipped) == (4, 4, 2)
        assert "2 skipped" in result.summary()
        users = {u.sub: u for u in s.scalars(select(User))}
    assert users["plain-1"].name == "Ava Ng"
    assert len(users["long-name"].name) == 300 and users["long-name"].name.endswith("…")
    assert users["long-name"].email == ""
    assert users["nul-name"].name == "Cy Lee" and users["nul-name"].given_name == ""
    assert not any(len(sub) > 255 or "\x00" in sub for sub in users)
    with rt.session_factory() as s:
        odd = s.scalar(select(Membership).join(User).where(User.sub == "odd-roles"))
        assert odd is not None and odd.role == "student" and odd.status == "Active"
