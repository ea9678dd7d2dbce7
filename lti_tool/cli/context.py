"""What every command needs: its settings, a runtime (no web app) whose connections close at
the end, and a session that owns the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from sqlalchemy.orm import Session

from lti_tool.runtime import Runtime
from lti_tool.settings import Settings, SettingsError, load_settings
from lti_tool.wiring import build_runtime, configure_logging


def cli_settings(**overrides: Any) -> Settings:
    try:
        return load_settings(overrides={k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.ClickException(f"invalid setting: {exc}") from None


def make_app(settings: Settings) -> Flask:
    from lti_tool.app import create_app

    return create_app(settings)


@contextmanager
def command_runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    """A runtime for one command, no web app; its connections are closed when it ends."""
    settings = settings or cli_settings()
    configure_logging(settings)
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.engine.dispose()


@contextmanager
def command_session(rt: Runtime) -> Iterator[Session]:
    """A CLI command owns its transaction: committed on success, rolled back on error."""
    session = rt.session_factory()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def resume_embedded(rt: Runtime) -> None:
    """Without Redis this process runs the jobs: post what a killed one left behind."""
    from lti_tool.jobs.tasks import resume_after_restart

    if rt.redis is None:
        resume_after_restart(rt)


def prepare(rt: Runtime) -> None:
    """Bring the schema up to date and make the tool's first key, as `demo` and `serve` need."""
    from lti_tool import keys, migrate

    # The sandbox's tables only where the sandbox runs (its own Alembic branch).
    target = migrate.EVERYTHING if rt.settings.sandbox_enabled else migrate.PRODUCT_ONLY
    if migrate.needs_upgrade(rt.engine, target):
        click.echo("Upgrading the database schema…")
        migrate.upgrade(rt.engine, target)
    with command_session(rt) as session:
        keys.ensure_key(session, rt.settings.key_encryption_key)
