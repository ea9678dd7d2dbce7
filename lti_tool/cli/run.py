"""Running the tool: the demo with its sandbox platform, or the tool alone."""

from __future__ import annotations

import click

from lti_tool.cli.context import cli_settings, command_session, make_app, prepare, resume_embedded
from lti_tool.web.context import app_runtime


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--students", default=24, show_default=True, type=int, help="Students per course.")
def demo(host: str, port: int, students: int) -> None:
    """Run the tool with the sandbox platform and a demo course (SQLite, one process)."""
    from datetime import timedelta

    from lti_tool.lti.registration_invites import new_invite
    from lti_tool.sandbox.seed import seed_demo

    settings = cli_settings(
        environment="demo",
        sandbox_enabled=True,
        base_url=f"http://{host}:{port}",
        sandbox_base_url=f"http://localhost:{port}",
    )
    app = make_app(settings)
    rt = app_runtime(app)
    prepare(rt)
    with command_session(rt) as session:
        seeded = seed_demo(session, settings, students)
        # one registration URL per sandbox platform: each works once
        invites = [new_invite(session, timedelta(hours=72)) for _ in seeded]
    click.echo("\nThe demo is ready. Open the sandbox LMS in a browser:\n")
    click.echo(f"    {settings.sandbox_url('/sandbox/')}\n")
    for p in seeded:
        click.echo(
            f"  {p.name}: {settings.sandbox_url(f'/sandbox/{p.slug}/courses/{p.course_id}')}"
        )
    click.echo(
        "\nPick a course, then 'Launch as …' a student, the teacher or the mentor.\n"
        f"The tool itself answers at {settings.base_url} (config: {settings.url('/lti/config')}).\n"
    )
    click.echo("To try LTI Dynamic Registration, open a platform's tools page and paste its URL:")
    for p, invite in zip(seeded, invites, strict=True):
        click.echo(f"  {p.name}: {settings.sandbox_url(f'/sandbox/{p.slug}/admin/tools')}")
        click.echo(f"    paste {settings.url(f'/lti/register/{invite}')}")
    click.echo("\nPress Ctrl+C to stop.\n")
    resume_embedded(rt)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the tool alone on the development server (production: gunicorn, see README)."""
    settings = cli_settings()
    app = make_app(settings)
    rt = app_runtime(app)
    prepare(rt)
    click.echo(f"Serving the tool at {settings.base_url} (development server).")
    resume_embedded(rt)
    app.run(host=host, port=port, threaded=True, use_reloader=False)
