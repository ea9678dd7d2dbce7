"""What a running app holds: settings, the engine, clients and per-request sessions.

Nothing here is state another process needs: caches only, rebuilt on demand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.clients.http import HttpClient
from lti_tool.clients.platform_http import PlatformHttp
from lti_tool.clients.tokens import AccessTokens
from lti_tool.jobs.queue import InProcessQueue
from lti_tool.lti.platform_keys import PlatformKeys
from lti_tool.lti.registrations import RegistrationCache
from lti_tool.settings import Settings
from lti_tool.store import DatabaseStore, RedisStore, SharedStore


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    http: HttpClient
    platform_keys: PlatformKeys
    platform_http: PlatformHttp | None = None
    tokens: AccessTokens | None = None
    registrations: RegistrationCache = field(default_factory=RegistrationCache)
    jobs: Any = field(default_factory=InProcessQueue)
    redis: Any | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def db(self) -> Session:
        """The request's session, opened on first use and committed after the request."""
        session: Session | None = g.get("_db")
        if session is None:
            session = self.session_factory()
            g._db = session
        return session

    @contextmanager
    def short_store(self) -> Iterator[SharedStore]:
        """A store in its own transaction, committed on exit (for caches written mid-work)."""
        if self.redis is not None:
            yield RedisStore(self.redis, self.settings.redis_prefix + ":")
            return
        with self.session_factory() as session:
            yield DatabaseStore(session)
            session.commit()

    def store(self) -> SharedStore:
        if self.redis is not None:
            return RedisStore(self.redis, self.settings.redis_prefix + ":")
        return DatabaseStore(self.db())


def runtime() -> Runtime:
    return current_app.extensions["lti_tool"]  # type: ignore[no-any-return]
