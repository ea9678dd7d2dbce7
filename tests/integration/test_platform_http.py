"""The HTTP layer under every platform call, against a real local server that answers a
script: what it retries, how long it waits, and what it never retries."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from werkzeug.wrappers import Response

from lti_tool.clients.platform_http import PlatformHttp, PlatformUnavailable
from tests.conftest import free_port, serving


class Scripted:
    """A WSGI app answering each request with the next scripted (status, headers, body)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], str]] = []
        self.seen = 0
        self.bodies: list[bytes] = []

    def __call__(self, environ, start_response):
        self.seen += 1
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.bodies.append(environ["wsgi.input"].read(length) if length else b"")
        status, headers, body = self.script.pop(0) if self.script else (200, {}, "ok")
        if status == 0:  # drop the connection without an answer
            sock = environ.get("werkzeug.socket")
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            return []
        return Response(body, status=status, headers=headers)(environ, start_response)


@pytest.fixture
def server() -> Iterator[tuple[Scripted, str]]:
    app = Scripted()
    port = free_port()
    with serving(app, port):
        yield app, f"http://127.0.0.1:{port}/x"


def client(waits: list[float], attempts: int = 4) -> PlatformHttp:
    return PlatformHttp(
        2.0, max_attempts=attempts, base_delay=0.5, sleep=waits.append, rng=lambda: 1.0
    )


def test_5xx_retried_with_exponential_backoff(server) -> None:
    app, url = server
    app.script = [(503, {}, "down"), (500, {}, "oops"), (200, {}, "fine")]
    waits: list[float] = []
    resp = client(waits).request("GET", url)
    assert resp.status_code == 200 and resp.text == "fine"
    assert app.seen == 3 and waits == [0.5, 1.0]


def test_429_honours_retry_after(server) -> None:
    app, url = server
    app.script = [(429, {"Retry-After": "3"}, "slow down"), (200, {}, "ok")]
    waits: list[float] = []
    assert client(waits).request("POST", url, data={"a": "1"}).status_code == 200
    assert len(waits) == 1 and 3.0 <= waits[0] <= 3.1


def test_canvas_rate_limit_403_is_retried_but_other_403_is_not(server) -> None:
    app, url = server
    app.script = [
        (403, {"X-Rate-Limit-Remaining": "0"}, "403 Forbidden (Rate Limit Exceeded)"),
        (200, {}, "ok"),
    ]
    assert client([]).request("GET", url).status_code == 200
    app.script = [(403, {}, "no access")]
    app.seen = 0
    assert client([]).request("GET", url).status_code == 403
    assert app.seen == 1


def test_canvas_quota_running_low_slows_the_next_request_down(server) -> None:
    app, url = server
    app.script = [
        (200, {"X-Rate-Limit-Remaining": "600.0"}, "plenty"),
        (200, {}, "no header"),
        (200, {"X-Rate-Limit-Remaining": "30.0"}, "nearly out"),
        (200, {"X-Rate-Limit-Remaining": "400"}, "refilled"),
    ]
    waits: list[float] = []
    http = client(waits)
    for _ in range(3):
        assert http.request("GET", url).status_code == 200
    assert waits == []  # plenty of quota, or none announced: no wait
    assert http.request("GET", url).text == "refilled"
    # 30 of the 150 held in reserve left: the next request to the host waited 0.8 s
    assert len(waits) == 1 and waits[0] == pytest.approx(0.8, abs=0.05)
    assert app.seen == 4


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_final_answers_are_not_retried(server, status: int) -> None:
    app, url = server
    app.script = [(status, {}, "final")]
    waits: list[float] = []
    assert client(waits).request("POST", url, json={"x": 1}).status_code == status
    assert app.seen == 1 and waits == []


def test_dropped_connection_is_retried(server) -> None:
    app, url = server
    app.script = [(0, {}, ""), (200, {}, "ok")]
    waits: list[float] = []
    assert client(waits).request("GET", url).status_code == 200
    assert app.seen == 2 and len(waits) == 1


def test_gives_up_with_a_clear_error(server) -> None:
    app, url = server
    app.script = [(503, {}, "down")] * 3
    with pytest.raises(PlatformUnavailable, match=r"failed 3 times; last: 503"):
        client([], attempts=3).request("GET", url)


def test_unreachable_platform_fails_after_attempts() -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing-listens"
    waits: list[float] = []
    with pytest.raises(PlatformUnavailable, match="ConnectionError"):
        client(waits, attempts=2).request("GET", url)
    assert len(waits) == 1


@pytest.mark.parametrize("body", [b'{"comment": "Tr\xc3\xa8s bien"}', '{"comment": "Très bien"}'])
def test_a_body_arrives_whole_as_bytes_or_text(server, body) -> None:
    app, url = server
    resp = client([]).request("POST", url, data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200
    assert app.bodies == ['{"comment": "Très bien"}'.encode()]
