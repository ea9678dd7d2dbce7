"""The built-in sandbox platform: its signing key, injected faults and enrollments."""

from __future__ import annotations

import json

import click

from lti_tool.cli.context import command_runtime, command_session, prepare


@click.group()
def sandbox() -> None:
    """The built-in sandbox platform."""


@sandbox.command("rotate-key")
@click.option("--platform", "slug", required=True, help="canvas or moodle")
def sandbox_rotate_key(slug: str) -> None:
    from sqlalchemy import select

    from lti_tool.sandbox.models import SandboxPlatform
    from lti_tool.sandbox.platform import add_platform_key

    with command_runtime() as rt:
        prepare(rt)
        with command_session(rt) as session:
            platform = session.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
            if platform is None:
                raise click.ClickException(
                    f"no sandbox platform {slug!r} (run `lti-tool demo` once)"
                )
            key = add_platform_key(session, platform)
            click.echo(f"Sandbox {slug} now signs with {key.kid}.")


@sandbox.command("faults")
@click.option("--platform", "slug", required=True, help="canvas or moodle")
@click.option("--error-rate", type=float, help="Share of service calls that fail, 0 to 1.")
@click.option("--kinds", help="Comma-separated failures among 500, 503, 429, 403, drop.")
@click.option("--retry-after", type=int, help="Seconds in the Retry-After of a 429.")
@click.option("--latency-ms", type=int, help="Added to every token and service call.")
@click.option("--off", is_flag=True, help="No failures and no added latency.")
def sandbox_faults(
    slug: str,
    error_rate: float | None,
    kinds: str | None,
    retry_after: int | None,
    latency_ms: int | None,
    off: bool,
) -> None:
    """Make the sandbox's token and NRPS/AGS endpoints fail or slow down (reliability tests)."""
    from lti_tool.sandbox.faults import clear_faults, set_faults

    with command_runtime() as rt:
        prepare(rt)
        with command_session(rt) as session:
            try:
                if off:
                    now = clear_faults(session, slug)
                else:
                    now = set_faults(session, slug, error_rate, kinds, retry_after, latency_ms)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(f"Sandbox {slug} faults: {json.dumps(now.as_dict())}")


@sandbox.command("unenroll")
@click.option("--platform", "slug", required=True, help="canvas or moodle")
@click.option("--user-id", required=True, type=int, help="The sandbox user id.")
@click.option("--course-id", type=int, help="Only this course (default: all the platform's).")
@click.option("--inactive", is_flag=True, help="Suspend (NRPS status Inactive) instead.")
@click.option("--active", is_flag=True, help="Make a suspended enrollment active again.")
def sandbox_unenroll(
    slug: str, user_id: int, course_id: int | None, inactive: bool, active: bool
) -> None:
    """Remove someone from a sandbox course (gone from NRPS), or suspend them."""
    from lti_tool.sandbox.roster import set_enrollment_status, unenroll

    with command_runtime() as rt:
        prepare(rt)
        with command_session(rt) as session:
            try:
                if inactive or active:
                    status = "Inactive" if inactive else "Active"
                    n = set_enrollment_status(session, slug, user_id, status, course_id)
                    click.echo(f"User {user_id} is now {status} in {n} course(s) of {slug}.")
                else:
                    n = unenroll(session, slug, user_id, course_id)
                    click.echo(f"User {user_id} removed from {n} course(s) of {slug}.")
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
