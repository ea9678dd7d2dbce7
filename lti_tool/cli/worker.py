"""Background work: the RQ worker, and the sweep of the short-lived store."""

from __future__ import annotations

import uuid

import click

from lti_tool.cli.context import cli_settings, command_runtime, command_session


@click.group()
def store() -> None:
    """The shared store of short-lived values (login states, caches)."""


@store.command("sweep")
def store_sweep() -> None:
    """Delete the store's expired rows from the database (Redis expires its own keys)."""
    from lti_tool.store import DatabaseStore

    with command_runtime() as rt:
        with command_session(rt) as session:
            count = DatabaseStore(session).sweep()
    click.echo(f"Deleted {count} expired store entries.")


@click.command()
@click.option("--burst", is_flag=True, help="Run the queued jobs, then stop.")
def worker(burst: bool) -> None:
    """Run background jobs: an RQ worker when LTI_TOOL_REDIS_URL is set (production)."""
    settings = cli_settings()
    if not settings.redis_url:
        raise click.ClickException(
            "the worker needs LTI_TOOL_REDIS_URL (RQ on Redis); without Redis, jobs run inside "
            "the web process"
        )
    import redis

    from lti_tool.jobs.worker import make_worker

    queue_name = settings.redis_prefix
    connection = redis.Redis.from_url(settings.redis_url)
    click.echo(f"Worker for queue {queue_name!r} on {settings.redis_url.split('@')[-1]}.")
    if not burst:
        from lti_tool.jobs.queue import RQQueue

        # Starts the periodic sync if no tick is running (the tick itself keeps one alive),
        # and posts what is due now: a worker may start because another one died.
        RQQueue(connection, queue_name).enqueue("tick")
        RQQueue(connection, queue_name).enqueue("drain", None)
    # Named after the queue, so `rq info` (and a test's cleanup) can tell deployments apart.
    name = f"{queue_name}.{uuid.uuid4().hex[:12]}"
    make_worker(settings, connection, queue_name, name).work(burst=burst, with_scheduler=not burst)
