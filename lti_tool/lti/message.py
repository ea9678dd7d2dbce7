"""A verified launch's claims read once (LTI 1.3 core §5.3-5.4, Deep Linking 2.0 §4.4): checked,
cleaned for the database and typed, so services and views never read a raw claim again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lti_tool.lti.errors import ADMIN_HINT, LaunchError, bad_request
from lti_tool.lti.roles import tool_role
from lti_tool.models.course import Context, ResourceLink, User
from lti_tool.models.platform import Deployment
from lti_tool.models.stored_text import (
    display_text,
    id_problem,
    limit_of,
    url_or_none,
    whole_or_empty,
)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CANVAS_PLACEMENT = "https://www.instructure.com/placement"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
FAMILIES = ("canvas", "moodle")


@dataclass(frozen=True)
class LaunchMessage:
    """What a launch says, as the tool keeps it: text cleaned, ids checked, URLs usable."""

    message_type: str
    issuer: str
    client_id: str
    deployment_id: str
    target_link_uri: str | None
    sub: str
    # name, given_name, family_name and email as the users table keeps them.
    person: dict[str, str]
    roles: tuple[str, ...]
    role: str
    mentees: tuple[str, ...]
    context_id: str
    context_title: str
    context_label: str
    resource_link_id: str | None
    resource_link_title: str
    custom: dict[str, Any]
    # The module a deep-linked item opens (custom module_id), not yet checked to be in the course.
    placed_module_id: int | None
    platform_family: str
    # Where this launch's pages may be framed: the LMS host its return URLs name.
    frame_origins: tuple[str, ...]
    memberships_url: str | None
    lineitems_url: str | None
    lineitem_url: str | None
    ags_scopes: tuple[Any, ...]
    deep_linking_settings: dict[str, Any] | None
    # The verified payload, kept whole only for the deep-linking response it answers.
    claims: dict[str, Any]

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == DEEP_LINKING_REQUEST


HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]")


def origin(url: object) -> str | None:
    """The scheme://host[:port] of an http(s) URL, or None; it goes into a header, so only
    a plain host and port pass (a signed launch may still carry `;` or a NUL there)."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.netloc.rsplit("@", 1)[-1].rsplit(":", 1)[0] if port else parts.netloc
    host = host.lower()
    if "@" in parts.netloc or not HOST.fullmatch(host):
        return None
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")


def user_values(person: Mapping[str, Any]) -> dict[str, str]:
    """Name and email of a launch or an NRPS member as the users table can keep them."""
    return {
        name: display_text(person.get(name) or "", limit_of(getattr(User, name)))
        for name in ("name", "given_name", "family_name")
    } | {"email": whole_or_empty(person.get("email") or "", limit_of(User.email))}


def _object(claims: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A claim that should be a JSON object; anything else counts as absent."""
    value = claims.get(name)
    return value if isinstance(value, dict) else {}


def claim_error(reason: str, explanation: str) -> LaunchError:
    return bad_request("The launch is missing information", explanation + " " + ADMIN_HINT, reason)


def _check_required(claims: Mapping[str, Any]) -> None:
    version = claims.get(LTI + "version")
    if version != "1.3.0":
        raise claim_error(
            f"launch: LTI version {version!r}, expected 1.3.0",
            "The LMS sent a launch of an LTI version the tool does not speak.",
        )
    message_type = claims.get(LTI + "message_type")
    if message_type not in MESSAGE_TYPES:
        raise claim_error(
            f"launch: message type {message_type!r} is not supported",
            f"The LMS sent a kind of launch ({message_type}) this tool does not handle.",
        )
    if not claims.get(LTI + "deployment_id"):
        raise claim_error(
            "launch: deployment_id claim missing", "The launch does not name its deployment."
        )
    if not claims.get("sub"):
        raise claim_error(
            "launch: sub claim missing (anonymous launches are not supported)",
            "The LMS did not say who you are.",
        )
    if not isinstance(claims.get(LTI + "roles"), list):
        raise claim_error("launch: roles claim missing", "The LMS did not send your role.")
    if message_type == RESOURCE_LINK_REQUEST and not _object(claims, LTI + "resource_link").get(
        "id"
    ):
        raise claim_error(
            "launch: resource_link.id missing", "The launch does not say which link it is."
        )
    if message_type == DEEP_LINKING_REQUEST and not _object(
        claims, DL + "deep_linking_settings"
    ).get("deep_link_return_url"):
        raise claim_error(
            "launch: deep_linking_settings.deep_link_return_url missing",
            "The LMS's content selection launch does not say where to return.",
        )


def _check_ids(ids: list[tuple[str, str, int]]) -> None:
    """Ids the database cannot keep are refused in words (LTI caps them at 255 characters);
    trimming one would make two people, courses or links one."""
    for what, value, limit in ids:
        problem = id_problem(value, limit)
        if problem:
            raise bad_request(
                "The launch carries an id the tool cannot keep",
                f"The LMS sent {what}, which {problem}. LTI allows ids of at most {limit} "
                "characters without NUL characters. " + ADMIN_HINT,
                f"launch: {what.removeprefix('the ').removeprefix('your ')} {problem}",
            )


def _platform_family(claims: Mapping[str, Any]) -> str:
    code = _object(claims, LTI + "tool_platform").get("product_family_code", "")
    if code in FAMILIES:
        return str(code)
    if CANVAS_PLACEMENT in claims:
        return "canvas"
    return "other"


def _placed_module_id(custom: Mapping[str, Any]) -> int | None:
    raw = custom.get("module_id")
    text = str(raw) if raw is not None else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 9:  # 9 digits: any module id
        return None
    return int(text)


def _frame_origins(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The return URLs name the LMS host the person is on (the launch's return_url, the
    deep-linking return URL); the issuer does not always (Canvas' issuer and auth host are
    not the school's Canvas). With no return URL, the pages take the general policy."""
    presentation = _object(claims, LTI + "launch_presentation")
    dl_settings = _object(claims, DL + "deep_linking_settings")
    found: list[str] = []
    for url in (presentation.get("return_url"), dl_settings.get("deep_link_return_url")):
        found_origin = origin(url)
        if found_origin and found_origin not in found:
            found.append(found_origin)
    return tuple(found)


def parse_message(claims: Mapping[str, Any]) -> LaunchMessage:
    """The claims of a token already proven genuine, or a LaunchError naming what is missing."""
    _check_required(claims)
    message_type = str(claims[LTI + "message_type"])
    sub = str(claims["sub"])
    deployment_id = str(claims[LTI + "deployment_id"])
    context = _object(claims, LTI + "context")
    context_id = str(context.get("id") or f"no-context:{claims['sub']}")
    link = _object(claims, LTI + "resource_link")
    link_id = None if message_type == DEEP_LINKING_REQUEST else str(link["id"])
    ids = [
        ("your user id", sub, limit_of(User.sub)),
        ("the deployment id", deployment_id, limit_of(Deployment.deployment_id)),
        ("the course id", context_id, limit_of(Context.id_on_platform)),
    ]
    if link_id is not None:
        ids.append(("the link id", link_id, limit_of(ResourceLink.resource_link_id)))
    _check_ids(ids)

    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else list(aud or [])
    roles = tuple(str(r) for r in claims[LTI + "roles"])
    ags = _object(claims, AGS)
    custom = dict(_object(claims, LTI + "custom"))
    target = claims.get(LTI + "target_link_uri")
    return LaunchMessage(
        message_type=message_type,
        issuer=str(claims.get("iss")),
        client_id=str(claims.get("azp") or (audiences[0] if audiences else "")),
        deployment_id=deployment_id,
        target_link_uri=target if isinstance(target, str) else None,
        sub=sub,
        person=user_values(claims),
        roles=roles,
        role=tool_role(roles),
        mentees=tuple(str(m) for m in claims.get(LTI + "role_scope_mentor") or []),
        context_id=context_id,
        context_title=display_text(
            context.get("title") or context.get("label") or "Untitled course",
            limit_of(Context.title),
        ),
        context_label=display_text(context.get("label") or "", limit_of(Context.label)),
        resource_link_id=link_id,
        resource_link_title=display_text(link.get("title") or "", limit_of(ResourceLink.title)),
        custom=custom,
        placed_module_id=_placed_module_id(custom),
        platform_family=_platform_family(claims),
        frame_origins=_frame_origins(claims),
        memberships_url=url_or_none(
            _object(claims, NRPS).get("context_memberships_url"),
            limit_of(Context.memberships_url),
        ),
        lineitems_url=url_or_none(ags.get("lineitems"), limit_of(Context.lineitems_url)),
        lineitem_url=url_or_none(ags.get("lineitem"), limit_of(ResourceLink.lineitem_url)),
        ags_scopes=tuple(ags.get("scope") or []),
        deep_linking_settings=_object(claims, DL + "deep_linking_settings") or None,
        claims=dict(claims),
    )
