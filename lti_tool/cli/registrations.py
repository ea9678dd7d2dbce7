"""Platforms registered with the tool and their deployments."""

from __future__ import annotations

import json
from typing import Any

import click

from lti_tool.cli.context import cli_settings, command_runtime, command_session, prepare
from lti_tool.settings import Settings


@click.group()
def registration() -> None:
    """Platforms registered with the tool."""


@registration.command("add")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--auth-login-url", required=True)
@click.option("--auth-token-url", required=True)
@click.option("--key-set-url", required=True)
@click.option(
    "--token-audience", default=None, help="aud of client assertions, if not the token URL"
)
@click.option("--name", default="")
@click.option("--deployment-id", "deployment_ids", multiple=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def registration_add(as_json: bool, deployment_ids: tuple[str, ...], **fields: Any) -> None:
    """Register a platform; prints its UUID (and the URLs to give the platform)."""
    from lti_tool.lti.registrations import NewRegistration, RegistrationError, add_registration

    settings = cli_settings()
    with command_runtime(settings) as rt:
        prepare(rt)
        try:
            with command_session(rt) as session:
                reg = add_registration(session, NewRegistration(**fields), list(deployment_ids))
                uuid = reg.uuid
        except RegistrationError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps({"uuid": uuid, **_tool_urls(settings, uuid)}, indent=2))
        else:
            click.echo(uuid)


@registration.command("invite")
@click.option(
    "--valid-hours",
    default=72,
    show_default=True,
    type=click.IntRange(1, 24 * 90),
    help="How long the link opens the registration page.",
)
def registration_invite(valid_hours: int) -> None:
    """Print a registration URL to paste into an LMS (LTI Dynamic Registration); it works
    until it expires or one registration succeeds with it."""
    from datetime import timedelta

    from lti_tool.lti.registration_invites import new_invite

    settings = cli_settings()
    with command_runtime(settings) as rt:
        prepare(rt)
        with command_session(rt) as session:
            token = new_invite(session, timedelta(hours=valid_hours))
    click.echo(settings.url(f"/lti/register/{token}"))


def _tool_urls(settings: Settings, uuid: str) -> dict[str, str]:
    return {
        "login_url": settings.url(f"/lti/login/{uuid}"),
        "redirect_uri": settings.url("/lti/launch"),
        "target_link_uri": settings.url("/lti/launch"),
        "deep_linking_url": settings.url("/lti/launch"),
        "jwks_url": settings.url("/.well-known/jwks.json"),
        "canvas_config_url": settings.url("/lti/config/canvas.json"),
    }


@registration.command("list")
@click.option("--json", "as_json", is_flag=True)
def registration_list(as_json: bool) -> None:
    from lti_tool.lti.registrations import list_registrations

    with command_runtime() as rt:
        prepare(rt)
        with command_session(rt) as session:
            rows = [
                {
                    "uuid": r.uuid,
                    "name": r.name,
                    "issuer": r.issuer,
                    "client_id": r.client_id,
                    "platform_family": r.platform_family,
                    # a dynamic registration that named no deployment: the first one a
                    # launch brings will be allowed
                    "allow_first_deployment": r.allow_first_deployment,
                    "deployments": [
                        {"deployment_id": d.deployment_id, "allowed": d.allowed}
                        for d in r.deployments
                    ],
                }
                for r in list_registrations(session)
            ]
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            click.echo("No registrations yet: add one with `lti-tool registration add`.")
        for r in rows:
            deps = ", ".join(
                f"{d['deployment_id']}{'' if d['allowed'] else ' (not allowed)'}"
                for d in r["deployments"]
            )
            if r["allow_first_deployment"]:
                deps = "- (the first to launch will be allowed)"
            click.echo(
                f"{r['uuid']}  {r['issuer']}  client {r['client_id']}  deployments: {deps or '-'}"
            )


@click.group()
def deployment() -> None:
    """Deployments (installations of the tool in a platform)."""


@deployment.command("allow")
@click.option("--registration", "registration_uuid", required=True, help="Registration UUID.")
@click.option("--deployment-id", required=True)
def deployment_allow(registration_uuid: str, deployment_id: str) -> None:
    from lti_tool.lti.registrations import RegistrationError, allow_deployment, find_by_uuid

    with command_runtime() as rt:
        prepare(rt)
        with command_session(rt) as session:
            reg = find_by_uuid(session, registration_uuid)
            if reg is None:
                raise click.ClickException(f"no registration {registration_uuid}")
            try:
                allow_deployment(session, reg, deployment_id)
            except RegistrationError as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"Deployment {deployment_id} of {registration_uuid} is allowed.")
