"""Calls to LTI Advantage service endpoints: the bearer token, the media types, paging.

A 401 means the token was revoked or expired early: the token is forgotten and the call made
once more with a fresh one. Next pages follow `Link: <…>; rel="next"` with or without quotes,
and the URL is used exactly as given (case and query string kept: Moodle's line item URLs
carry `?type_id=`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from sqlalchemy.orm import Session

from lti_tool.clients.errors import PlatformError
from lti_tool.clients.platform_http import PlatformHttp
from lti_tool.clients.tokens import AccessTokens
from lti_tool.models.course import Context
from lti_tool.models.platform import Registration

# rel="next", rel=next, and Moodle's rel=“next” (typographic quotes, which arrive as
# UTF-8 bytes read as Latin-1): anything but a separator may stand around the word.
NEXT_LINK = re.compile(r"<([^>]+)>[^,<]*?\brel\s*=[^,<;]*?(?<![a-z])next(?![a-z])", re.IGNORECASE)


class ServiceError(PlatformError):
    """A service answered something final and unexpected; the message says what and where."""


def next_link(resp: requests.Response) -> str | None:
    header = resp.headers.get("Link")
    if not header:
        return None
    match = NEXT_LINK.search(header.replace("\n", " "))
    return match.group(1) if match else None


def with_query(url: str, extra: Mapping[str, str]) -> str:
    """Add query parameters, keeping those the URL already has (and their order)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    keys = {k for k, _ in query}
    query += [(k, v) for k, v in extra.items() if k not in keys]
    return urlunsplit(parts._replace(query=urlencode(query)))


def service_url(item_url: str, segment: str) -> str:
    """`…/lineitem?type_id=1` + "scores" → `…/lineitem/scores?type_id=1` (Moodle-safe)."""
    parts = urlsplit(item_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + segment))


@dataclass
class ServiceCaller:
    """Everything a service call needs for one registration."""

    http: PlatformHttp
    tokens: AccessTokens
    session: Session
    registration: Registration

    def call(
        self,
        method: str,
        url: str,
        scopes: list[str],
        *,
        accept: str | None = None,
        content_type: str | None = None,
        body: Any = None,
    ) -> requests.Response:
        for attempt in (1, 2):
            token = self.tokens.token(self.session, self.registration, scopes)
            headers = {"Authorization": f"Bearer {token}"}
            if accept:
                headers["Accept"] = accept
            if content_type:
                headers["Content-Type"] = content_type
            resp = self.http.request(
                method,
                url,
                headers=headers,
                data=None if body is None else _json_bytes(body),
            )
            if resp.status_code == 401 and attempt == 1:
                self.tokens.forget(self.registration, scopes)
                continue
            return resp
        return resp

    def pages(
        self, url: str, scopes: list[str], accept: str
    ) -> Iterator[tuple[Any, requests.Response]]:
        """Each page's JSON body, following rel="next" links."""
        next_url: str | None = url
        seen: set[str] = set()
        while next_url:
            if next_url in seen:
                raise ServiceError(f"paging loops back to {next_url}", next_url, 200)
            seen.add(next_url)
            resp = self.call("GET", next_url, scopes, accept=accept)
            expect_ok(resp, "read")
            yield resp.json(), resp
            next_url = next_link(resp)


def caller_for(
    session: Session,
    context: Context,
    http: PlatformHttp,
    tokens: AccessTokens,
) -> ServiceCaller:
    """The caller of a course's services: its registration, the app's HTTP layer and tokens."""
    reg = session.get(Registration, context.registration_id)
    if reg is None:
        raise LookupError(f"course {context.id} has no registration any more")
    return ServiceCaller(http=http, tokens=tokens, session=session, registration=reg)


def _json_bytes(body: Any) -> bytes:
    import json

    return json.dumps(body, separators=(",", ":")).encode()


def expect_ok(resp: requests.Response, what: str) -> None:
    if 200 <= resp.status_code < 300:
        return
    raise ServiceError(
        f"could not {what} {resp.url}: the platform answered {resp.status_code} "
        f"{resp.text[:300]!r}",
        resp.url,
        resp.status_code,
    )
