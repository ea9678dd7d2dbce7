"""A test's own corner of a shared Redis: the tool's keys and RQ queue under a prefix no other
run uses, removed afterwards (the keys, the queue's jobs, the limiter's counts), so tests and
benchmarks never flush a database another run, or a developer, may be using.

The Redis comes from LTI_TOOL_TEST_REDIS_URL (default database 12 on 127.0.0.1)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

TEST_REDIS_URL = os.environ.get("LTI_TOOL_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


@dataclass
class RedisSpace:
    url: str
    prefix: str
    client: Any

    def settings(self) -> dict[str, str]:
        """Overrides for make_app."""
        return {"redis_url": self.url, "redis_prefix": self.prefix}

    def env(self) -> dict[str, str]:
        """Environment of an `lti-tool worker` process."""
        return {"LTI_TOOL_REDIS_URL": self.url, "LTI_TOOL_REDIS_PREFIX": self.prefix}

    def queue(self) -> Any:
        from lti_tool.jobs.queue import RQQueue

        return RQQueue(self.client, self.prefix)


def open_space(url: str = TEST_REDIS_URL, kind: str = "test") -> RedisSpace:
    """Connect (raises redis.RedisError when Redis does not answer) and pick a fresh prefix."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    client.ping()
    return RedisSpace(url, f"lti_tool_{kind}_{uuid.uuid4().hex[:12]}", client)


def remove_space(space: RedisSpace) -> int:
    """Delete what was made under the prefix and nothing else; returns the keys deleted."""
    from rq import Queue
    from rq.registry import (
        CanceledJobRegistry,
        DeferredJobRegistry,
        FailedJobRegistry,
        FinishedJobRegistry,
        ScheduledJobRegistry,
        StartedJobRegistry,
    )

    client = space.client
    queue = Queue(space.prefix, connection=client)
    job_ids = set(queue.get_job_ids())
    for registry in (
        StartedJobRegistry,
        FinishedJobRegistry,
        FailedJobRegistry,
        DeferredJobRegistry,
        ScheduledJobRegistry,
        CanceledJobRegistry,
    ):
        job_ids.update(registry(queue=queue).get_job_ids())
    deleted = 0
    for job_id in job_ids:
        deleted += client.delete(
            f"rq:job:{job_id}",
            f"rq:job:{job_id}:dependents",
            f"rq:job:{job_id}:dependencies",
            f"rq:results:{job_id}",
        )
    client.srem("rq:queues", queue.key)
    # The store's keys, the queue and its registries, the scheduler lock, the limiter's counts.
    for key in client.scan_iter(match=f"*{space.prefix}*", count=1000):
        deleted += client.delete(key)
    client.close()
    return deleted
