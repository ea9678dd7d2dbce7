"""Who may frame the tool's pages: the Content-Security-Policy `frame-ancestors` source list.

A launch's pages: the LMS host its return URLs name (`lti/message.py` frame_origins). Without one
(a launch with no return URL, the error and config pages): in production only the registered
platforms' origins (issuer and login URL hosts, so the launch's own platform too, read at most
once a minute); outside production also any https site and loopback, for demos and local
LMSs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.message import origin
from lti_tool.models.platform import Registration
from lti_tool.services.module_content import host_list
from lti_tool.settings import Settings

REGISTERED_TTL_SECONDS = 60.0


class FramePolicy:
    """The frame-ancestors list for a response, cheap enough for every request."""

    def __init__(
        self,
        settings: Settings,
        session_factory: Callable[[], Session],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._production = settings.is_production
        self._session_factory = session_factory
        self._clock = clock
        sandbox = origin(settings.sandbox_base_url) if settings.sandbox_enabled else None
        self._extra = [sandbox] if sandbox else []
        self._open = " ".join(
            ["'self'", "https:", "http://localhost:*", "http://127.0.0.1:*", *self._extra]
        )
        self._lock = threading.Lock()
        self._registered: tuple[float, str] | None = None

    def ancestors(self, frame_origins: Sequence[str] = ()) -> str:
        if frame_origins:
            return " ".join(frame_origins)
        if not self._production:
            return self._open
        return self.registered()

    def registered(self) -> str:
        """'self' and every registered platform's origins, cached briefly."""
        now = self._clock()
        cached = self._registered
        if cached is not None and now - cached[0] < REGISTERED_TTL_SECONDS:
            return cached[1]
        with self._session_factory() as session:
            rows = session.execute(select(Registration.issuer, Registration.auth_login_url))
            found = {o for row in rows for o in map(origin, row) if o}
        found.update(self._extra)
        value = " ".join(["'self'", *sorted(found)])
        with self._lock:
            self._registered = (now, value)
        return value


def frame_src(settings: Settings) -> str:
    """The CSP's `frame-src`: exactly the allowed video hosts, https only ('none' without)."""
    hosts = host_list(settings.video_hosts)
    return "frame-src " + (" ".join(f"https://{h}" for h in hosts) or "'none'") + "; "
