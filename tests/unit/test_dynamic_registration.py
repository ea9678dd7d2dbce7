"""The tool's side of Dynamic Registration without IO: what it accepts of an LMS's
configuration, what it asks each LMS for, and where it finds the deployment id."""

from __future__ import annotations

from typing import Any

import pytest

from lti_tool.lti.dynamic_registration import (
    PLATFORM_CONFIG,
    SCOPES,
    TOOL_CONFIG,
    ConfigurationRefused,
    read_answer,
    read_configuration,
    registration_request,
)
from lti_tool.settings import load_settings

URL = "https://school.example/moodle/mod/lti/openid-configuration.php"
SETTINGS = load_settings(environ={}, overrides={"base_url": "https://tool.example:8443"})


def _config(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "issuer": "https://school.example/moodle",
        "authorization_endpoint": "https://school.example/moodle/mod/lti/auth.php",
        "token_endpoint": "https://school.example/moodle/mod/lti/token.php",
        "jwks_uri": "https://school.example/moodle/mod/lti/certs.php",
        "registration_endpoint": "https://school.example/moodle/mod/lti/openid-registration.php",
        "scopes_supported": [*SCOPES, "openid"],
        PLATFORM_CONFIG: {
            "product_family_code": "moodle",
            "messages_supported": [
                {"type": "LtiResourceLinkRequest"},
                {"type": "LtiDeepLinkingRequest", "placements": ["ContentArea"]},
            ],
        },
    }
    doc.update(changes)
    return doc


def test_moodle_request() -> None:
    body = registration_request(SETTINGS, read_configuration(URL, _config()))
    tool = body[TOOL_CONFIG]
    # Moodle compares the target_link_uri's host with the domain, port included
    assert tool["domain"] == "tool.example:8443"
    assert tool["target_link_uri"] == "https://tool.example:8443/lti/launch"
    assert body["redirect_uris"] == ["https://tool.example:8443/lti/launch"]
    assert body["initiate_login_uri"] == "https://tool.example:8443/lti/login"
    assert body["jwks_uri"] == "https://tool.example:8443/.well-known/jwks.json"
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["scope"].split() == list(SCOPES)  # one string; lineitem: column management
    assert tool["custom_parameters"] == {"context_history": "$Context.id.history"}
    assert [m["type"] for m in tool["messages"]] == ["LtiDeepLinkingRequest"]
    assert set(tool["claims"]) >= {"name", "email"}
    assert not any(k.startswith("https://canvas.instructure.com/") for k in tool)


def test_canvas_request_and_only_supported_scopes() -> None:
    doc = _config(
        issuer="https://canvas.instructure.com",
        scopes_supported=list(SCOPES[1:]),  # no column management offered
        **{PLATFORM_CONFIG: {"product_family_code": "canvas"}},
    )
    url = (
        "https://canvas.instructure.com/api/lti/security/openid-configuration?registration_token=x"
    )
    config = read_configuration(url, doc)
    assert config.product_family == "canvas"
    body = registration_request(SETTINGS, config)
    tool = body[TOOL_CONFIG]
    assert body["scope"].split() == list(SCOPES[1:])  # Canvas answers 422 to unknown ones
    assert tool["https://canvas.instructure.com/lti/privacy_level"] == "public"
    assert tool["custom_parameters"]["context_history"] == "$Context.id.history"
    assert tool["custom_parameters"]["canvas_course_id"] == "$Canvas.course.id"
    by_type = {m["type"]: m for m in tool["messages"]}
    assert by_type["LtiResourceLinkRequest"]["placements"] == ["course_navigation"]
    assert by_type["LtiDeepLinkingRequest"]["placements"] == [
        "link_selection",
        "assignment_selection",
    ]


def test_older_moodle_lists_message_types_as_strings() -> None:
    platform = {"product_family_code": "moodle", "messages_supported": ["LtiResourceLinkRequest"]}
    doc = _config(**{PLATFORM_CONFIG: platform})
    config = read_configuration(URL, doc)
    assert config.messages_supported == ("LtiResourceLinkRequest",)
    assert registration_request(SETTINGS, config)[TOOL_CONFIG]["messages"] == []


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (_config(issuer="https://evil.example"), "not on the site it came from"),
        (_config(issuer="http://school.example/moodle"), "not on the site it came from"),
        (_config(issuer=None), "names no issuer"),
        (_config(registration_endpoint="javascript:alert(1)"), "registration_endpoint"),
        (_config(jwks_uri=None), "jwks_uri"),
        ([_config()], "not a JSON object"),
    ],
)
def test_configuration_refused(doc: Any, words: str) -> None:
    with pytest.raises(ConfigurationRefused, match=words):
        read_configuration(URL, doc)


def test_deployment_id_where_each_lms_puts_it() -> None:
    moodle = read_answer({"client_id": "SaOGbY8zwchKOCg", TOOL_CONFIG: {"deployment_id": "3"}})
    assert (moodle.client_id, moodle.deployment_id) == ("SaOGbY8zwchKOCg", "3")
    canvas = read_answer({"client_id": 10000000000042, "deployment_id": "12:8865aa05"})
    assert (canvas.client_id, canvas.deployment_id) == ("10000000000042", "12:8865aa05")
    older = read_answer({"client_id": "10000000000042", TOOL_CONFIG: {"domain": "x"}})
    assert older.deployment_id is None


@pytest.mark.parametrize(
    "doc",
    [{}, {"client_id": ""}, {"client_id": True}, {"client_id": "x" * 256}, "text",
     {"client_id": "a", "deployment_id": ["1"]}],
)  # fmt: skip
def test_answer_refused(doc: Any) -> None:
    with pytest.raises(ConfigurationRefused):
        read_answer(doc)


def test_production_reads_https_only() -> None:
    doc = _config(token_endpoint="http://school.example/moodle/mod/lti/token.php")
    assert read_configuration(URL, doc).token_endpoint.startswith("http://")
    with pytest.raises(ConfigurationRefused, match="token_endpoint is not an https URL"):
        read_configuration(URL, doc, https_only=True)
