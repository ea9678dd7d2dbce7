"""The two calls of LTI Dynamic Registration (read the platform's configuration, post the
tool's registration), each with a timeout and the platform's registration token as a bearer.

Every failure is a `RegistrationCallError` that says which step, which URL and what came
back, so the registration page can tell the admin what went wrong without a stack trace.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from lti_tool.clients.errors import PlatformError

log = logging.getLogger(__name__)

# Bodies are read only this far: a platform's answer is a small JSON object.
MAX_ANSWER_BYTES = 256 * 1024


class RegistrationCallError(PlatformError):
    """A registration call got no usable answer. `kind`: unreachable, refused (a non-2xx
    status; `body` holds the platform's words), not_json or too_big."""

    def __init__(
        self, message: str, url: str, kind: str, status: int | None = None, body: str = ""
    ) -> None:
        super().__init__(message, url, status)
        self.kind = kind
        self.body = body


class RegistrationHttp(Protocol):
    def get_json(self, url: str, token: str) -> Any: ...

    def post_json(self, url: str, token: str, body: dict[str, Any]) -> Any: ...


class RequestsRegistrationHttp:
    """requests, a timeout on every call, the bearer header on both (harmless to Moodle's
    configuration URL, expected by Canvas')."""

    def __init__(self, timeout: float, session: requests.Session | None = None) -> None:
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "lti-tool/0.1"

    def get_json(self, url: str, token: str) -> Any:
        return self._call("GET", url, token, None)

    def close(self) -> None:
        self.session.close()

    def post_json(self, url: str, token: str, body: dict[str, Any]) -> Any:
        return self._call("POST", url, token, body)

    def _call(self, method: str, url: str, token: str, body: dict[str, Any] | None) -> Any:
        shown = without_query(url)  # Canvas puts the registration token in the query
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        start = time.perf_counter()
        try:
            resp = self.session.request(
                method,
                url,
                json=body,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                # a redirected POST would arrive as a GET, and elsewhere
                allow_redirects=method == "GET",
            )
        except requests.RequestException as exc:
            log.warning(
                "%s %s failed after %.0f ms: %s", method, shown, _ms(start), _no_query(exc, url)
            )
            raise RegistrationCallError(
                f"could not reach {shown}: {_no_query(exc, url)}", shown, "unreachable"
            ) from exc
        try:
            raw = resp.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
        except (requests.RequestException, OSError) as exc:
            log.warning(
                "%s %s broke after %.0f ms: %s", method, shown, _ms(start), _no_query(exc, url)
            )
            raise RegistrationCallError(
                f"{shown} stopped answering: {_no_query(exc, url)}", shown, "unreachable"
            ) from exc
        finally:
            resp.close()
        log.info("%s %s -> %s in %.0f ms", method, shown, resp.status_code, _ms(start))
        if len(raw) > MAX_ANSWER_BYTES:
            raise RegistrationCallError(
                f"{shown} answered more than {MAX_ANSWER_BYTES} bytes",
                shown,
                "too_big",
                resp.status_code,
            )
        text = raw.decode(resp.encoding or "utf-8", errors="replace")
        if not 200 <= resp.status_code < 300:
            raise RegistrationCallError(
                f"{shown} answered {resp.status_code}: {snippet(text)}",
                shown,
                "refused",
                resp.status_code,
                snippet(text),
            )
        try:
            return json.loads(text)
        except ValueError:
            raise RegistrationCallError(
                f"{shown} answered something that is not JSON: {snippet(text)}",
                shown,
                "not_json",
                resp.status_code,
                snippet(text),
            ) from None


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def snippet(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def without_query(url: str) -> str:
    """The URL as logs and pages show it: no query, which may carry a token."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _no_query(exc: Exception, url: str) -> str:
    """A connection error's words without the query requests quotes in them."""
    text, query = str(exc), urlsplit(url).query
    return text.replace(query, "…") if query else text
