"""The `lti-tool` command; its subcommands live in one module per area."""

from __future__ import annotations

import click

from lti_tool.cli import courses, db, keys, registrations, run, sandbox, worker
from lti_tool.cli.context import prepare

__all__ = ["main", "prepare"]


@click.group()
def main() -> None:
    """An LTI 1.3 tool for mastery-based learning."""


for command in (
    run.demo,
    run.serve,
    db.db,
    registrations.registration,
    registrations.deployment,
    keys.keys,
    courses.course,
    courses.sync,
    courses.recompute,
    courses.passback,
    worker.store,
    worker.worker,
    sandbox.sandbox,
):
    main.add_command(command)
