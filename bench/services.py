"""LTI Advantage services at scale, against the sandbox platform served by gunicorn:

    .venv/bin/python bench/services.py [--members 10000] [--scores 10000] [--threads 8]

Prints: roster sync of a 10,000-member Canvas-shaped course (time, peak memory, requests),
and 10,000 score posts (posts per second, connections opened), each beside the same run's
baseline of raw `requests` calls to the same endpoints. Uses PostgreSQL when it is
reachable (else SQLite).
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from sandbox_world import sandbox_world  # noqa: E402
from sqlalchemy import select  # noqa: E402

from lti_tool.clients import ags  # noqa: E402
from lti_tool.clients.lti_services import caller_for  # noqa: E402
from lti_tool.clients.nrps import SCOPE as NRPS_SCOPE  # noqa: E402
from lti_tool.clients.platform_http import PlatformHttp  # noqa: E402
from lti_tool.clients.tokens import AccessTokens, request_token  # noqa: E402
from lti_tool.grading.stamps import post_grade  # noqa: E402
from lti_tool.lti.roles import STUDENT  # noqa: E402
from lti_tool.models.course import Context, Membership, User  # noqa: E402
from lti_tool.models.platform import Registration  # noqa: E402
from lti_tool.sandbox.models import SandboxCourse, SandboxPlatform, SandboxTool  # noqa: E402
from lti_tool.sandbox.platform import PlatformUrls  # noqa: E402
from lti_tool.services.roster import sync_roster  # noqa: E402

NEXT = re.compile(r'<([^>]+)>\s*;[^,]*?rel="?next"?', re.I)


class ConnectCounter:
    """Counts TCP connections really opened (urllib3 reconnects under the same object)."""

    def __init__(self) -> None:
        import urllib3.connection

        self.count = 0
        self._lock = threading.Lock()
        original = urllib3.connection.HTTPConnection.connect
        counter = self

        def connect(conn: Any) -> None:
            with counter._lock:
                counter.count += 1
            original(conn)

        urllib3.connection.HTTPConnection.connect = connect  # type: ignore[method-assign]


CONNECTS = ConnectCounter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--scores", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of the sandbox")
    args = parser.parse_args()

    with sandbox_world(args.members, "canvas", args.workers) as world:
        run(world, args)


def run(world: Any, args: argparse.Namespace) -> None:
    rt, context_id = world.rt, world.context_id
    with rt.session_factory() as s:
        ctx = s.get(Context, context_id)
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == world.slug))
        tool = s.scalar(select(SandboxTool).where(SandboxTool.platform_id == platform.id))
        course = s.get(SandboxCourse, world.sandbox_course_id)
        urls = PlatformUrls(rt.settings.sandbox_base_url, platform)

    # -- roster ------------------------------------------------------------------------------
    http = PlatformHttp(30)
    tokens = AccessTokens(http, "", rt.short_store)
    with rt.session_factory() as s:
        ctx = s.get(Context, context_id)
        caller = caller_for(s, ctx, http, tokens)
        t0 = time.perf_counter()
        result = sync_roster(s, caller, ctx, rt.settings.nrps_page_size)
        s.commit()
        roster_s = time.perf_counter() - t0
    roster_requests = http.stats.requests
    # A second sync (every member known: reads and compares) under tracemalloc, for the
    # peak of Python memory; timed apart, since tracing slows every allocation.
    with rt.session_factory() as s:
        ctx = s.get(Context, context_id)
        caller = caller_for(s, ctx, http, tokens)
        t0 = time.perf_counter()
        resync = sync_roster(s, caller, ctx, rt.settings.nrps_page_size)
        s.commit()
        resync_s = time.perf_counter() - t0
        tracemalloc.start()
        sync_roster(s, caller, ctx, rt.settings.nrps_page_size)
        s.commit()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    with rt.session_factory() as s:
        raw_token = request_token(
            requests.Session(), s, reg_of(s, context_id), [NRPS_SCOPE], "", 30
        )
    raw = requests.Session()
    t0 = time.perf_counter()
    next_url: str | None = f"{urls.memberships(course, tool)}?limit=50"
    raw_requests = raw_members = 0
    while next_url:
        resp = raw.get(next_url, headers={"Authorization": f"Bearer {raw_token.token}"}, timeout=30)
        raw_requests += 1
        raw_members += len(resp.json()["members"])
        match = NEXT.search(resp.headers.get("Link", ""))
        next_url = match.group(1) if match else None
    raw_s = time.perf_counter() - t0

    print(f"\nRoster sync of {result.members} members (Canvas shape, pages of 50)")
    print(f"  tool:      {roster_s:6.2f} s  {roster_requests} requests (1 token)")
    print(
        f"  re-sync:   {resync_s:6.2f} s  ({resync.updated} changed)  "
        f"peak Python memory {peak / 2**20:.1f} MiB (tracemalloc)"
    )
    print(f"  raw GETs:  {raw_s:6.2f} s  {raw_requests} requests, no database writes")
    print(f"  tool/raw:  {roster_s / raw_s:.2f}x   target: roster <= 5 s")

    # -- scores ------------------------------------------------------------------------------
    with rt.session_factory() as s:
        ctx = s.get(Context, context_id)
        item = ags.create_lineitem(
            caller_for(s, ctx, http, tokens),
            ctx.lineitems_url,
            {"label": "Bench", "scoreMaximum": 4, "resourceId": "bench", "tag": "bench"},
        )
        students = list(
            s.scalars(
                select(User.id)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.context_id == context_id, Membership.role == STUDENT)
                .limit(args.scores)
            )
        )
    chunks = [students[i :: args.threads] for i in range(args.threads)]
    https = [PlatformHttp(30) for _ in chunks]
    outcomes: list[bool] = []

    def poster(ids: list[int], thread_http: PlatformHttp) -> None:
        local_tokens = AccessTokens(thread_http, "", rt.short_store)
        with rt.session_factory() as s:
            ctx = s.get(Context, context_id)
            c = caller_for(s, ctx, thread_http, local_tokens)
            for user_id in ids:
                user = s.get(User, user_id)
                outcomes.append(post_grade(s, c, context_id, user, item["id"], 3.0, 4.0).posted)
                s.commit()

    counter = CONNECTS
    before = counter.count
    t0 = time.perf_counter()
    threads = [
        threading.Thread(target=poster, args=(ids, h)) for ids, h in zip(chunks, https, strict=True)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    post_s = time.perf_counter() - t0
    opened = counter.count - before

    with rt.session_factory() as s:
        subs = list(s.scalars(select(User.sub).where(User.id.in_(students))))
        score_token = request_token(
            requests.Session(), s, reg_of(s, context_id), [ags.SCOPE_SCORE], "", 30
        ).token
    raw_chunks = [subs[i :: args.threads] for i in range(args.threads)]
    raw_ok: list[int] = []

    def raw_poster(batch: list[str]) -> None:
        for sub in batch:
            resp = requests.post(  # no session: a new connection each time, as naive code does
                ags_scores(item["id"]),
                json={
                    "userId": sub,
                    "scoreGiven": 2.0,
                    "scoreMaximum": 4.0,
                    "activityProgress": "Completed",
                    "gradingProgress": "FullyGraded",
                    "timestamp": datetime.now(UTC).isoformat(),
                },
                headers={
                    "Authorization": f"Bearer {score_token}",
                    "Content-Type": ags.SCORE,
                },
                timeout=30,
            )
            raw_ok.append(resp.status_code)

    raw_before = counter.count
    t0 = time.perf_counter()
    threads = [threading.Thread(target=raw_poster, args=(b,)) for b in raw_chunks]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    raw_post_s = time.perf_counter() - t0
    raw_opened = counter.count - raw_before
    n = len(students)
    print(
        f"\n{n} score posts, {args.threads} threads, sandbox on gunicorn ({args.workers} workers)"
    )
    print(
        f"  tool:      {n / post_s:7.0f} posts/s  ({sum(outcomes)} posted)  "
        f"{opened} connections opened"
    )
    print(
        f"  raw POSTs: {n / raw_post_s:7.0f} posts/s  ({raw_ok.count(200)} accepted)  "
        f"{raw_opened} connections opened (no session)"
    )
    print(f"  tool/raw:  {(n / post_s) / (n / raw_post_s):.2f}x   target: >= 500 posts/s")


def reg_of(session: Any, context_id: int) -> Registration:
    ctx = session.get(Context, context_id)
    return session.get(Registration, ctx.registration_id)


def ags_scores(lineitem_url: str) -> str:
    from lti_tool.clients.lti_services import service_url

    return service_url(lineitem_url, "scores")


if __name__ == "__main__":
    main()
