"""Assignment and Grade Services 2.0: line items, results and scores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lti_tool.clients.lti_services import (
    ServiceCaller,
    ServiceError,
    expect_ok,
    service_url,
    with_query,
)

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
SCORE = "application/vnd.ims.lis.v1.score+json"


@dataclass(frozen=True)
class ScoreOutcome:
    """What became of one score: posted, or refused for good for this person (with why)."""

    posted: bool
    status: int
    reason: str = ""
    # On a 409: the value the LMS holds instead of ours (a teacher typed it), kept there.
    lms_score: float | None = None
    lms_maximum: float | None = None

    @property
    def changed_in_lms(self) -> bool:
        return self.status == 409 and not self.posted


def lineitems(
    caller: ServiceCaller,
    url: str,
    *,
    tag: str | None = None,
    resource_id: str | None = None,
    resource_link_id: str | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    filters = {
        k: v
        for k, v in (
            ("tag", tag),
            ("resource_id", resource_id),
            ("resource_link_id", resource_link_id),
            ("limit", str(limit) if limit else None),
        )
        if v is not None
    }
    for body, resp in caller.pages(
        with_query(url, filters), [SCOPE_LINEITEM_READ, SCOPE_LINEITEM], LINEITEMS
    ):
        if not isinstance(body, list):
            raise ServiceError(f"{resp.url} answered no list of line items", resp.url, 200)
        yield from (item for item in body if isinstance(item, dict))


def create_lineitem(caller: ServiceCaller, url: str, item: dict[str, Any]) -> dict[str, Any]:
    resp = caller.call(
        "POST", url, [SCOPE_LINEITEM], accept=LINEITEM, content_type=LINEITEM, body=item
    )
    expect_ok(resp, "create a line item at")
    created: dict[str, Any] = resp.json()
    return created


def get_lineitem(caller: ServiceCaller, url: str) -> dict[str, Any] | None:
    resp = caller.call("GET", url, [SCOPE_LINEITEM_READ, SCOPE_LINEITEM], accept=LINEITEM)
    if resp.status_code == 404:
        return None
    expect_ok(resp, "read the line item")
    found: dict[str, Any] = resp.json()
    return found


def update_lineitem(caller: ServiceCaller, url: str, item: dict[str, Any]) -> dict[str, Any]:
    resp = caller.call(
        "PUT", url, [SCOPE_LINEITEM], accept=LINEITEM, content_type=LINEITEM, body=item
    )
    expect_ok(resp, "update the line item")
    updated: dict[str, Any] = resp.json()
    return updated


def delete_lineitem(caller: ServiceCaller, url: str) -> bool:
    """True when deleted (or already gone)."""
    resp = caller.call("DELETE", url, [SCOPE_LINEITEM])
    if resp.status_code == 404:
        return True
    expect_ok(resp, "delete the line item")
    return True


def results(
    caller: ServiceCaller, lineitem_url: str, user_id: str | None = None
) -> Iterator[dict[str, Any]]:
    url = service_url(lineitem_url, "results")
    if user_id is not None:
        url = with_query(url, {"user_id": user_id})
    for body, resp in caller.pages(url, [SCOPE_RESULT_READ], RESULTS):
        if not isinstance(body, list):
            raise ServiceError(f"{resp.url} answered no list of results", resp.url, 200)
        yield from (r for r in body if isinstance(r, dict))


def post_score(caller: ServiceCaller, lineitem_url: str, score: dict[str, Any]) -> ScoreOutcome:
    """Post one score. Final refusals for this person (Canvas 422 for a non-student, Moodle
    400 for someone it cannot grade) come back as an outcome, not an exception; Moodle's 409
    for a timestamp not newer than the stored one comes back posted, for the caller to read
    the result back (`grading.stamps.post_grade`): it may hold our score or a newer one."""
    if "scoreGiven" in score and "scoreMaximum" not in score:
        raise ValueError("scoreMaximum is required whenever scoreGiven is set")
    resp = caller.call(
        "POST",
        service_url(lineitem_url, "scores"),
        [SCOPE_SCORE],
        content_type=SCORE,
        body=score,
    )
    if 200 <= resp.status_code < 300:
        return ScoreOutcome(True, resp.status_code)
    text = resp.text.strip()
    if resp.status_code == 409:
        return ScoreOutcome(
            True, 409, "the platform already has a score at least this new (Moodle 409)"
        )
    if resp.status_code == 422:
        return ScoreOutcome(False, 422, f"not a student of the course: {text[:200]}")
    if resp.status_code == 400:
        return ScoreOutcome(False, 400, f"refused by the platform: {text[:200] or '(no reason)'}")
    expect_ok(resp, "post a score to")
    return ScoreOutcome(True, resp.status_code)
