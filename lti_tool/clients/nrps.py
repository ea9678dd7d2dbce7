"""Names and Role Provisioning Services 2.0: the course's members, page by page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lti_tool.clients.lti_services import ServiceCaller, ServiceError, with_query

SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


def member_pages(caller: ServiceCaller, url: str, page_size: int) -> Iterator[list[dict[str, Any]]]:
    """Members a page at a time (Moodle pages only when `limit` is given; Canvas caps at 50)."""
    first = with_query(url, {"limit": str(page_size)})
    for body, resp in caller.pages(first, [SCOPE], MEDIA_TYPE):
        members = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members, list):
            raise ServiceError(f"{resp.url} answered no members list", resp.url, resp.status_code)
        yield [m for m in members if isinstance(m, dict) and m.get("user_id")]
