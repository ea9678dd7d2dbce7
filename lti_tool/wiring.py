"""How a process is put together: one `build_runtime(settings)` for the web app, the CLI and
the RQ worker, without Flask; and the worker's entry point, which RQ imports by its path."""

from __future__ import annotations

import logging
from typing import Any

from lti_tool.clients.http import HttpClient, RequestsHttpClient
from lti_tool.clients.platform_http import PlatformHttp
from lti_tool.clients.tokens import AccessTokens
from lti_tool.db import default_database_url, make_engine, make_session_factory
from lti_tool.jobs import tasks
from lti_tool.jobs.queue import InProcessQueue, RQQueue
from lti_tool.lti.login_state import LoginStates
from lti_tool.lti.platform_keys import PlatformKeys
from lti_tool.lti.registrations import RegistrationCache
from lti_tool.runtime import JobQueue, Runtime
from lti_tool.settings import Settings, load_settings
from lti_tool.store import short_store_opener


def configure_logging(settings: Settings) -> None:
    """The process's log format and level, from the settings."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def build_runtime(settings: Settings, http: HttpClient | None = None) -> Runtime:
    """Every part a process shares, made once; `http` replaces the outbound client in tests."""
    engine = make_engine(settings.database_url or default_database_url())
    session_factory = make_session_factory(engine)
    http_client = http or RequestsHttpClient(settings.http_timeout_seconds)
    redis_client = _redis(settings)
    short_store = short_store_opener(redis_client, settings.redis_prefix, session_factory)
    platform_http = PlatformHttp(
        settings.http_timeout_seconds,
        max_attempts=settings.http_max_attempts,
        max_delay=settings.http_max_backoff_seconds,
        # a drain's threads each hold one kept-alive connection per platform host
        pool_size=settings.passback_concurrency,
    )
    jobs: JobQueue
    if redis_client is not None:
        jobs = RQQueue(redis_client, settings.redis_prefix)
    else:
        # The in-process queue runs its jobs with the runtime it belongs to (named below,
        # and in place before any job can be queued).
        jobs = InProcessQueue(lambda name, *args: tasks.run(rt, name, *args))
    rt = Runtime(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        http=http_client,
        platform_keys=PlatformKeys(
            http_client, settings.jwks_cache_seconds, settings.jwks_refetch_min_interval_seconds
        ),
        platform_http=platform_http,
        tokens=AccessTokens(platform_http, settings.key_encryption_key, short_store),
        registrations=RegistrationCache(),
        login_states=LoginStates(settings.secret_key, settings.login_state_seconds),
        jobs=jobs,
        redis=redis_client,
        short_store=short_store,
    )
    return rt


def _redis(settings: Settings) -> Any | None:
    if not settings.redis_url:
        return None
    import redis

    return redis.Redis.from_url(settings.redis_url, socket_timeout=settings.http_timeout_seconds)


_WORKER_RUNTIME: Runtime | None = None


def worker_runtime() -> Runtime:
    """The RQ work horse's runtime, built from the environment on its first job."""
    global _WORKER_RUNTIME
    if _WORKER_RUNTIME is None:
        settings = load_settings()
        configure_logging(settings)
        _WORKER_RUNTIME = build_runtime(settings)
    return _WORKER_RUNTIME


def run_job(name: str, *args: Any) -> Any:
    """The RQ entry point (jobs/queue.py RQ_ENTRY): a job's name, then plain arguments."""
    return tasks.run(worker_runtime(), name, *args)
