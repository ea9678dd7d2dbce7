"""LTI Dynamic Registration 1.0, the tool's side: read a platform's configuration, write the
tool's registration request in that platform's shape, read its answer
(shared/platforms/dynamic-registration.md).

No IO here: `services/dynamic_registration.py` makes the calls and stores the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lti_tool.lti.message import origin
from lti_tool.settings import Settings

PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CANVAS = "https://canvas.instructure.com/lti/"

TOOL_NAME = "Mastery path"
TOOL_DESCRIPTION = (
    "Mastery-based learning: competencies, unlock rules and competency scores in the gradebook."
)
# What the tool uses: column management (Moodle maps `lineitem` to "sync and column
# management", which competency columns need), results, scores and the roster.
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")
# Course copy reads the course's history (issue 14 item 3); Canvas also names its course id.
CUSTOM_PARAMETERS = {"context_history": "$Context.id.history"}
CANVAS_CUSTOM_PARAMETERS = {**CUSTOM_PARAMETERS, "canvas_course_id": "$Canvas.course.id"}
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"


class ConfigurationRefused(ValueError):
    """The platform's configuration or answer cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class PlatformConfiguration:
    """What the tool reads of a platform's openid configuration."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product_family: str  # canvas | moodle | other
    scopes_supported: tuple[str, ...] | None
    messages_supported: tuple[str, ...] | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class RegistrationAnswer:
    client_id: str
    deployment_id: str | None


def configuration_origin(openid_configuration: str) -> str | None:
    """The origin the configuration URL names (None for anything but a plain http(s) URL)."""
    return origin(openid_configuration)


def read_configuration(
    openid_configuration: str, doc: Any, https_only: bool = False
) -> PlatformConfiguration:
    """The platform's configuration, checked: an object, every endpoint an http(s) URL (https
    in production), and the issuer on the origin the configuration came from (so a
    configuration cannot speak for another platform)."""
    if not isinstance(doc, dict):
        raise ConfigurationRefused("the configuration is not a JSON object")
    issuer = doc.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise ConfigurationRefused("the configuration names no issuer")
    url_origin = configuration_origin(openid_configuration)
    if url_origin is None or origin(issuer) != url_origin:
        raise ConfigurationRefused(
            f"the configuration's issuer {issuer!r} is not on the site it came from "
            f"({url_origin or openid_configuration!r})"
        )
    urls = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"):
        value = doc.get(name)
        if not _http_url(value):
            raise ConfigurationRefused(f"the configuration's {name} is missing or not a URL")
        if https_only and not value.startswith("https://"):
            raise ConfigurationRefused(f"the configuration's {name} is not an https URL")
        urls[name] = value
    platform = doc.get(PLATFORM_CONFIG)
    platform = platform if isinstance(platform, dict) else {}
    family = str(platform.get("product_family_code") or "").strip().lower()
    return PlatformConfiguration(
        issuer=issuer,
        product_family=family if family in ("canvas", "moodle") else "other",
        scopes_supported=_strings(doc.get("scopes_supported")),
        messages_supported=_message_types(platform.get("messages_supported")),
        raw=doc,
        **urls,
    )


def _http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _strings(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(v for v in value if isinstance(v, str))


def _message_types(value: object) -> tuple[str, ...] | None:
    """Moodle 4.x and Canvas list objects `{type, placements}`, older Moodle plain strings."""
    if not isinstance(value, list):
        return None
    types = []
    for entry in value:
        if isinstance(entry, str):
            types.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("type"), str):
            types.append(entry["type"])
    return tuple(types)


def registration_request(settings: Settings, config: PlatformConfiguration) -> dict[str, Any]:
    """The tool's registration JSON in the platform's shape: only scopes it supports (Canvas
    answers 422 to an unknown one), Canvas' placements and privacy level, and the custom
    parameters course copy needs."""
    launch = settings.url("/lti/launch")
    domain = urlsplit(settings.base_url).netloc  # host[:port]: Moodle compares it with the
    # target_link_uri's, port included
    canvas = config.product_family == "canvas"
    custom = dict(CANVAS_CUSTOM_PARAMETERS if canvas else CUSTOM_PARAMETERS)
    scopes = [s for s in SCOPES if config.scopes_supported is None or s in config.scopes_supported]
    tool_config: dict[str, Any] = {
        "domain": domain,
        "target_link_uri": launch,
        "custom_parameters": custom,
        "claims": list(CLAIMS),
        "description": TOOL_DESCRIPTION,
        "messages": _messages(launch, config, canvas),
    }
    if canvas:
        tool_config[CANVAS + "privacy_level"] = "public"
        tool_config[CANVAS + "tool_id"] = "lti-mastery-tool"
        tool_config[CANVAS + "vendor"] = TOOL_NAME
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": settings.url("/lti/login"),
        "redirect_uris": [launch],
        "client_name": TOOL_NAME,
        "jwks_uri": settings.url("/.well-known/jwks.json"),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIG: tool_config,
    }


def _messages(launch: str, config: PlatformConfiguration, canvas: bool) -> list[dict[str, Any]]:
    supported = config.messages_supported
    messages: list[dict[str, Any]] = []
    if supported is None or DEEP_LINKING in supported:
        deep_linking: dict[str, Any] = {
            "type": DEEP_LINKING,
            "target_link_uri": launch,
            "label": "Add mastery modules",
        }
        if canvas:
            deep_linking["placements"] = ["link_selection", "assignment_selection"]
        messages.append(deep_linking)
    if canvas and (supported is None or RESOURCE_LINK in supported):
        messages.append(
            {
                "type": RESOURCE_LINK,
                "target_link_uri": launch,
                "label": TOOL_NAME,
                "placements": ["course_navigation"],
                CANVAS + "course_navigation/default_enabled": True,
                CANVAS + "visibility": "public",
            }
        )
    return messages


def read_answer(doc: Any) -> RegistrationAnswer:
    """The client id and the deployment id of the platform's answer: Moodle nests the
    deployment in the tool configuration, Canvas puts it at the top (newer flow), or there is
    none (it comes with the first launch)."""
    if not isinstance(doc, dict):
        raise ConfigurationRefused("the platform's answer is not a JSON object")
    client_id = doc.get("client_id")
    if isinstance(client_id, int) and not isinstance(client_id, bool):
        client_id = str(client_id)
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > 255:
        raise ConfigurationRefused("the platform's answer has no usable client_id")
    tool_config = doc.get(TOOL_CONFIG)
    nested = tool_config.get("deployment_id") if isinstance(tool_config, dict) else None
    deployment = nested if nested not in (None, "") else doc.get("deployment_id")
    if isinstance(deployment, int) and not isinstance(deployment, bool):
        deployment = str(deployment)
    if deployment in (None, ""):
        return RegistrationAnswer(client_id.strip(), None)
    if not isinstance(deployment, str) or len(deployment) > 255 or "\x00" in deployment:
        raise ConfigurationRefused("the platform's answer has an unusable deployment_id")
    return RegistrationAnswer(client_id.strip(), deployment)
