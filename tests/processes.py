"""Worker processes in tests: stopped whole (work horse and scheduler too), and never left
running because a busy machine made a graceful stop slow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def family(pid: int) -> list[int]:
    """The process and its descendants: RQ runs each job in a work horse that it moves to a
    process group of its own, and its scheduler in another child."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    members, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in members} - members
        members |= more
        grew = bool(more)
    return sorted(members)


def signal_family(worker: subprocess.Popen, sig: int) -> None:
    """Signal the worker, its work horse and its scheduler, as a machine that dies would."""
    for pid in family(worker.pid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_workers(workers: list[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM (RQ lets a running job finish), then SIGKILL for whatever is still there."""
    for w in workers:
        if w.poll() is None:
            signal_family(w, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(grace)
        except subprocess.TimeoutExpired:
            signal_family(w, signal.SIGKILL)
            w.wait(5)


def start_worker(
    database_url: str, redis_env: dict[str, str], tool_url: str, **settings: object
) -> subprocess.Popen:
    """A real `lti-tool worker` on the test's database and Redis space, configured only by
    LTI_TOOL_* variables (none inherited from the machine); `settings` as LTI_TOOL_<NAME>."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")},
        "LTI_TOOL_DATABASE_URL": database_url,
        **redis_env,
        "LTI_TOOL_BASE_URL": tool_url,
        "LTI_TOOL_LOG_LEVEL": "WARNING",
        **{f"LTI_TOOL_{name.upper()}": str(value) for name, value in settings.items()},
    }
    exe = str(Path(sys.executable).with_name("lti-tool"))
    return subprocess.Popen(
        [exe, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
