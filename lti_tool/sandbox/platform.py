"""The platform side of LTI 1.3 in two shapes, Canvas and Moodle, as their sources show them
(shared/platforms/canvas.md, moodle.md and the Moodle 4.5 samples).

A shape decides the issuer, endpoint paths, id formats, token lifetime, audience form and
the extra claims; the OIDC and signing logic is shared.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import jwt
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.keys import new_rsa_key
from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxEnrollment,
    SandboxKey,
    SandboxLineItem,
    SandboxLink,
    SandboxPlatform,
    SandboxTool,
    SandboxUser,
)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@dataclass(frozen=True)
class Shape:
    name: str
    auth_path: str
    jwks_path: str
    token_path: str
    token_lifetime: int
    # Canvas sends aud as a string with azp; Moodle a string without azp.
    sends_azp: bool


CANVAS = Shape(
    name="canvas",
    auth_path="/api/lti/authorize_redirect",
    jwks_path="/api/lti/security/jwks",
    token_path="/login/oauth2/token",
    token_lifetime=3600,
    sends_azp=True,
)
MOODLE = Shape(
    name="moodle",
    auth_path="/mod/lti/auth.php",
    jwks_path="/mod/lti/certs.php",
    token_path="/mod/lti/token.php",
    token_lifetime=60,
    sends_azp=False,
)
SHAPES = {"canvas": CANVAS, "moodle": MOODLE}


class PlatformUrls:
    """Where a sandbox platform's endpoints are, as the tool and browsers reach them."""

    def __init__(self, sandbox_base_url: str, platform: SandboxPlatform) -> None:
        self.base = f"{sandbox_base_url.rstrip('/')}/sandbox/{platform.slug}"
        self.shape = SHAPES[platform.shape]

    @property
    def auth(self) -> str:
        return self.base + self.shape.auth_path

    @property
    def jwks(self) -> str:
        return self.base + self.shape.jwks_path

    @property
    def token(self) -> str:
        return self.base + self.shape.token_path

    def memberships(self, course: SandboxCourse, tool: SandboxTool) -> str:
        if self.shape is MOODLE:
            return (
                f"{self.base}/mod/lti/services.php/CourseSection/{course.lti_context_id}"
                f"/bindings/{tool.deployment_id}/memberships"
            )
        return f"{self.base}/api/lti/courses/{course.id}/names_and_roles"

    def lineitems(self, course: SandboxCourse, tool: SandboxTool) -> str:
        if self.shape is MOODLE:
            return (
                f"{self.base}/mod/lti/services.php/{course.lti_context_id}/lineitems"
                f"?type_id={tool.deployment_id}"
            )
        return f"{self.base}/api/lti/courses/{course.id}/line_items"

    def lineitem(self, course: SandboxCourse, tool: SandboxTool, item_id: int) -> str:
        if self.shape is MOODLE:
            return (
                f"{self.base}/mod/lti/services.php/{course.lti_context_id}/lineitems/{item_id}"
                f"/lineitem?type_id={tool.deployment_id}"
            )
        return f"{self.base}/api/lti/courses/{course.id}/line_items/{item_id}"

    def deep_link_return(self, course: SandboxCourse, tool: SandboxTool) -> str:
        if self.shape is MOODLE:
            return f"{self.base}/mod/lti/contentitem_return.php?course={course.id}&id={tool.id}"
        return f"{self.base}/courses/{course.id}/deep_linking_response?tool={tool.id}"


DEEP_LINK_REQUEST_SECONDS = 3600


def remember_deep_link_request(session: Session, course: SandboxCourse, tool: SandboxTool) -> str:
    """A fresh `data` for deep_linking_settings, kept in the shared store so the return
    endpoint can check the tool echoes it (for this course and tool)."""
    from lti_tool.store import DatabaseStore

    data = secrets.token_hex(16)
    DatabaseStore(session).put(
        f"sandbox_dl:{data}",
        {"course": course.id, "tool": tool.id, "deployment_id": tool.deployment_id},
        DEEP_LINK_REQUEST_SECONDS,
    )
    return data


# -- keys ---------------------------------------------------------------------------------


def add_platform_key(session: Session, platform: SandboxPlatform) -> SandboxKey:
    pem, public = new_rsa_key()
    key = SandboxKey(platform_id=platform.id, kid=public["kid"], private_pem=pem, public_jwk=public)
    session.add(key)
    session.flush()
    return key


def platform_jwks(session: Session, platform: SandboxPlatform) -> dict[str, Any]:
    keys = session.scalars(
        select(SandboxKey)
        .where(SandboxKey.platform_id == platform.id, SandboxKey.active.is_(True))
        .order_by(SandboxKey.id)
    )
    return {"keys": [dict(k.public_jwk) for k in keys]}


def signing_key(session: Session, platform: SandboxPlatform) -> SandboxKey:
    key = session.scalars(
        select(SandboxKey)
        .where(SandboxKey.platform_id == platform.id, SandboxKey.active.is_(True))
        .order_by(SandboxKey.id.desc())
    ).first()
    if key is None:
        raise RuntimeError(f"sandbox platform {platform.slug} has no active key")
    return key


@lru_cache(maxsize=32)
def _loaded(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def sign(key: SandboxKey, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, _loaded(key.private_pem), algorithm="RS256", headers={"kid": key.kid})


# -- roles --------------------------------------------------------------------------------


def role_uris(shape: Shape, role: str) -> list[str]:
    if shape is CANVAS:
        return {
            "teacher": [INSTITUTION + "Instructor", MEMBERSHIP + "Instructor", SYSTEM + "User"],
            "ta": [
                INSTITUTION + "Instructor",
                "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
                SYSTEM + "User",
            ],
            "student": [INSTITUTION + "Student", MEMBERSHIP + "Learner", SYSTEM + "User"],
            "mentor": [MEMBERSHIP + "Mentor", SYSTEM + "User"],
        }[role]
    return {
        "teacher": [MEMBERSHIP + "Instructor"],
        "ta": [MEMBERSHIP + "Instructor"],
        "student": [MEMBERSHIP + "Learner"],
        "mentor": [MEMBERSHIP + "Mentor"],
    }[role]


# -- the id_token ---------------------------------------------------------------------------


def custom_parameters(
    tool: SandboxTool, link: SandboxLink, course: SandboxCourse
) -> dict[str, str]:
    """The tool's and the link's custom parameters (the link's win), variables expanded as
    both LMSs expand the ones they know; an unknown `$Variable` is sent as it is."""
    values = {"$Context.id.history": ",".join(quote(c, safe="") for c in course.history or [])}
    merged = {**(tool.custom or {}), **(link.custom or {})}
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in merged.items()}


def id_token_claims(
    session: Session,
    platform: SandboxPlatform,
    urls: PlatformUrls,
    tool: SandboxTool,
    link: SandboxLink,
    user: SandboxUser,
    enrollment: SandboxEnrollment,
    nonce: str,
    now: int | None = None,
) -> dict[str, Any]:
    shape = SHAPES[platform.shape]
    course = session.get(SandboxCourse, link.course_id)
    assert course is not None
    now = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": platform.issuer,
        "aud": tool.client_id,
        "sub": user.lti_sub,
        "iat": now,
        "exp": now + shape.token_lifetime,
        "nonce": nonce,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        LTI + "deployment_id": tool.deployment_id,
        LTI + "message_type": link.message_type,
        LTI + "version": "1.3.0",
        LTI + "target_link_uri": link.url or tool.target_link_uri,
        LTI + "roles": role_uris(shape, enrollment.role),
        LTI + "context": {
            "id": course.lti_context_id,
            "label": course.label,
            "title": course.title,
            "type": (
                ["CourseSection"]
                if shape is MOODLE
                else ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]
            ),
        },
        LTI + "custom": custom_parameters(tool, link, course),
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
            "context_memberships_url": urls.memberships(course, tool),
            "service_versions": ["1.0", "2.0"] if shape is MOODLE else ["2.0"],
        },
        "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
            "scope": list(AGS_SCOPES),
            "lineitems": urls.lineitems(course, tool),
        },
    }
    if shape.sends_azp:
        claims["azp"] = tool.client_id
    if enrollment.role == "mentor" and enrollment.mentee_ids:
        mentees = session.scalars(
            select(SandboxUser.lti_sub).where(SandboxUser.id.in_(enrollment.mentee_ids))
        )
        claims[LTI + "role_scope_mentor"] = list(mentees)
    if link.message_type == "LtiResourceLinkRequest":
        # Both LMSs name the link's line item when it has exactly one.
        items = list(
            session.scalars(
                select(SandboxLineItem.id).where(SandboxLineItem.link_id == link.id).limit(2)
            )
        )
        if len(items) == 1:
            endpoint = claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
            endpoint["lineitem"] = urls.lineitem(course, tool, items[0])
        claims[LTI + "resource_link"] = {"id": link.lti_id, "title": link.title, "description": ""}
        claims[LTI + "launch_presentation"] = {
            "document_target": "iframe",
            "locale": "en",
            "return_url": f"{urls.base}/courses/{course.id}",
        }
    else:
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"]
            if shape is CANVAS
            else ["frame", "iframe", "window"],
            "accept_multiple": True,
            "accept_unsigned": False,
            "auto_create": shape is CANVAS,
            "deep_link_return_url": urls.deep_link_return(course, tool),
            "title": tool.name,
            "text": "",
            "data": remember_deep_link_request(session, course, tool),
        }
    if shape is CANVAS:
        claims[LTI + "custom"].setdefault("canvas_course_id", str(course.id))
        claims[LTI + "custom"].setdefault("canvas_user_id", str(user.id))
        claims["https://www.instructure.com/placement"] = (
            "course_navigation"
            if link.message_type == "LtiResourceLinkRequest"
            else "link_selection"
        )
        claims[LTI + "tool_platform"] = {
            "guid": "sandbox-canvas:canvas-lms",
            "name": platform.name,
            "version": "cloud",
            "product_family_code": "canvas",
        }
        claims[LTI + "lis"] = {"person_sourcedid": "", "course_offering_sourcedid": ""}
    else:
        claims[LTI + "tool_platform"] = {
            "product_family_code": "moodle",
            "version": "2024100706",
            "guid": "sandbox-moodle",
            "name": platform.name,
            "description": platform.name,
        }
        claims[LTI + "ext"] = {"user_username": user.username, "lms": "moodle-2"}
        claims[LTI + "lis"] = {"person_sourcedid": "", "course_section_sourcedid": ""}
        claims[LTI + "custom"].setdefault("context_memberships_url", urls.memberships(course, tool))
    return claims


def login_initiation_params(
    platform: SandboxPlatform, tool: SandboxTool, link: SandboxLink, user: SandboxUser, hint: str
) -> dict[str, str]:
    params = {
        "iss": platform.issuer,
        "login_hint": user.lti_sub,
        "target_link_uri": link.url or tool.target_link_uri,
        "lti_message_hint": hint,
        "client_id": tool.client_id,
        "lti_deployment_id": tool.deployment_id,
    }
    if platform.shape == "canvas":
        params.update(
            {
                "deployment_id": tool.deployment_id,
                "canvas_region": "not_configured",
                "canvas_environment": "prod",
                "lti_storage_target": "post_message_forwarding",
            }
        )
    return params
