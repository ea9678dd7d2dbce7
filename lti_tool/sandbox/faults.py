"""The fault switch of a sandbox platform: a share of the calls to its token endpoint and
its NRPS/AGS endpoints fail with 500, 503, 429 (with `Retry-After`), Canvas' throttling
403 "Rate Limit Exceeded" (with `X-Rate-Limit-Remaining`) or a dropped connection,
and every such call can be slowed by a fixed latency. Launch and OIDC pages never fail.

Which calls fail is deterministic, not random: call n (counted per platform and process
since the switch last changed) fails when floor(n × rate) steps up, so exactly `rate` of the
calls fail, evenly spread (rate 0.25: calls 4, 8, 12, …), and the failing calls take the
kinds in turn. Tests can therefore predict every answer.
"""

from __future__ import annotations

import math
import socket
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from lti_tool.sandbox.models import SandboxFaults, SandboxPlatform

KINDS = ("500", "503", "429", "403", "drop")


@dataclass(frozen=True)
class FaultSettings:
    error_rate: float = 0.0
    kinds: tuple[str, ...] = ()
    retry_after: int = 1
    latency_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "kinds": list(self.kinds),
            "retry_after": self.retry_after,
            "latency_ms": self.latency_ms,
        }


def validate(changes: dict[str, Any], current: FaultSettings) -> FaultSettings:
    """New settings from `changes` (absent keys keep their value); ValueError says why not."""
    unknown = set(changes) - {"error_rate", "kinds", "retry_after", "latency_ms"}
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    rate = changes.get("error_rate", current.error_rate)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ValueError("error_rate: expected a number from 0 to 1")
    kinds = changes.get("kinds", list(current.kinds))
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",") if k.strip()]
    if not isinstance(kinds, list) or any(str(k).strip() not in KINDS for k in kinds):
        raise ValueError(f"kinds: expected a list of {', '.join(KINDS)}")
    kinds = [str(k).strip() for k in kinds]
    if rate > 0 and not kinds:
        raise ValueError("kinds: say which failures to produce when error_rate > 0")
    retry_after = changes.get("retry_after", current.retry_after)
    latency = changes.get("latency_ms", current.latency_ms)
    for name, value in (("retry_after", retry_after), ("latency_ms", latency)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 600_000:
            raise ValueError(f"{name}: expected a whole number from 0")
    return FaultSettings(float(rate), tuple(kinds), retry_after, latency)


# How long a process trusts the switch it read: a change made in another process (the CLI,
# another gunicorn worker) shows within this; one this process commits shows at once.
FAULTS_TTL = 1.0
FAULTS_QUERY = select(
    SandboxFaults.error_rate,
    SandboxFaults.kinds,
    SandboxFaults.retry_after,
    SandboxFaults.latency_ms,
).where(SandboxFaults.platform_id == bindparam("platform"))


def read_faults(session: Session, platform_id: int) -> FaultSettings:
    row = session.scalar(select(SandboxFaults).where(SandboxFaults.platform_id == platform_id))
    if row is None:
        return FaultSettings()
    return FaultSettings(row.error_rate, tuple(row.kinds or ()), row.retry_after, row.latency_ms)


def write_faults(session: Session, platform_id: int, new: FaultSettings) -> None:
    row = session.scalar(select(SandboxFaults).where(SandboxFaults.platform_id == platform_id))
    if row is None:
        row = SandboxFaults(platform_id=platform_id)
        session.add(row)
    row.error_rate = new.error_rate
    row.kinds = list(new.kinds)
    row.retry_after = new.retry_after
    row.latency_ms = new.latency_ms
    session.flush()


def set_faults(
    session: Session,
    slug: str,
    error_rate: float | None = None,
    kinds: list[str] | str | None = None,
    retry_after: int | None = None,
    latency_ms: int | None = None,
) -> FaultSettings:
    """Set a platform's fault switch (what `POST /sandbox/<slug>/faults` and
    `lti-tool sandbox faults` do). The caller commits. Raises ValueError on bad values."""
    platform = session.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
    if platform is None:
        raise ValueError(f"no sandbox platform {slug!r}")
    changes = {
        k: v
        for k, v in {
            "error_rate": error_rate,
            "kinds": kinds,
            "retry_after": retry_after,
            "latency_ms": latency_ms,
        }.items()
        if v is not None
    }
    new = validate(changes, read_faults(session, platform.id))
    write_faults(session, platform.id, new)
    return new


def clear_faults(session: Session, slug: str) -> FaultSettings:
    return set_faults(session, slug, error_rate=0.0, kinds=[], latency_ms=0)


class FaultPlan:
    """Per-platform call counters; reset whenever the platform's settings change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[int, tuple[FaultSettings, int]] = {}

    def reset(self, platform_id: int) -> None:
        with self._lock:
            self._state.pop(platform_id, None)

    def next_fault(self, platform_id: int, settings: FaultSettings) -> str | None:
        """The failure for this call, or None when it succeeds."""
        with self._lock:
            seen, n = self._state.get(platform_id, (settings, 0))
            if seen != settings:
                n = 0
            n += 1
            self._state[platform_id] = (settings, n)
        if settings.error_rate <= 0 or not settings.kinds:
            return None
        before = math.floor(round((n - 1) * settings.error_rate, 9))
        now = math.floor(round(n * settings.error_rate, 9))
        if now == before:
            return None
        return settings.kinds[(now - 1) % len(settings.kinds)]


def drop_connection(environ: dict[str, Any]) -> Response:
    """Close the client's connection without any HTTP answer. The development server and
    gunicorn hand the socket over in the environ; the empty response written afterwards
    fails quietly (werkzeug treats a broken pipe as a dropped connection)."""
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if sock is None:
        return Response("The server cannot drop connections here.", status=500)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    return Response(b"", status=500)
