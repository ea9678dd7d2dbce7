"""The HTTP interface the tool's clients use: one pooled session, a timeout on every call."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import requests

from lti_tool.clients.errors import PlatformError

log = logging.getLogger(__name__)


class HttpError(PlatformError):
    """An outbound call failed; the message says which URL and what came back."""


class HttpClient(Protocol):
    def get_json(self, url: str) -> Any: ...


class RequestsHttpClient:
    """requests with a pooled session; every request has a timeout and is logged."""

    def __init__(self, timeout: float, session: requests.Session | None = None) -> None:
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "lti-tool/0.1"

    def get_json(self, url: str) -> Any:
        start = time.perf_counter()
        try:
            resp = self.session.get(
                url, timeout=self.timeout, headers={"Accept": "application/json"}
            )
        except requests.RequestException as exc:
            log.warning("GET %s failed after %.0f ms: %s", url, _ms(start), exc)
            raise HttpError(f"could not reach {url}: {exc}", url) from exc
        log.info("GET %s -> %s in %.0f ms", url, resp.status_code, _ms(start))
        if resp.status_code != 200:
            raise HttpError(
                f"{url} answered {resp.status_code} {_snippet(resp.text)}", url, resp.status_code
            )
        try:
            return resp.json()
        except ValueError:
            raise HttpError(
                f"{url} answered something that is not JSON: {_snippet(resp.text)}",
                url,
                resp.status_code,
            ) from None


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
