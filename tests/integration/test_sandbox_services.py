"""The sandbox platform's LTI Advantage services over real HTTP, in both shapes: NRPS, AGS line
items, results and scores with each platform's refusals, the deep-linking return, the
gradebook page and the fault switch. Access tokens come from the sandbox's own OAuth2 token
endpoint, obtained the way the tool obtains them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests
from sqlalchemy import insert, select

from lti_tool import keys
from lti_tool.clients.tokens import request_token
from lti_tool.models.platform import Registration
from lti_tool.sandbox.faults import set_faults
from lti_tool.sandbox.gradebook import gradebook
from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxEnrollment,
    SandboxLineItem,
    SandboxLink,
    SandboxPlatform,
    SandboxResult,
    SandboxTool,
    SandboxUser,
)
from lti_tool.sandbox.platform import MEMBERSHIP, PlatformUrls
from lti_tool.sandbox.roster import set_enrollment_status, unenroll
from tests.lms import Browser, auth_url_of, forms, people, query

pytestmark = pytest.mark.postgres

NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
LINEITEM, LINEITEM_RO = AGS + "lineitem", AGS + "lineitem.readonly"
RESULT, SCORE = AGS + "result.readonly", AGS + "score"
ALL = [NRPS, LINEITEM, RESULT, SCORE]
NRPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"


@dataclass
class Lms:
    """One sandbox platform as the tool sees it: the URLs its id_token carries."""

    live: Any
    slug: str
    course_id: int
    context_id: str
    tool_id: int
    deployment_id: str
    client_id: str
    issuer: str
    memberships: str
    lineitems: str
    deep_link_return: str
    main_link_id: int
    main_link_lti_id: str

    def token(self, scopes: list[str] = ALL) -> str:
        rt = self.live.rt
        with rt.session_factory() as s:
            reg = s.scalar(
                select(Registration).where(
                    Registration.issuer == self.issuer, Registration.client_id == self.client_id
                )
            )
            tok = request_token(requests.Session(), s, reg, scopes, "", 5)
            s.commit()
        return tok.token

    def session(self, scopes: list[str] = ALL) -> requests.Session:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {self.token(scopes)}"
        return http


def lms(live_server, slug: str) -> Lms:
    rt = live_server.rt
    with rt.session_factory() as s:
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
        course = s.scalar(select(SandboxCourse).where(SandboxCourse.platform_id == platform.id))
        tool = s.scalar(select(SandboxTool).where(SandboxTool.platform_id == platform.id))
        link = s.scalar(
            select(SandboxLink).where(
                SandboxLink.course_id == course.id,
                SandboxLink.message_type == "LtiResourceLinkRequest",
            )
        )
        urls = PlatformUrls(rt.settings.sandbox_base_url, platform)
        return Lms(
            live_server,
            slug,
            course.id,
            course.lti_context_id,
            tool.id,
            tool.deployment_id,
            tool.client_id,
            platform.issuer,
            urls.memberships(course, tool),
            urls.lineitems(course, tool),
            urls.deep_link_return(course, tool),
            link.id,
            link.lti_id,
        )


def add_students(live_server, slug: str, n: int) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
        course = s.scalar(select(SandboxCourse).where(SandboxCourse.platform_id == platform.id))
        ids = s.scalars(
            insert(SandboxUser).returning(SandboxUser.id, sort_by_parameter_order=True),
            [
                {
                    "platform_id": platform.id,
                    "lti_sub": f"extra-{i}",
                    "username": f"extra{i}",
                    "given_name": "Extra",
                    "family_name": f"Student {i}",
                    "email": f"extra{i}@x.test",
                }
                for i in range(n)
            ],
        ).all()
        s.execute(
            insert(SandboxEnrollment),
            [{"course_id": course.id, "user_id": i, "role": "student"} for i in ids],
        )
        s.commit()


def now_iso(delta: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta)).isoformat(timespec="milliseconds")


def moodle_segment(url: str, segment: str) -> str:
    base, _, q = url.partition("?")
    return f"{base}/{segment}?{q}"


def score(user: str, given: float | None = 7, maximum: float | None = 10, **kw: Any) -> dict:
    body: dict[str, Any] = {
        "userId": user,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": now_iso(),
    }
    if given is not None:
        body["scoreGiven"] = given
    if maximum is not None:
        body["scoreMaximum"] = maximum
    body.update(kw)
    return body


# -- NRPS -----------------------------------------------------------------------------------


def test_canvas_nrps_pages_of_50_full_role_uris_and_removed_students(live_server) -> None:
    c = lms(live_server, "canvas")
    add_students(live_server, "canvas", 40)  # 27 seeded + 40 = 67 members
    http = c.session([NRPS])
    first = http.get(c.memberships, params={"limit": 500}, timeout=5)
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith(NRPS_TYPE)
    body = first.json()
    assert len(body["members"]) == 50  # the cap, whatever the limit
    assert body["context"]["label"] == "MATH5-FR" and body["context"]["id"] == c.context_id
    assert 'rel="current"' in first.headers["Link"]
    nxt = first.links["next"]["url"]
    assert "page=2" in nxt and "per_page=50" in nxt and "limit" not in nxt
    second = http.get(nxt, timeout=5).json()
    assert len(second["members"]) == 17 and "next" not in http.get(nxt, timeout=5).links
    members = body["members"] + second["members"]
    assert len({m["user_id"] for m in members}) == 67
    roles = {m["name"]: m["roles"] for m in members}
    assert roles["Terry Teacher"] == [MEMBERSHIP + "Instructor"]
    assert roles["Ava Adams"] == [MEMBERSHIP + "Learner"]
    assert all(m["status"] == "Active" for m in members)

    small = http.get(c.memberships, params={"limit": 10}, timeout=5)
    assert len(small.json()["members"]) == 10 and "per_page=10" in small.links["next"]["url"]

    learners = http.get(c.memberships, params={"role": MEMBERSHIP + "Learner"}, timeout=5)
    assert {tuple(m["roles"]) for m in learners.json()["members"]} == {(MEMBERSHIP + "Learner",)}

    with live_server.rt.session_factory() as s:
        students = people(s, "canvas")["student"]
        unenroll(s, "canvas", students[0].user_id)
        set_enrollment_status(s, "canvas", students[1].user_id, "Inactive")
        s.commit()
    after = http.get(c.memberships, params={"role": "Learner", "limit": 50}, timeout=5).json()
    by_sub = {m["user_id"]: m for m in after["members"]}
    assert students[0].sub not in by_sub
    assert by_sub[students[1].sub]["status"] == "Inactive"


def test_moodle_nrps_everything_at_once_or_limit_from_and_short_roles(live_server) -> None:
    m = lms(live_server, "moodle")
    http = m.session([NRPS])
    whole = http.get(m.memberships, timeout=5)
    assert whole.status_code == 200 and "Link" not in whole.headers
    assert whole.headers["Content-Type"] == f"{NRPS_TYPE}; charset=utf-8"
    body = whole.json()
    assert body["id"] == m.memberships and len(body["members"]) == 27
    teacher = next(x for x in body["members"] if x["name"] == "Terry Teacher")
    assert teacher["roles"] == ["Instructor"]
    student = next(x for x in body["members"] if x["name"] == "Ava Adams")
    assert student["roles"] == ["Learner"] and student["lis_person_sourcedid"] == ""
    assert set(student) >= {"status", "user_id", "given_name", "family_name", "email"}
    assert student["ext_user_username"]

    paged = http.get(m.memberships, params={"limit": 2}, timeout=5)
    assert len(paged.json()["members"]) == 2
    assert paged.headers["Link"] == f'<{m.memberships}?limit=2&from=2>; rel="next"'
    last = http.get(m.memberships, params={"limit": 2, "from": 26}, timeout=5)
    assert len(last.json()["members"]) == 1 and "Link" not in last.headers

    learners = http.get(m.memberships, params={"role": "Learner"}, timeout=5).json()["members"]
    assert len(learners) == 24 and all(x["roles"] == ["Learner"] for x in learners)
    instructors = http.get(m.memberships, params={"role": MEMBERSHIP + "Instructor"}, timeout=5)
    assert {x["name"] for x in instructors.json()["members"]} == {"Terry Teacher", "Tess Assistant"}

    with live_server.rt.session_factory() as s:
        gone = people(s, "moodle")["student"][3]
        unenroll(s, "moodle", gone.user_id)
        s.commit()
    subs = {x["user_id"] for x in http.get(m.memberships, timeout=5).json()["members"]}
    assert gone.sub not in subs and len(subs) == 26


@pytest.mark.parametrize(("slug", "scope_status"), [("canvas", 401), ("moodle", 403)])
def test_services_need_a_token_with_the_right_scope(live_server, slug: str, scope_status) -> None:
    x = lms(live_server, slug)
    assert requests.get(x.memberships, timeout=5).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert requests.get(x.memberships, headers=bad, timeout=5).status_code == 401
    assert requests.get(x.lineitems, headers=bad, timeout=5).status_code == 401
    score_only = x.session([SCORE])
    assert score_only.get(x.memberships, timeout=5).status_code == scope_status
    assert score_only.get(x.lineitems, timeout=5).status_code == 401
    readonly = x.session([LINEITEM_RO])
    assert readonly.get(x.lineitems, timeout=5).status_code == 200
    created = readonly.post(x.lineitems, json={"label": "x", "scoreMaximum": 1}, timeout=5)
    assert created.status_code == 401
    if slug == "canvas":
        assert created.json()["errors"]["message"] == "Insufficient permissions"


# -- AGS line items -------------------------------------------------------------------------


def link_line_item(live_server, x: Lms, label: str = "Mastery path", maximum: float = 100) -> int:
    """The line item the resource link itself has (a Canvas assignment, a Moodle activity)."""
    with live_server.rt.session_factory() as s:
        item = SandboxLineItem(
            course_id=x.course_id,
            tool_id=x.tool_id,
            label=label,
            score_maximum=maximum,
            link_id=x.main_link_id,
        )
        s.add(item)
        s.commit()
        return item.id


def test_canvas_line_items_round_trip_filters_paging_and_coupled_delete(live_server) -> None:
    c = lms(live_server, "canvas")
    http = c.session()
    own = link_line_item(live_server, c)
    made = http.post(
        c.lineitems,
        json={
            "label": "Fractions: equivalence",
            "scoreMaximum": 4,
            "resourceId": "comp-1",
            "tag": "competency",
            "startDateTime": "2026-01-01T00:00:00Z",
        },
        timeout=5,
    )
    assert made.status_code == 201 and made.headers["Content-Type"].startswith(LINEITEM_TYPE)
    item = made.json()
    assert item["id"].startswith(f"{c.lineitems}/") and item["scoreMaximum"] == 4
    assert item["resourceId"] == "comp-1" and item["tag"] == "competency"
    assert "resourceLinkId" not in item and item["startDateTime"] == "2026-01-01T00:00:00Z"
    assert http.get(item["id"], timeout=5).json() == item

    linked = http.post(
        c.lineitems,
        json={"label": "Second column", "scoreMaximum": 10, "resourceLinkId": c.main_link_lti_id},
        timeout=5,
    ).json()
    assert linked["resourceLinkId"] == c.main_link_lti_id

    changed = http.put(item["id"], json={"label": "Equivalence", "scoreMaximum": 5}, timeout=5)
    assert changed.status_code == 200 and changed.json()["label"] == "Equivalence"
    assert http.get(item["id"], timeout=5).json()["scoreMaximum"] == 5

    every = http.get(c.lineitems, timeout=5).json()
    assert {i["label"] for i in every} == {"Mastery path", "Equivalence", "Second column"}
    assert [i["id"] for i in http.get(c.lineitems, params={"tag": "competency"}).json()] == [
        item["id"]
    ]
    assert [i["id"] for i in http.get(c.lineitems, params={"resource_id": "comp-1"}).json()] == [
        item["id"]
    ]
    by_link = http.get(c.lineitems, params={"resource_link_id": c.main_link_lti_id}).json()
    assert {i["label"] for i in by_link} == {"Mastery path", "Second column"}
    page = http.get(c.lineitems, params={"limit": 2}, timeout=5)
    assert len(page.json()) == 2 and "next" in page.links
    assert len(http.get(page.links["next"]["url"], timeout=5).json()) == 1

    assert http.delete(f"{c.lineitems}/{own}", timeout=5).status_code == 401  # coupled
    assert http.delete(linked["id"], timeout=5).status_code == 204
    assert http.delete(item["id"], timeout=5).status_code == 204
    assert http.get(item["id"], timeout=5).status_code == 404
    missing = http.post(c.lineitems, json={"label": "no max"}, timeout=5)
    assert missing.status_code == 400 and "scoreMaximum" in missing.json()["errors"]["message"]


def test_moodle_line_items_query_string_urls_shapes_and_delete(live_server) -> None:
    m = lms(live_server, "moodle")
    http = m.session()
    own = link_line_item(live_server, m, "Mastery path", 100)
    made = http.post(
        m.lineitems,
        json={
            "label": "Extra tool column",
            "scoreMaximum": 50,
            "resourceId": "extra-1",
            "tag": "q",
        },
        timeout=5,
    )
    assert made.status_code == 201
    item = made.json()
    base = m.lineitems.split("?")[0]
    assert item["id"].startswith(f"{base}/") and item["id"].endswith(
        f"/lineitem?type_id={m.deployment_id}"
    )
    listed = http.get(m.lineitems, timeout=5)
    assert "Link" not in listed.headers
    by_label = {i["label"]: i for i in listed.json()}
    assert by_label["Extra tool column"] == {
        "id": item["id"],
        "label": "Extra tool column",
        "scoreMaximum": 50,
        "resourceId": "extra-1",
        "tag": "q",
    }
    activity = by_label["Mastery path"]
    assert activity["resourceId"] == "" and activity["tag"] == ""
    assert activity["resourceLinkId"] == m.main_link_lti_id == activity["ltiLinkId"]

    put = http.put(item["id"], json={"label": "Renamed", "scoreMaximum": 40, "tag": "q"})
    assert put.status_code == 200 and put.json()["id"] == item["id"]
    assert http.get(item["id"], timeout=5).json()["label"] == "Renamed"
    assert http.put(item["id"], json={"label": "no max"}, timeout=5).status_code == 400

    paged = http.get(m.lineitems, params={"limit": 1}, timeout=5)
    assert len(paged.json()) == 1
    # Moodle's Link header has typographic quotes, as UTF-8 bytes (http.client: latin-1)
    nxt = f"<{base}?type_id={m.deployment_id}&limit=1&from=1>; rel=“next”"
    assert nxt.encode().decode("latin-1") in paged.headers["Link"]
    assert [i["label"] for i in http.get(m.lineitems, params={"tag": "q"}).json()] == ["Renamed"]

    assert http.delete(f"{base}/{own}/lineitem?type_id={m.deployment_id}").status_code == 403
    assert http.delete(item["id"], timeout=5).status_code == 204
    assert http.get(item["id"], timeout=5).status_code == 404
    wrong_type = http.get(f"{base}/{own}/lineitem?type_id=999", timeout=5)
    assert wrong_type.status_code == 401 and wrong_type.text == "[]"


# -- AGS scores and results -----------------------------------------------------------------


def test_canvas_scores_refusals_and_results(live_server) -> None:
    c = lms(live_server, "canvas")
    http = c.session()
    item = http.post(c.lineitems, json={"label": "Quiz", "scoreMaximum": 10}, timeout=5).json()
    scores, results = item["id"] + "/scores", item["id"] + "/results"
    with live_server.rt.session_factory() as s:
        everyone = people(s, "canvas")
    ava, ben = everyone["student"][0], everyone["student"][1]
    teacher = everyone["teacher"][0]

    first = score(ava.sub, 7, 10, comment="good")
    ok = http.post(scores, json=first, timeout=5)
    assert ok.status_code == 200 and ok.headers["Content-Type"].startswith(SCORE_TYPE)
    assert ok.json()["resultUrl"].startswith(results + "/")
    # the same score again (a retry with its original timestamp) is accepted
    assert http.post(scores, json=first, timeout=5).status_code == 200

    older = score(ava.sub, 9, 10, timestamp=now_iso(-60))
    refused = http.post(scores, json=older, timeout=5)
    assert refused.status_code == 400 and "before last updated" in refused.text
    no_progress = score(ava.sub)
    del no_progress["activityProgress"]
    assert http.post(scores, json=no_progress, timeout=5).status_code == 400
    assert http.post(scores, json=score(teacher.sub), timeout=5).status_code == 422
    assert http.post(scores, json=score("nobody"), timeout=5).status_code == 422
    no_max = http.post(scores, json=score(ben.sub, 5, None), timeout=5)
    assert no_max.status_code == 422 and "ScoreMaximum" in no_max.text
    assert http.post(scores, json=score(ben.sub, 8, 10), timeout=5).status_code == 200

    read = http.get(results, timeout=5)
    assert read.headers["Content-Type"].startswith(
        "application/vnd.ims.lis.v2.resultcontainer+json"
    )
    got = {r["userId"]: r for r in read.json()}
    assert got[ava.sub]["resultScore"] == 7 and got[ava.sub]["resultMaximum"] == 10
    assert got[ava.sub]["comment"] == "good" and got[ava.sub]["scoreOf"] == item["id"]
    assert got[ben.sub]["resultScore"] == 8 and "timestamp" in got[ben.sub]
    only = http.get(results, params={"user_id": ben.sub}, timeout=5).json()
    assert [r["userId"] for r in only] == [ben.sub]
    assert len(http.get(results, params={"limit": 1}, timeout=5).json()) == 1
    with live_server.rt.session_factory() as s:
        posts = s.scalar(select(SandboxResult.posts).where(SandboxResult.user_id == ava.user_id))
    assert posts == 2


def test_moodle_scores_second_resolution_409_and_bodies(live_server) -> None:
    m = lms(live_server, "moodle")
    http = m.session()
    item = http.post(m.lineitems, json={"label": "Quiz", "scoreMaximum": 100}, timeout=5).json()
    scores, results = moodle_segment(item["id"], "scores"), moodle_segment(item["id"], "results")
    assert scores.endswith(f"/lineitem/scores?type_id={m.deployment_id}")
    with live_server.rt.session_factory() as s:
        everyone = people(s, "moodle")
    sam, sally = everyone["student"][0], everyone["student"][1]
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)

    def post(body: dict) -> requests.Response:
        return http.post(scores, json=body, timeout=5)

    ok = post(score(sam.sub, 8.7, 10, timestamp=t.isoformat(), comment="from test tool"))
    assert ok.status_code == 200
    again = post(score(sam.sub, 8.7, 10, timestamp=t.isoformat()))
    assert again.status_code == 409 and again.text == "[]"
    same_second = post(score(sam.sub, 9, 10, timestamp=(t + timedelta(seconds=0.999)).isoformat()))
    assert same_second.status_code == 409
    assert post(score(sam.sub, 9, 10, timestamp=(t + timedelta(seconds=1)).isoformat())).ok
    empty = post(score(sally.sub, 5, 10, timestamp=""))
    assert empty.status_code == 400 and empty.text == "[]"
    teacher = post(score(everyone["teacher"][0].sub))
    assert teacher.status_code == 400 and teacher.text == "[]"
    pending = score(sally.sub, 5, 10, gradingProgress="Pending")
    assert post(pending).status_code == 200

    got = {r["userId"]: r for r in http.get(results, timeout=5).json()}
    assert got[sam.sub]["resultScore"] == 90 and got[sam.sub]["resultMaximum"] == 100
    assert got[sam.sub]["id"] == f"{results}&user_id={sam.sub}"
    assert got[sam.sub]["scoreOf"] == item["id"]
    assert got[sam.sub]["timestamp"] == (t + timedelta(seconds=1)).isoformat()
    assert "resultScore" not in got[sally.sub]  # Pending cleared scoreGiven
    one = http.get(results, params={"user_id": sally.sub}, timeout=5).json()
    assert [r["userId"] for r in one] == [sally.sub]
    assert http.get(scores, timeout=5).status_code == 405


# -- deep linking ---------------------------------------------------------------------------


def deep_linking_request(live_server, x: Lms) -> dict:
    """The teacher's deep-linking launch, up to the id_token the platform posts to the tool."""
    rt = live_server.rt
    with rt.session_factory() as s:
        teacher = people(s, x.slug)["teacher"][0]
        dl = s.scalar(
            select(SandboxLink).where(
                SandboxLink.course_id == x.course_id,
                SandboxLink.message_type == "LtiDeepLinkingRequest",
            )
        )
    b = Browser()
    base = f"{live_server.platform_url}/sandbox/{x.slug}"
    b.post(
        f"{base}/courses/{x.course_id}/launch-as",
        {"user_id": str(teacher.user_id), "link_id": str(dl.id)},
    )
    form = forms(b.get(f"{base}/links/{dl.id}/initiate").text)[0]
    to_tool = b.http.post(form["action"], data=form["fields"], allow_redirects=False, timeout=10)
    auth_url = auth_url_of(to_tool)
    answer = b.get(auth_url.split("?", 1)[0], params=query(auth_url))
    token = forms(answer.text)[0]["fields"]["id_token"]
    return jwt.decode(token, options={"verify_signature": False})


def response_jwt(live_server, x: Lms, settings: dict, items: list[dict], **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": x.client_id,
        "aud": x.issuer,
        "iat": now,
        "exp": now + 300,
        "nonce": "n-" + str(now),
        "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiDeepLinkingResponse",
        "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": x.deployment_id,
        "https://purl.imsglobal.org/spec/lti-dl/claim/data": settings["data"],
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": items,
        "https://purl.imsglobal.org/spec/lti-dl/claim/msg": "2 modules placed",
        "https://purl.imsglobal.org/spec/lti-dl/claim/log": "placed m1 m2",
        **changes,
    }
    with live_server.rt.session_factory() as s:
        kid, private = keys.signing_key(s, "")
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_deep_linking_return_adds_links_and_line_items(live_server, slug: str) -> None:
    x = lms(live_server, slug)
    claims = deep_linking_request(live_server, x)
    settings = claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"]
    assert settings["deep_link_return_url"] == x.deep_link_return
    items = [
        {
            "type": "ltiResourceLink",
            "title": "Module: equivalent fractions",
            "url": f"{live_server.tool_url}/lti/launch",
            "custom": {"module": "m1"},
            "lineItem": {"scoreMaximum": 4, "label": "Equivalent fractions", "tag": "mastery"},
        },
        {"type": "ltiResourceLink", "title": "Module: reading", "custom": {"module": "m2"}},
    ]

    def post(token: str) -> requests.Response:
        return requests.post(x.deep_link_return, data={"JWT": token}, timeout=10)

    forged = response_jwt(live_server, x, settings, items)
    head, body, sig = forged.split(".")
    bad_sig = post(f"{head}.{body}.{sig[:-4]}AAAA")
    assert bad_sig.status_code == 400 and "Signature verification failed" in bad_sig.text
    wrong_aud = post(response_jwt(live_server, x, settings, items, aud="https://other.example"))
    assert wrong_aud.status_code == 400 and "aud must be the platform issuer" in wrong_aud.text
    changed = {**settings, "data": settings["data"] + "x"}
    changed_data = post(response_jwt(live_server, x, changed, items))
    assert changed_data.status_code == 400 and "data" in changed_data.text
    wrong_type = post(response_jwt(live_server, x, settings, [{"type": "html", "html": "<p>"}]))
    assert wrong_type.status_code == 400 and "accept_types" in wrong_type.text

    done = post(response_jwt(live_server, x, settings, items))
    assert done.status_code == 200, done.text
    assert "Module: equivalent fractions" in done.text and "2 modules placed" in done.text
    assert "placed m1 m2" in done.text and f"/courses/{x.course_id}" in done.text
    with live_server.rt.session_factory() as s:
        links = {
            link.title: link
            for link in s.scalars(select(SandboxLink).where(SandboxLink.course_id == x.course_id))
        }
        added = links["Module: equivalent fractions"]
        assert added.custom == {"module": "m1"} and added.url.endswith("/lti/launch")
        assert links["Module: reading"].url is None
        li = s.scalar(select(SandboxLineItem).where(SandboxLineItem.link_id == added.id))
        assert (li.label, li.score_maximum, li.tag, li.tool_id) == (
            "Equivalent fractions",
            4,
            "mastery",
            x.tool_id,
        )
    # the same response again: the request's data was used up
    assert post(response_jwt(live_server, x, settings, items)).status_code == 400
    course = requests.get(
        f"{live_server.platform_url}/sandbox/{slug}/courses/{x.course_id}", timeout=5
    )
    assert "Module: reading" in course.text and "/gradebook" in course.text


# -- gradebook ------------------------------------------------------------------------------


def test_gradebook_typed_grade_is_read_back_through_ags(live_server) -> None:
    c = lms(live_server, "canvas")
    http = c.session()
    item = http.post(c.lineitems, json={"label": "Essay", "scoreMaximum": 20}, timeout=5).json()
    item_id = int(item["id"].rsplit("/", 1)[1])
    with live_server.rt.session_factory() as s:
        ava = people(s, "canvas")["student"][0]
    page_url = f"{live_server.platform_url}/sandbox/canvas/courses/{c.course_id}/gradebook"
    page = requests.get(page_url, timeout=5)
    assert page.status_code == 200 and "Essay" in page.text
    field = f"grade-{item_id}-{ava.user_id}"
    assert f'<label class="visually-hidden" for="{field}">Ava Adams, Essay' in page.text
    form = forms(page.text)[0]
    saved = requests.post(
        page_url, data={**form["fields"], field: "17.5"}, timeout=5, allow_redirects=True
    )
    assert saved.status_code == 200 and "Saved 1 grade." in saved.text
    assert 'value="17.5"' in saved.text
    got = http.get(item["id"] + "/results", params={"user_id": ava.sub}, timeout=5).json()
    assert got[0]["resultScore"] == 17.5 and got[0]["resultMaximum"] == 20
    # a tool score stamped before the teacher's edit is now refused
    late = http.post(item["id"] + "/scores", json=score(ava.sub, 1, 20, timestamp=now_iso(-5)))
    assert late.status_code == 400
    with live_server.rt.session_factory() as s:
        book = gradebook(s, c.course_id)
    row = next(r for r in book.rows if r.user_id == ava.user_id)
    assert row.grades[item_id] == 17.5 and len(book.rows) == 24


# -- fault switch ---------------------------------------------------------------------------


def test_fault_switch_produces_each_kind_at_the_set_rate(live_server) -> None:
    m = lms(live_server, "moodle")
    http = m.session([NRPS])  # the token first: the token endpoint fails too
    faults_url = f"{live_server.platform_url}/sandbox/moodle/faults"
    set_to = {"error_rate": 0.5, "kinds": ["500", "503", "429", "drop"], "retry_after": 3}
    assert requests.post(faults_url, json=set_to, timeout=5).json()["kinds"] == set_to["kinds"]
    outcomes = []
    for _ in range(16):
        try:
            r = http.get(m.memberships, timeout=5)
            outcomes.append(r.status_code)
            if r.status_code == 429:
                assert r.headers["Retry-After"] == "3"
        except requests.ConnectionError:
            outcomes.append("drop")
    assert outcomes == [200, 500, 200, 503, 200, 429, 200, "drop"] * 2
    # launch pages never fail
    course = f"{live_server.platform_url}/sandbox/moodle/courses/{m.course_id}"
    assert all(requests.get(course, timeout=5).status_code == 200 for _ in range(4))

    with live_server.rt.session_factory() as s:
        set_faults(s, "moodle", error_rate=0.1, kinds="429", latency_ms=20)
        s.commit()
    assert requests.get(faults_url, timeout=5).json()["latency_ms"] == 20
    start = time.perf_counter()
    statuses = [http.get(m.memberships, timeout=5).status_code for _ in range(20)]
    assert statuses.count(429) == 2 and statuses.count(200) == 18
    assert time.perf_counter() - start >= 20 * 0.02
    bad = requests.post(faults_url, json={"error_rate": 2}, timeout=5)
    assert bad.status_code == 400 and "error_rate" in bad.json()["error"]


def test_cli_sets_the_fault_switch_and_unenrolls(live_server, database_url, monkeypatch) -> None:
    from click.testing import CliRunner

    from lti_tool.cli import main

    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", database_url)
    monkeypatch.setenv("LTI_TOOL_BASE_URL", live_server.tool_url)
    monkeypatch.setenv("LTI_TOOL_LOG_LEVEL", "WARNING")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, ["sandbox", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    c = lms(live_server, "canvas")
    http = c.session([NRPS])
    run("faults", "--platform", "canvas", "--error-rate", "1", "--kinds", "503,429,403")
    assert [http.get(c.memberships, timeout=5).status_code for _ in range(2)] == [503, 429]
    throttled = http.get(c.memberships, timeout=5)
    assert throttled.status_code == 403 and "Rate Limit Exceeded" in throttled.text
    assert throttled.headers["X-Rate-Limit-Remaining"] == "0.0"
    token_url = f"{live_server.platform_url}/sandbox/canvas/login/oauth2/token"
    assert requests.post(token_url, data={}, timeout=5).status_code == 503  # token endpoint too
    run("faults", "--platform", "canvas", "--off")
    assert http.get(c.memberships, timeout=5).status_code == 200
    bad = runner.invoke(main, ["sandbox", "faults", "--platform", "canvas", "--kinds", "404"])
    assert bad.exit_code != 0 and "kinds" in bad.output

    with live_server.rt.session_factory() as s:
        students = people(s, "canvas")["student"]
    run("unenroll", "--platform", "canvas", "--user-id", str(students[0].user_id))
    run("unenroll", "--platform", "canvas", "--user-id", str(students[1].user_id), "--inactive")
    members = {m["user_id"]: m for m in http.get(c.memberships, timeout=5).json()["members"]}
    assert students[0].sub not in members and members[students[1].sub]["status"] == "Inactive"
