"""What a running process shares across requests and jobs, built once by `wiring.build_runtime`.

Nothing here is state another process needs: caches only, rebuilt on demand. No Flask: the
web's request-bound view of it is `web/context.py`; services take only what they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.clients.http import HttpClient
from lti_tool.clients.platform_http import PlatformHttp
from lti_tool.clients.tokens import AccessTokens
from lti_tool.lti.login_state import LoginStates
from lti_tool.lti.platform_keys import PlatformKeys
from lti_tool.lti.registrations import RegistrationCache
from lti_tool.settings import Settings
from lti_tool.store import SharedStore, StoreOpener, store_in


class JobQueue(Protocol):
    """Where background jobs go by name (jobs/queue.py: RQ on Redis, or threads in process)."""

    def enqueue(self, name: str, *args: Any) -> None: ...

    def enqueue_in(self, seconds: float, name: str, *args: Any) -> None: ...


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    http: HttpClient
    platform_keys: PlatformKeys
    platform_http: PlatformHttp
    tokens: AccessTokens
    registrations: RegistrationCache
    login_states: LoginStates
    jobs: JobQueue
    redis: Any | None  # None: the embedded default (store in the database, jobs in process)
    short_store: StoreOpener

    def store(self, session: Session) -> SharedStore:
        """The shared store; in the database it writes in the given session's transaction."""
        return store_in(self.redis, self.settings.redis_prefix, session)
