"""What the service benchmarks share: a database, the tool's runtime, a sandbox course of N
students served by gunicorn (threaded, keep-alive), and the tool's course row for it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import scratch_db
from sqlalchemy import select

from lti_tool import migrate
from lti_tool.app import create_app
from lti_tool.cli import prepare
from lti_tool.db import make_engine
from lti_tool.models.course import Context
from lti_tool.models.platform import Deployment, Registration
from lti_tool.sandbox.models import SandboxCourse, SandboxPlatform, SandboxTool
from lti_tool.sandbox.platform import PlatformUrls
from lti_tool.sandbox.seed import seed_platform
from lti_tool.settings import load_settings


@dataclass
class World:
    rt: Any
    url: str
    env: dict[str, str]
    context_id: int
    slug: str
    sandbox_course_id: int
    # The gunicorn master serving the sandbox (its workers' CPU: `workers_cpu`).
    server: Any = None


def _stat(path: Path) -> tuple[str, list[str]] | None:
    """A process's command name and the fields after it in /proc/<pid>/stat (None: gone)."""
    try:
        head, tail = path.read_text().rsplit(")", 1)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return head.split("(", 1)[1], tail.split()


def workers_cpu(server: Any) -> float:
    """CPU seconds the gunicorn workers of `server` used so far (Linux /proc): what the
    platform spent, which a busy machine's other processes do not inflate."""
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    total = 0.0
    for pid in children:
        found = _stat(Path(f"/proc/{pid}/stat"))
        if found is not None:
            total += (int(found[1][11]) + int(found[1][12])) / tick  # utime + stime
    return total


def postgres_cpu() -> float:
    """CPU seconds this machine's PostgreSQL processes used so far, ended backends included
    (their time moves to the postmaster's children's counters when it reaps them)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for path in Path("/proc").glob("[0-9]*/stat"):
        found = _stat(path)
        if found is not None and found[0] == "postgres":
            total += sum(int(f) for f in found[1][11:15]) / tick  # utime stime cutime cstime
    return total


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox_world(
    students: int,
    shape: str = "canvas",
    gunicorn_workers: int = 4,
    server_env: dict[str, str] | None = None,
) -> Iterator[World]:
    """`server_env`: more of the server's environment. A benchmark that posts with RQ workers
    passes its Redis there: without Redis, the tool's WSGI entry runs jobs in-process and
    drains the outbox itself once a lease has passed after it starts (jobs.tasks.
    resume_after_restart), so the server's processes would post beside the workers measured."""
    scratch = scratch_db.create()
    url = scratch[0] if scratch else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    port = free_port()
    overrides = {
        "environment": "test",
        "sandbox_enabled": True,
        "database_url": url,
        "base_url": f"http://127.0.0.1:{port}",
        "sandbox_base_url": f"http://127.0.0.1:{port}",
        "log_level": "ERROR",
        "roster_max_age_seconds": 0,
        "http_timeout_seconds": 30,
        "rate_limit_login": "10000000/minute",
        "rate_limit_launch": "10000000/minute",
    }
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(load_settings(environ={}, overrides=overrides))
    rt = app.extensions["lti_tool"]
    prepare(rt)
    t = time.perf_counter()
    with rt.session_factory() as s:
        seeded = seed_platform(s, rt.settings, shape, shape, f"Sandbox {shape}", students)
        s.commit()
    print(f"seeded a course of {students} students in {time.perf_counter() - t:.1f} s")
    env = {
        **os.environ,
        **{f"LTI_TOOL_{k.upper()}": str(v) for k, v in overrides.items()},
        "LTI_TOOL_SECRET_KEY": "bench-" + "x" * 40,
        **(server_env or {}),
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--workers",
            str(gunicorn_workers),
            # threaded workers keep connections alive, as an LMS behind a proxy does
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--keep-alive",
            "30",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "lti_tool.wsgi:app",
        ],
        env=env,
        cwd=tempfile.mkdtemp(),
    )
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.1)
        context_id = course_row(rt, seeded)
        yield World(rt, url, env, context_id, shape, seeded.course_id, server)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # a loaded machine: don't leave the database behind
            server.kill()
            server.wait()
        rt.engine.dispose()
        if scratch:
            scratch_db.drop(scratch[1])


def course_row(rt: Any, seeded: Any) -> int:
    """The tool's course for the sandbox course, as its first launch would make it."""
    with rt.session_factory() as s:
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == seeded.slug))
        tool = s.scalar(select(SandboxTool).where(SandboxTool.platform_id == platform.id))
        course = s.get(SandboxCourse, seeded.course_id)
        urls = PlatformUrls(rt.settings.sandbox_base_url, platform)
        reg = s.scalar(select(Registration).where(Registration.uuid == seeded.registration_uuid))
        dep = s.scalar(select(Deployment).where(Deployment.registration_id == reg.id))
        context = Context(
            registration_id=reg.id,
            deployment_id=dep.id,
            id_on_platform=course.lti_context_id,
            title=course.title,
            memberships_url=urls.memberships(course, tool),
            lineitems_url=urls.lineitems(course, tool),
        )
        s.add(context)
        s.commit()
        return context.id
