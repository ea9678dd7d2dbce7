"""One worker posts a course's scores several at a time, and the LMS sees what it was
promised: never more posts at once than `passback_concurrency`, every score once, and
after it says "slow down" (429 with Retry-After, Canvas' 403 Rate Limit Exceeded) a pause
of the whole worker, not only of the post it refused."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from lti_tool.clients.platform_http import PlatformHttp
from lti_tool.jobs.passback import drain
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult, SandboxUser
from tests.integration.test_loop import setup_course
from tests.integration.test_outbox import queue_all

pytestmark = pytest.mark.postgres

WIDTH = 3


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"passback_concurrency": WIDTH}


class Watched:
    """The LMS in front of the sandbox: counts score posts in flight (each held a little, so
    that posts sent together overlap), and can refuse one with a rate-limit answer."""

    def __init__(self, app: Any, refusal: tuple[str, list[tuple[str, str]], bytes] | None) -> None:
        self.app = app
        self.refusal = refusal
        self.refuse_at = 5
        self.lock = threading.Lock()
        self.in_flight = self.most = self.seen = 0
        self.arrivals: list[float] = []
        self.refused_at: float | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ["PATH_INFO"].endswith("/scores"):
            return self.app(environ, start_response)
        with self.lock:
            self.seen += 1
            self.arrivals.append(time.monotonic())
            refuse = self.refusal is not None and self.seen == self.refuse_at
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            time.sleep(0.03)
            if refuse:
                assert self.refusal is not None
                status, headers, body = self.refusal
                self.refused_at = time.monotonic()
                start_response(status, [("Content-Type", "text/plain"), *headers])
                return [body]
            return list(self.app(environ, start_response))
        finally:
            with self.lock:
                self.in_flight -= 1


def posts_per_student(rt) -> dict[str, int]:
    with rt.session_factory() as s:
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "competency"))
        rows = s.execute(
            select(SandboxUser.lti_sub, SandboxResult.posts)
            .join(SandboxUser, SandboxUser.id == SandboxResult.user_id)
            .where(SandboxResult.line_item_id == line.id)
        ).all()
    return {str(sub): posts for sub, posts in rows}


def watch(app_switch, live_server, refusal=None) -> Watched:
    switch, _ = app_switch
    watched = Watched(live_server.app, refusal)
    switch.app = watched
    return watched


def test_one_worker_posts_at_most_its_bound_at_once(live_server, app_switch) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    n = queue_all(rt, context_id, comp_id, 3.0)
    lms = watch(app_switch, live_server)
    done = drain(rt, context_id)
    assert done.posted == n
    # several at once (not one by one), never more than the bound
    assert lms.most == WIDTH, lms.most
    assert sorted(posts_per_student(rt).values()) == [1] * n


@pytest.mark.parametrize(
    ("refusal", "pause"),
    [
        (("429 Too Many Requests", [("Retry-After", "1")], b"slow down"), 1.0),
        (
            (
                "403 Forbidden",
                [("X-Rate-Limit-Remaining", "0")],
                b"403 Forbidden (Rate Limit Exceeded)",
            ),
            # no Retry-After from Canvas: the first back-off (0.5 s, jitter pinned below)
            0.5,
        ),
    ],
    ids=["429", "canvas-403"],
)
def test_a_rate_limit_answer_pauses_the_whole_worker(
    live_server, app_switch, refusal, pause: float
) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    n = queue_all(rt, context_id, comp_id, 2.0)
    http = rt.platform_http = PlatformHttp(5, rng=lambda: 1.0, pool_size=WIDTH)
    paused_at: list[float] = []
    real_pause = http.pause

    def pause_and_note(host: str, seconds: float) -> float:
        paused_at.append(time.monotonic())
        return real_pause(host, seconds)

    http.pause = pause_and_note  # type: ignore[method-assign]
    lms = watch(app_switch, live_server, refusal)
    done = drain(rt, context_id)
    assert done.posted == n
    # every score arrived once, the refused one included (it was retried)
    assert sorted(posts_per_student(rt).values()) == [1] * n
    assert lms.refused_at is not None
    assert len(paused_at) == 1
    # Once the worker has read the answer, only posts that had already passed the gate (at
    # most one per other thread) may still land before the pause the LMS asked for is over.
    # (Measured from the worker's own reading, not from the LMS's answer: on a loaded
    # machine the two can be a quarter of a second apart.)
    end = lms.refused_at + pause - 0.05
    late = [t - paused_at[0] for t in lms.arrivals if paused_at[0] < t < end]
    assert len(late) <= WIDTH - 1, late
    assert any(t - lms.refused_at >= pause for t in lms.arrivals)


def test_the_posting_threads_send_and_never_touch_the_database(live_server) -> None:
    """A posting thread does HTTP only. It once read the course's registration again for every
    post (its access token's key, from an instance the drain's commit had expired): a SELECT
    per score, on the drain thread's session from other threads at once."""
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    n = queue_all(rt, context_id, comp_id, 2.0)
    assert drain(rt, context_id).posted == n  # the score token fetched and kept
    queue_all(rt, context_id, comp_id, 3.0)
    from_posters: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name.startswith("passback"):
            from_posters.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        done = drain(rt, context_id)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert done.posted == n >= 3
    assert from_posters == []
