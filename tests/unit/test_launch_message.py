"""The launch message: a verified token's claims read once, checked and cleaned."""

from __future__ import annotations

from typing import Any

import pytest

from lti_tool.lti.errors import LaunchError
from lti_tool.lti.message import (
    AGS,
    DEEP_LINKING_REQUEST,
    DL,
    LTI,
    NRPS,
    parse_message,
)
from lti_tool.lti.roles import MEMBERSHIP


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": "https://lms.example",
        "aud": "client-1",
        "sub": "u1",
        "name": "Ava Ng",
        "email": "ava@school.example",
        LTI + "version": "1.3.0",
        LTI + "message_type": "LtiResourceLinkRequest",
        LTI + "deployment_id": "d1",
        LTI + "target_link_uri": "https://tool.example/lti/launch",
        LTI + "roles": [MEMBERSHIP + "#Learner"],
        LTI + "context": {"id": "c1", "title": "Fractions", "label": "F1"},
        LTI + "resource_link": {"id": "r1", "title": "Lesson"},
        LTI + "launch_presentation": {"return_url": "https://school.lms.example/courses/1"},
        LTI + "custom": {"module_id": "42"},
        NRPS: {"context_memberships_url": "https://lms.example/nrps"},
        AGS: {"lineitems": "https://lms.example/items", "scope": ["s1"]},
    }
    base.update(changes)
    return base


def test_a_resource_link_launch_reads_into_typed_fields() -> None:
    m = parse_message(claims())
    assert (m.issuer, m.client_id, m.deployment_id, m.sub) == (
        "https://lms.example",
        "client-1",
        "d1",
        "u1",
    )
    assert m.role == "student" and m.roles == (MEMBERSHIP + "#Learner",)
    assert (m.context_id, m.context_title, m.context_label) == ("c1", "Fractions", "F1")
    assert (m.resource_link_id, m.resource_link_title) == ("r1", "Lesson")
    assert m.placed_module_id == 42
    assert m.frame_origins == ("https://school.lms.example",)
    assert m.memberships_url == "https://lms.example/nrps"
    assert m.lineitems_url == "https://lms.example/items" and m.ags_scopes == ("s1",)
    assert m.person["email"] == "ava@school.example"
    assert m.platform_family == "other" and not m.is_deep_linking


@pytest.mark.parametrize(
    ("change", "family"),
    [
        ({LTI + "tool_platform": {"product_family_code": "moodle"}}, "moodle"),
        ({LTI + "tool_platform": {"product_family_code": "canvas"}}, "canvas"),
        ({"https://www.instructure.com/placement": "course_navigation"}, "canvas"),
        ({LTI + "tool_platform": {"product_family_code": "sakai"}}, "other"),
        ({LTI + "tool_platform": "moodle"}, "other"),
    ],
)
def test_the_platform_family_is_read_from_the_claims(change: dict, family: str) -> None:
    assert parse_message(claims(**change)).platform_family == family


def test_a_deep_linking_request_has_no_link_and_frames_for_its_return_url() -> None:
    m = parse_message(
        claims(
            **{
                LTI + "message_type": DEEP_LINKING_REQUEST,
                LTI + "resource_link": None,
                LTI + "launch_presentation": {"return_url": "https://school.lms.example/a"},
                DL + "deep_linking_settings": {
                    "deep_link_return_url": "https://other.lms.example:8443/dl"
                },
            }
        )
    )
    assert m.is_deep_linking and m.resource_link_id is None
    assert m.frame_origins == ("https://school.lms.example", "https://other.lms.example:8443")
    assert m.deep_linking_settings == {"deep_link_return_url": "https://other.lms.example:8443/dl"}


@pytest.mark.parametrize("module_id", ["9" * 10, "-1", "4x", "", None, "٣"])
def test_a_module_id_that_is_no_small_number_is_ignored(module_id: Any) -> None:
    assert (
        parse_message(claims(**{LTI + "custom": {"module_id": module_id}})).placed_module_id is None
    )


def test_a_launch_without_a_context_is_a_one_person_course() -> None:
    assert parse_message(claims(**{LTI + "context": "not an object"})).context_id == "no-context:u1"
    assert parse_message(claims(**{LTI + "context": None})).context_title == "Untitled course"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({LTI + "version": "1.1"}, "LTI version"),
        ({LTI + "message_type": "LtiSubmissionReview"}, "message type"),
        ({LTI + "deployment_id": ""}, "deployment_id claim missing"),
        ({"sub": ""}, "sub claim missing"),
        ({LTI + "roles": "Learner"}, "roles claim missing"),
        ({LTI + "resource_link": {"title": "x"}}, "resource_link.id missing"),
        ({"sub": "s" * 256}, "user id is 256 characters long"),
        ({LTI + "context": {"id": "c\x00"}}, "course id contains a NUL"),
    ],
)
def test_missing_or_unkeepable_claims_are_refused(change: dict, reason: str) -> None:
    with pytest.raises(LaunchError) as refused:
        parse_message(claims(**change))
    assert refused.value.status == 400 and reason in refused.value.reason
