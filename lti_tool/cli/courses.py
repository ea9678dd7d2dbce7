"""Courses the tool has seen: list them, read rosters and grades, recompute, post scores."""

from __future__ import annotations

import click

from lti_tool.cli.context import command_runtime, command_session


@click.group()
def course() -> None:
    """Courses (LMS contexts) the tool has seen."""


@course.command("list")
def course_list() -> None:
    from sqlalchemy import func, select

    from lti_tool.models.course import Context, Membership
    from lti_tool.models.platform import Registration

    with command_runtime() as rt, command_session(rt) as session:
        rows = session.execute(
            select(Context, Registration.name, Registration.issuer, func.count(Membership.id))
            .join(Registration, Registration.id == Context.registration_id)
            .outerjoin(Membership, Membership.context_id == Context.id)
            .group_by(Context.id, Registration.name, Registration.issuer)
            .order_by(Context.id)
        ).all()
        if not rows:
            click.echo("No courses yet: a course appears at its first launch.")
        for ctx, name, issuer, members in rows:
            synced = f"{ctx.roster_synced_at:%Y-%m-%d %H:%M}" if ctx.roster_synced_at else "never"
            click.echo(
                f"{ctx.id:>5}  {ctx.title}  ({name or issuer}, LMS id {ctx.id_on_platform}) "
                f"members {members}, roster synced {synced}"
            )


@click.group()
def sync() -> None:
    """Read from the LMS now."""


@sync.command("roster")
@click.option("--course", "course_id", type=int, help="Course id (lti-tool course list).")
@click.option(
    "--all-stale",
    is_flag=True,
    help="Every course whose roster is older than roster_max_age_seconds (for cron).",
)
def sync_roster_command(course_id: int | None, all_stale: bool) -> None:
    """Read courses' members through NRPS and update the tool's roster."""
    from sqlalchemy import select

    from lti_tool.clients.errors import PlatformError
    from lti_tool.jobs.roster import sync_course_roster
    from lti_tool.models.course import Context
    from lti_tool.models.types import utcnow
    from lti_tool.services.roster import RosterUnavailable

    if (course_id is None) == (not all_stale):
        raise click.UsageError("give either --course ID or --all-stale")
    failed = 0
    with command_runtime() as rt:
        with rt.session_factory() as session:
            if course_id is not None:
                if session.get(Context, course_id) is None:
                    raise click.ClickException(
                        f"no course {course_id} (see `lti-tool course list`)"
                    )
                ids = [course_id]
            else:
                max_age = rt.settings.roster_max_age_seconds
                ids = list(
                    session.scalars(
                        select(Context.id).where(
                            Context.memberships_url.is_not(None),
                            Context.roster_stale(max_age, utcnow()),
                        )
                    )
                )
        for cid in ids:
            try:
                result = sync_course_roster(rt, cid)
            except (RosterUnavailable, PlatformError) as exc:
                failed += 1
                click.echo(f"Roster of course {cid} not synced: {exc}", err=True)
                continue
            if result is not None:
                click.echo(f"Roster of course {cid} synced: {result.summary()}.")
    if all_stale and not ids:
        click.echo("Every roster is fresh.")
    if failed:
        raise click.ClickException(f"{failed} of {len(ids)} rosters could not be synced")


@sync.command("grades")
@click.option(
    "--course", "course_id", type=int, required=True, help="Course id (lti-tool course list)."
)
@click.option(
    "--no-post", is_flag=True, help="Compute, queue the scores, but do not post them now."
)
def sync_grades_command(course_id: int, no_post: bool) -> None:
    """Read the course's results through AGS, recompute mastery, and post changed scores."""
    from lti_tool.clients.errors import PlatformError
    from lti_tool.jobs.grades import sync_course_grades
    from lti_tool.jobs.passback import drain
    from lti_tool.services.grade_problems import course_problems

    with command_runtime() as rt:
        try:
            pull, recomputed = sync_course_grades(rt, course_id, post=False)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        except (PlatformError, ValueError) as exc:
            raise click.ClickException(
                f"the grades of course {course_id} could not be read from the LMS: {exc}"
            ) from None
        click.echo(
            f"Course {course_id}: {pull.results} results read ({pull.added} new, {pull.changed} "
            f"changed, {pull.withdrawn} withdrawn); {recomputed.mastery_changed} mastery and "
            f"{recomputed.unlocks_changed} unlock changes; "
            f"{recomputed.scores_queued} scores queued."
        )
        if pull.problems:
            click.echo(f"{pull.problems} results not used as they are (fix them in the LMS):")
            with rt.session_factory() as session:
                for p in course_problems(session, course_id):
                    click.echo(f"  {p.column}, {p.student}: {p.value}: {p.reason}")
        if not no_post and recomputed.scores_queued:
            done = drain(rt, course_id)
            click.echo(
                f"Posted {done.posted}, failed {done.failed}, waiting to retry {done.later}."
            )


@click.command()
@click.option(
    "--course", "course_id", type=int, required=True, help="Course id (lti-tool course list)."
)
def recompute(course_id: int) -> None:
    """Recompute a whole course's mastery and unlocks from its stored evidence."""
    from lti_tool.models.course import Context
    from lti_tool.services.recompute import recompute_course

    with command_runtime() as rt, command_session(rt) as session:
        if session.get(Context, course_id) is None:
            raise click.ClickException(f"no course {course_id} (see `lti-tool course list`)")
        result = recompute_course(session, course_id, {"kind": "recompute", "by": "lti-tool"})
    click.echo(
        f"Course {course_id}: {result.mastery_changed} mastery and {result.unlocks_changed} unlock "
        f"changes; {result.scores_queued} scores queued (post them with `lti-tool passback drain`)."
    )


@click.group()
def passback() -> None:
    """Competency scores waiting for the LMS gradebook."""


@passback.command("drain")
@click.option("--course", "course_id", type=int, default=None)
def passback_drain(course_id: int | None) -> None:
    """Post every due score now."""
    from lti_tool.jobs.passback import drain

    with command_runtime() as rt:
        done = drain(rt, course_id)
    click.echo(f"Posted {done.posted}, failed {done.failed}, waiting to retry {done.later}.")


@passback.command("retry")
@click.option("--course", "course_id", type=int, required=True)
def passback_retry(course_id: int) -> None:
    """Queue again the scores the LMS refused (after the cause was fixed), and post them."""
    from lti_tool.grading.outbox import retry_failed
    from lti_tool.jobs.passback import drain

    with command_runtime() as rt:
        with command_session(rt) as session:
            count = retry_failed(session, course_id)
        done = drain(rt, course_id)
    click.echo(f"{count} scores queued again; posted {done.posted}, failed {done.failed}.")
