"""LTI Advantage services at scale, against the sandbox platform served by gunicorn:

    .venv/bin/python bench/services.py [--members 10000] [--sizes 30 1000 5000]
        [--concurrency 8] [--raw-threads 16] [--workers 6]

Prints: roster sync of a 10,000-member Canvas-shaped course (time, peak memory, requests),
beside the same run's raw paged GETs; then score posting at 30, 1,000 and 5,000 scores: the
sandbox's raw rate (score POSTs from many threads, nothing else), the outbox drained by one
thread (the old drain), and by one worker's `--concurrency` threads (posts per second from
queued to settled). Uses PostgreSQL when it is reachable (else SQLite).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from sandbox_world import postgres_cpu, sandbox_world, workers_cpu  # noqa: E402
from sqlalchemy import select  # noqa: E402

from lti_tool.clients import ags  # noqa: E402
from lti_tool.clients.lti_services import caller_for  # noqa: E402
from lti_tool.clients.nrps import SCOPE as NRPS_SCOPE  # noqa: E402
from lti_tool.clients.platform_http import PlatformHttp  # noqa: E402
from lti_tool.clients.tokens import AccessTokens, request_token  # noqa: E402
from lti_tool.grading.outbox import set_score  # noqa: E402
from lti_tool.jobs.passback import drain  # noqa: E402
from lti_tool.lti.roles import STUDENT  # noqa: E402
from lti_tool.models.course import Context, Membership, User  # noqa: E402
from lti_tool.models.grading import ScoreOutbox  # noqa: E402
from lti_tool.models.mastery import Competency  # noqa: E402
from lti_tool.models.platform import Registration  # noqa: E402
from lti_tool.models.types import utcnow  # noqa: E402
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
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 1000, 5000])
    parser.add_argument("--concurrency", type=int, default=8, help="the drain's threads")
    parser.add_argument("--raw-threads", type=int, default=16)
    parser.add_argument(
        "--sequential-max", type=int, default=1000, help="largest size also drained by 1 thread"
    )
    # 6, not 4: on the 2-core machine 4 workers left the sandbox the bound (single runs under
    # load: raw 184/s with 4, 219-259/s with 6 or 8)
    parser.add_argument("--workers", type=int, default=6, help="gunicorn workers of the sandbox")
    args = parser.parse_args()

    # The sandbox's gunicorn workers serve the whole tool, and without Redis each drains the
    # outbox one lease after it starts (resume_after_restart): four more workers posting the
    # measured scores. A lease of an hour (theirs only: the bench's settings ignore the
    # environment) keeps them out of the run.
    os.environ["LTI_TOOL_PASSBACK_LEASE_SECONDS"] = "3600"
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
    # One worker: the app's own in-process drains (queued at start, after the first lease)
    # would post beside the measured one.
    if hasattr(rt.jobs, "shutdown"):
        rt.jobs.wait()
        rt.jobs.shutdown()
    with rt.session_factory() as s:
        students = list(
            s.scalars(
                select(User.id)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.context_id == context_id, Membership.role == STUDENT)
                .order_by(User.id)
            )
        )
        subs = dict(s.execute(select(User.id, User.sub).where(User.id.in_(students))).all())
        score_token = request_token(
            requests.Session(), s, reg_of(s, context_id), [ags.SCOPE_SCORE], "", 30
        ).token
        ctx = s.get(Context, context_id)
        item = ags.create_lineitem(
            caller_for(s, ctx, http, tokens),
            ctx.lineitems_url,
            {"label": "Raw", "scoreMaximum": 4, "resourceId": "raw", "tag": "raw"},
        )
    raw_url = ags_scores(item["id"])
    print(
        f"\nScore posting from one worker, sandbox on gunicorn ({args.workers} workers x 4 "
        f"threads); the tool drains its outbox ({args.concurrency} threads, one kept-alive "
        f"connection each), raw = {args.raw_threads} threads POSTing with a session each"
    )
    print(
        f"  {'scores':>6} {'raw POST/s':>11} {'tool 1 thread':>14} {'tool posts/s':>13}"
        f"  {'CPU ms/post: sandbox':>21} {'tool':>6} {'PostgreSQL':>11} {'ceiling':>10}  ratios"
    )
    own_cpu: list[float] = []
    cores = os.cpu_count() or 1
    on_postgres = world.url.startswith("postgresql")
    for n in args.sizes:
        ids = students[:n]
        raw_rate = raw_posts(raw_url, score_token, [subs[i] for i in ids], args.raw_threads)
        one = drain_rate(rt, context_id, ids, 1, f"one{n}") if n <= args.sequential_max else None
        sandbox0, pg0 = workers_cpu(world.server), postgres_cpu()
        rate = drain_rate(rt, context_id, ids, args.concurrency, f"many{n}", cpu := [])
        sandbox_ms = (workers_cpu(world.server) - sandbox0) * 1000 / n
        pg_ms = (postgres_cpu() - pg0) * 1000 / n if on_postgres else 0.0
        tool_ms = cpu[0] * 1000 / n
        own_cpu.append(tool_ms)
        # every post costs the machine this much CPU in all: no more posts a second fit
        ceiling = cores * 1000 / (sandbox_ms + tool_ms + pg_ms)
        one_text = f"{one:9.0f} /s" if one else "         -  "
        gain = f"  x{rate / one:.1f} vs 1 thread" if one else ""
        print(
            f"  {len(ids):6d} {raw_rate:9.0f}/s {one_text:>14} {rate:11.0f}/s"
            f"  {sandbox_ms:21.2f} {tool_ms:6.2f} {pg_ms:11.2f} {ceiling:8.0f}/s"
            f"  tool/raw {rate / raw_rate:.2f}{gain}"
        )
    print(
        f"  the tool's own CPU per post, {min(own_cpu):.2f}-{max(own_cpu):.2f} ms (this process: "
        "claiming, sending, recording; PostgreSQL's not counted), bounds it against a platform "
        f"on other machines: {1000 / max(own_cpu):.0f}-{1000 / min(own_cpu):.0f} posts/s per "
        f"core; here the sandbox and PostgreSQL share the same {cores} cores, and the ceiling "
        f"is those {cores} cores over the CPU all three spend per post"
    )
    print("  target: >= 500 posts/s to a platform that can take it")


def drain_rate(
    rt: Any, context_id: int, user_ids: list[int], width: int, code: str, cpu: list | None = None
) -> float:
    """Posts per second of one drain of `user_ids`' scores, queued in a new competency
    (its column made by the drain, as the first posts of a course do); `cpu` gets this
    process's CPU seconds for the drain (claiming, sending, recording)."""
    with rt.session_factory() as s:
        comp = Competency(context_id=context_id, code=code, title=f"Bench {code}")
        s.add(comp)
        s.flush()
        now = utcnow()
        for user_id in user_ids:
            row = ScoreOutbox(context_id=context_id, user_id=user_id, competency_id=comp.id)
            set_score(s, row, 3.0, 4.0, now)
        s.commit()
    settings = replace(rt.settings, passback_concurrency=width)
    http = PlatformHttp(30, pool_size=width)
    runner = replace(
        rt,
        settings=settings,
        platform_http=http,
        tokens=AccessTokens(http, settings.key_encryption_key, rt.short_store),
    )
    before = CONNECTS.count
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    done = drain(runner, context_id)
    took = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.process_time() - cpu0)
    if done.posted != len(user_ids):
        print(f"  !! {code}: {done}")
    if width > 1:
        print(
            f"  ({len(user_ids)} scores by {width} threads: {CONNECTS.count - before} connections)"
        )
    return len(user_ids) / took


def raw_posts(url: str, token: str, subs: list[str], threads: int) -> float:
    """Score POSTs per second straight at the sandbox: no database, no outbox, a kept-alive
    session per thread: what the platform can take."""
    chunks = [subs[i::threads] for i in range(threads)]
    failed: list[int] = []

    def poster(batch: list[str]) -> None:
        session = requests.Session()
        for sub in batch:
            resp = session.post(
                url,
                data=json.dumps(
                    {
                        "userId": sub,
                        "scoreGiven": 2.0,
                        "scoreMaximum": 4.0,
                        "activityProgress": "Completed",
                        "gradingProgress": "FullyGraded",
                        "timestamp": datetime.now(UTC).isoformat(),
                    }
                ),
                headers={"Authorization": f"Bearer {token}", "Content-Type": ags.SCORE},
                timeout=30,
            )
            if resp.status_code != 200:
                failed.append(resp.status_code)

    t0 = time.perf_counter()
    workers = [threading.Thread(target=poster, args=(b,)) for b in chunks if b]
    for th in workers:
        th.start()
    for th in workers:
        th.join()
    took = time.perf_counter() - t0
    if failed:
        print(f"  !! raw: {len(failed)} refused ({sorted(set(failed))})")
    return len(subs) / took


def reg_of(session: Any, context_id: int) -> Registration:
    ctx = session.get(Context, context_id)
    return session.get(Registration, ctx.registration_id)


def ags_scores(lineitem_url: str) -> str:
    from lti_tool.clients.lti_services import service_url

    return service_url(lineitem_url, "scores")


if __name__ == "__main__":
    main()
