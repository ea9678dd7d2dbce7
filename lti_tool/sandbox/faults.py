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
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from lti_tool.sandbox.models import SandboxFaults, SandboxPlatform
from lti_tool.sandbox.services import TTLCache

KINDS = ("500", "503", "429", "403", "drop")
# The endpoints the switch covers (registered by app.py, nrps.py and ags.py).
FAULTY_ENDPOINTS: set[str] = set()


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
_FAULTS = select(
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


def register(app: Flask, sb: Any) -> FaultPlan:
    plan = FaultPlan()
    # platform id -> its switch, read at most once per FAULTS_TTL (see TTLCache)
    cache: TTLCache[int, FaultSettings] = TTLCache(FAULTS_TTL)

    def current(platform_id: int) -> FaultSettings:
        settings = cache.get(platform_id)
        if settings is None:
            row = sb.conn().execute(_FAULTS, {"platform": platform_id}).one_or_none()
            settings = (
                FaultSettings()
                if row is None
                else FaultSettings(row[0], tuple(row[1] or ()), row[2], row[3])
            )
            cache.put(platform_id, settings)
        return settings

    @app.before_request
    def inject() -> Response | None:
        if request.endpoint not in FAULTY_ENDPOINTS or not request.view_args:
            return None
        platform = sb.find_platform(str(request.view_args.get("slug", "")))
        if platform is None:
            return None
        platform_id = platform.id
        settings = current(platform_id)
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000)
        kind = plan.next_fault(platform_id, settings)
        if kind is None:
            return None
        if kind == "drop":
            return drop_connection(request.environ)
        if kind == "429":
            return Response(
                "Rate Limit Exceeded",
                status=429,
                headers={"Retry-After": str(settings.retry_after)},
                content_type="text/plain",
            )
        if kind == "403":
            # Canvas' throttling answer (lib/api.rb): a 403 that means "slow down".
            return Response(
                "403 Forbidden (Rate Limit Exceeded)\n",
                status=403,
                headers={"X-Rate-Limit-Remaining": "0.0"},
                content_type="text/plain",
            )
        return Response(
            f"Sandbox fault injected: {kind}", status=int(kind), content_type="text/plain"
        )

    def platform_id_or_404(slug: str) -> int:
        return int(sb.platform(slug).id)

    @app.get("/<slug>/faults")
    def faults_get(slug: str) -> Response:
        return jsonify(read_faults(sb.db(), platform_id_or_404(slug)).as_dict())

    @app.post("/<slug>/faults")
    def faults_set(slug: str) -> Any:
        platform_id = platform_id_or_404(slug)
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return jsonify({"error": "expected a JSON object"}), 400
        try:
            new = validate(body, read_faults(sb.db(), platform_id))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        write_faults(sb.db(), platform_id, new)
        plan.reset(platform_id)
        return jsonify(new.as_dict())

    return plan
