"""The tool's signing keys: rotate, list, and a new key-encryption key."""

from __future__ import annotations

from datetime import timedelta

import click

from lti_tool.cli.context import cli_settings, command_runtime, command_session, prepare


@click.group()
def keys() -> None:
    """The tool's signing keys."""


@keys.command("rotate")
@click.option(
    "--publish-ahead",
    type=int,
    default=None,
    help="Seconds the new key is published before it signs.",
)
@click.option(
    "--retire-after", type=int, default=None, help="Seconds old keys stay published after."
)
def keys_rotate(publish_ahead: int | None, retire_after: int | None) -> None:
    from lti_tool import keys as tool_keys

    settings = cli_settings()
    with command_runtime(settings) as rt:
        prepare(rt)
        ahead = settings.key_publish_ahead_seconds if publish_ahead is None else publish_ahead
        retire = settings.key_retire_after_seconds if retire_after is None else retire_after
        with command_session(rt) as session:
            new = tool_keys.rotate(
                session,
                settings.key_encryption_key,
                timedelta(seconds=ahead),
                timedelta(seconds=retire),
            )
            click.echo(
                f"New key {new.kid} is published now and signs from "
                f"{new.signs_from:%Y-%m-%d %H:%M:%S} UTC."
            )


@keys.command("list")
def keys_list() -> None:
    from lti_tool import keys as tool_keys

    with command_runtime() as rt:
        prepare(rt)
        with command_session(rt) as session:
            for k in tool_keys.published_keys(session):
                retire = f", retires {k.retire_at:%Y-%m-%d %H:%M}" if k.retire_at else ""
                click.echo(f"{k.kid}  signs from {k.signs_from:%Y-%m-%d %H:%M}{retire}")


@keys.command("new-kek")
def keys_new_kek() -> None:
    """Print a new key-encryption key for LTI_TOOL_KEY_ENCRYPTION_KEY."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())
