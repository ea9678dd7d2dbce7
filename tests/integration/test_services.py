"""The tool's LTI Advantage calls over real HTTP against the sandbox, in both platform
shapes: roster, line items, results, scores, tokens, and retries under faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from lti_tool.clients import ags
from lti_tool.clients.lti_services import ServiceCaller, caller_for
from lti_tool.clients.platform_http import PlatformHttp
from lti_tool.clients.tokens import AccessTokens
from lti_tool.grading.stamps import post_grade
from lti_tool.models.course import Context, Membership, User
from lti_tool.sandbox.models import (
    SandboxEnrollment,
    SandboxFaults,
    SandboxLineItem,
    SandboxPlatform,
    SandboxResult,
)
from lti_tool.services.roster import sync_roster
from tests.lms import Browser, course_and_link, forms, launch_as, people

pytestmark = pytest.mark.postgres
SHAPES = ["canvas", "moodle"]


def launch_teacher(live_server, slug: str) -> tuple[Browser, object]:
    with live_server.rt.session_factory() as s:
        teacher = people(s, slug)["teacher"][0]
        course_id, link_id = course_and_link(s, slug)
    browser = Browser()
    page = launch_as(browser, live_server.platform_url, slug, course_id, link_id, teacher.user_id)
    assert page.status_code == 200 and "Course home" in page.text
    return browser, page


def context_of(session) -> Context:
    return session.scalars(select(Context)).one()


class Calls:
    """A ServiceCaller on its own session, with retries that record instead of sleeping."""

    def __init__(self, live_server, slug: str, **http_kw) -> None:
        self.rt = live_server.rt
        self.session = self.rt.session_factory()
        self.waits: list[float] = []
        # the time the recorded sleeps skipped, which the client's clock still counts
        self.skipped = 0.0
        self.http = PlatformHttp(
            5, sleep=self._sleep, clock=lambda: time.monotonic() + self.skipped, **http_kw
        )
        self.tokens = AccessTokens(self.http, "", self.rt.short_store)
        self.context = context_of(self.session)
        self.caller: ServiceCaller = caller_for(self.session, self.context, self.http, self.tokens)

    def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.skipped += seconds

    def close(self) -> None:
        self.session.commit()
        self.session.close()


@pytest.fixture
def calls(live_server, request):
    made: list[Calls] = []

    def make(slug: str, **kw) -> Calls:
        launch_teacher(live_server, slug)
        c = Calls(live_server, slug, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.mark.parametrize("slug", SHAPES)
@pytest.mark.parametrize("settings_overrides", [{"nrps_page_size": 10}])
def test_teacher_syncs_roster_over_several_pages(live_server, slug: str) -> None:
    browser, home = launch_teacher(live_server, slug)
    form = next(f for f in forms(home.text) if f["action"].endswith("/roster/sync"))
    page = browser.post(home.url.rsplit("/", 1)[0] + "/roster/sync", form["fields"])
    assert page.status_code == 200
    assert "Roster synced: 27 members (26 new" in page.text, page.text[:2000]
    with live_server.rt.session_factory() as s:
        roles = dict(
            s.execute(select(Membership.role, func.count()).group_by(Membership.role)).all()
        )
        assert roles == {"teacher": 2, "student": 24, "mentor": 1}
        assert context_of(s).roster_synced_at is not None
        named = s.scalar(select(User).where(User.name == "Ava Adams"))
        assert named is not None and named.email.startswith("user")


@pytest.mark.parametrize("slug", SHAPES)
def test_removed_student_becomes_inactive_and_keeps_their_record(
    live_server, calls, slug: str
) -> None:
    c = calls(slug)
    first = sync_roster(c.session, c.caller, c.context, 50)
    c.session.commit()
    assert first.members == 27 and first.now_inactive == 0
    with live_server.rt.session_factory() as s:
        leaver = people(s, slug)["student"][3]
        s.execute(delete(SandboxEnrollment).where(SandboxEnrollment.user_id == leaver.user_id))
        s.commit()
    second = sync_roster(c.session, c.caller, c.context, 50)
    c.session.commit()
    assert second.members == 26 and second.now_inactive == 1
    user = c.session.scalar(select(User).where(User.sub == leaver.sub))
    ms = c.session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert ms.status == "Inactive" and ms.role == "student"


@pytest.mark.parametrize("slug", SHAPES)
def test_line_item_round_trip(calls, slug: str) -> None:
    c = calls(slug)
    url = c.context.lineitems_url
    created = ags.create_lineitem(
        c.caller,
        url,
        {
            "label": "Competency: Fractions",
            "scoreMaximum": 4,
            "resourceId": "comp-1",
            "tag": "competency",
        },
    )
    assert created["id"] and created["label"] == "Competency: Fractions"
    found = list(ags.lineitems(c.caller, url, tag="competency"))
    assert [i["id"] for i in found] == [created["id"]]
    assert [i["id"] for i in ags.lineitems(c.caller, url, resource_id="comp-1")] == [created["id"]]
    assert list(ags.lineitems(c.caller, url, resource_id="nope")) == []
    updated = ags.update_lineitem(
        c.caller, created["id"], {**created, "label": "Competency: Fractions 2"}
    )
    assert updated["label"] == "Competency: Fractions 2"
    assert ags.get_lineitem(c.caller, created["id"])["label"] == "Competency: Fractions 2"
    assert ags.delete_lineitem(c.caller, created["id"])
    assert ags.get_lineitem(c.caller, created["id"]) is None


@pytest.mark.parametrize("slug", SHAPES)
def test_score_then_results_read_back(live_server, calls, slug: str) -> None:
    c = calls(slug)
    sync_roster(c.session, c.caller, c.context, 50)
    c.session.commit()
    item = ags.create_lineitem(
        c.caller,
        c.context.lineitems_url,
        {"label": "Quiz", "scoreMaximum": 10, "resourceId": "q", "tag": "t"},
    )
    if slug == "moodle":
        assert "?type_id=" in item["id"]  # results and scores must keep the query
    student = c.session.scalar(select(User).where(User.name == "Ben Brooks"))
    outcome = post_grade(
        c.session, c.caller, c.context.id, student, item["id"], 7.5, 10, "well done"
    )
    c.session.commit()
    assert outcome.posted, outcome
    results = list(ags.results(c.caller, item["id"]))
    mine = [r for r in results if r["userId"] == student.sub]
    assert len(mine) == 1 and mine[0]["resultScore"] == 7.5 and mine[0]["resultMaximum"] == 10


@pytest.mark.parametrize("slug", SHAPES)
def test_timestamps_never_go_backwards(live_server, calls, slug: str) -> None:
    """Two scores in the same second: the second is stamped a second later (Moodle would
    answer 409 and Canvas 400 to an equal or older one); the platform takes both."""
    c = calls(slug)
    sync_roster(c.session, c.caller, c.context, 50)
    c.session.commit()
    item = ags.create_lineitem(
        c.caller,
        c.context.lineitems_url,
        {"label": "Q", "scoreMaximum": 4, "resourceId": "r", "tag": "t"},
    )
    student = c.session.scalar(select(User).where(User.name == "Chloe Chen"))
    frozen = datetime.now(UTC)
    slept: list[float] = []
    for score in (2.0, 3.0):
        outcome = post_grade(
            c.session,
            c.caller,
            c.context.id,
            student,
            item["id"],
            score,
            4,
            clock=lambda: frozen,
            sleep=slept.append,
        )
        c.session.commit()
        assert outcome.posted and outcome.status < 300, outcome
    assert slept and 0 < slept[0] <= 1.0
    with live_server.rt.session_factory() as s:
        result = s.scalars(select(SandboxResult)).one()
        assert result.posts == 2 and result.score_given == 3.0


def test_non_learners_are_skipped_and_final_refusals_not_retried(live_server, calls) -> None:
    c = calls("canvas")
    sync_roster(c.session, c.caller, c.context, 50)
    c.session.commit()
    item = ags.create_lineitem(
        c.caller,
        c.context.lineitems_url,
        {"label": "Q", "scoreMaximum": 4, "resourceId": "r", "tag": "t"},
    )
    teacher = c.session.scalar(select(User).where(User.name == "Terry Teacher"))
    skipped = post_grade(c.session, c.caller, c.context.id, teacher, item["id"], 3, 4)
    assert not skipped.posted and "not a learner" in skipped.reason
    before = c.http.stats.retries
    refused = ags.post_score(
        c.caller,
        item["id"],
        {
            "userId": teacher.sub,
            "scoreGiven": 3,
            "scoreMaximum": 4,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": datetime.now(UTC).isoformat(),
        },
    )
    assert not refused.posted and refused.status == 422
    assert c.http.stats.retries == before  # no retry of a final answer


def test_one_token_for_many_calls_and_a_new_one_after_expiry(calls) -> None:
    c = calls("moodle")
    for _ in range(5):
        list(ags.lineitems(c.caller, c.context.lineitems_url))
    assert c.tokens.requested == 1
    # Moodle's tokens last 3600 s; keep them 3597 s less: cached for two seconds at most
    short = AccessTokens(c.http, "", c.rt.short_store, margin=3597)
    short.forget(c.caller.registration, [ags.SCOPE_LINEITEM_READ, ags.SCOPE_LINEITEM])
    c.caller.tokens = short
    list(ags.lineitems(c.caller, c.context.lineitems_url))
    list(ags.lineitems(c.caller, c.context.lineitems_url))
    assert short.requested == 1
    time.sleep(2.2)
    list(ags.lineitems(c.caller, c.context.lineitems_url))
    assert short.requested == 2


@pytest.mark.parametrize(("kind", "retry_after"), [("429", 1), ("503", 0)])
def test_retries_under_injected_faults(live_server, calls, kind: str, retry_after: int) -> None:
    c = calls("canvas")
    sync_roster(c.session, c.caller, c.context, 50)
    c.session.commit()
    item = ags.create_lineitem(
        c.caller,
        c.context.lineitems_url,
        {"label": "Q", "scoreMaximum": 4, "resourceId": "r", "tag": "t"},
    )
    with live_server.rt.session_factory() as s:
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == "canvas"))
        s.add(
            SandboxFaults(
                platform_id=platform.id, error_rate=0.5, kinds=[kind], retry_after=retry_after
            )
        )
        s.commit()
    students = c.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role == "student")
    ).all()[:8]
    for student in students:
        assert post_grade(c.session, c.caller, c.context.id, student, item["id"], 3, 4).posted
        c.session.commit()
    assert c.http.stats.retries > 0
    if kind == "429":
        assert all(w >= 1.0 for w in c.waits), c.waits  # Retry-After: 1 honoured
    with live_server.rt.session_factory() as s:
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.label == "Q"))
        posts = s.scalars(
            select(SandboxResult.posts).where(SandboxResult.line_item_id == line.id)
        ).all()
        assert sorted(posts) == [1] * 8


@pytest.mark.parametrize("slug", SHAPES)
def test_line_items_and_results_follow_every_page(calls, slug: str) -> None:
    """Small pages: all five line items come back (Moodle's Link uses typographic quotes)."""
    c = calls(slug)
    made = {
        ags.create_lineitem(
            c.caller,
            c.context.lineitems_url,
            {"label": f"Q{i}", "scoreMaximum": 4, "resourceId": f"r{i}", "tag": "paged"},
        )["id"]
        for i in range(5)
    }
    listed = [
        i["id"] for i in ags.lineitems(c.caller, c.context.lineitems_url, tag="paged", limit=2)
    ]
    assert sorted(listed) == sorted(made)


def test_token_endpoint_answering_html_gets_a_clear_error(live_server, calls) -> None:
    """Moodle answers an HTML 404 from token.php when its blocklist stops it fetching our
    JWKS: the error names the URL, what came back and the likely cause."""
    from lti_tool.clients.http import HttpError

    c = calls("moodle")
    reg = c.caller.registration
    reg.auth_token_url = f"{live_server.tool_url}/mod/lti/token.php"  # answers an HTML 404
    with pytest.raises(HttpError) as caught:
        c.tokens.token(c.session, reg, [ags.SCOPE_LINEITEM])
    message = str(caught.value)
    assert reg.auth_token_url in message and "answered 404" in message
    assert "cannot fetch the tool's JWKS" in message and "blocked hosts" in message
    c.session.rollback()


@pytest.mark.parametrize("slug", SHAPES)
def test_grade_typed_in_the_lms_gradebook_is_read_back(live_server, calls, slug: str) -> None:
    """The demo teacher types a grade in the sandbox gradebook; the tool reads it through AGS."""
    from lti_tool.sandbox.gradebook import set_grade

    c = calls(slug)
    sync_roster(c.session, c.caller, c.context, 50)
    c.session.commit()
    item = ags.create_lineitem(
        c.caller,
        c.context.lineitems_url,
        {"label": "Quiz 1", "scoreMaximum": 10, "resourceId": "q1", "tag": "quiz"},
    )
    student = c.session.scalar(select(User).where(User.name == "Daniel Diaz"))
    with live_server.rt.session_factory() as s:
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.label == "Quiz 1"))
        person = next(p for p in people(s, slug)["student"] if p.sub == student.sub)
        set_grade(s, line.id, person.user_id, 8)
        s.commit()
    mine = [
        r
        for r in ags.results(c.caller, item["id"], user_id=student.sub)
        if r["userId"] == student.sub
    ]
    assert len(mine) == 1 and mine[0]["resultScore"] == 8 and mine[0]["resultMaximum"] == 10
