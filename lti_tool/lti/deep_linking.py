"""The LtiDeepLinkingResponse (LTI Deep Linking 2.0 §4.2): the modules a teacher picked, as
signed `ltiResourceLink` content items the platform turns into course items."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

import jwt

from lti_tool.lti.message import DL, LTI


class PlacementError(ValueError):
    """The platform's request does not allow what was picked; the message says why."""


def check_request(settings: Mapping[str, Any], count: int) -> None:
    accept = settings.get("accept_types") or []
    if "ltiResourceLink" not in accept:
        raise PlacementError(
            "This LMS dialog does not accept links to tool content here (it accepts: "
            f"{', '.join(accept) or 'nothing'})."
        )
    if count > 1 and settings.get("accept_multiple") is False:
        raise PlacementError("This LMS dialog accepts one item at a time: pick one module.")


def resource_link_item(
    title: str,
    url: str,
    module_id: int,
    text: str = "",
    score_maximum: float | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "ltiResourceLink",
        "title": title,
        "url": url,
        "custom": {"module_id": str(module_id)},
    }
    if text:
        item["text"] = text
    if score_maximum is not None:
        item["lineItem"] = {
            "scoreMaximum": score_maximum,
            "label": title,
            "resourceId": f"module:{module_id}",
            "tag": "module",
        }
    return item


def response_jwt(
    request_claims: Mapping[str, Any],
    client_id: str,
    kid: str,
    private_key: Any,
    items: list[dict[str, Any]],
    now: float | None = None,
) -> str:
    settings = request_claims.get(DL + "deep_linking_settings") or {}
    check_request(settings, len(items))
    issued = int(time.time() if now is None else now)
    count = len(items)
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": request_claims["iss"],
        "iat": issued,
        "exp": issued + 300,
        "nonce": secrets.token_urlsafe(16),
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": "1.3.0",
        LTI + "deployment_id": request_claims[LTI + "deployment_id"],
        DL + "content_items": items,
        DL + "msg": f"Added {count} module{'s' if count != 1 else ''} from Mastery path.",
        DL + "log": f"mastery-tool placed {count} item(s)",
    }
    if "data" in settings:
        claims[DL + "data"] = settings["data"]
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})
