"""Next term over real HTTP against the sandbox: a course with setup and grades is copied in
the LMS; its students see "not set up yet"; its teacher's first launch offers "Copy setup from
<course>" (learners are refused it); one click copies the setup and never student data; the
copied competency and unlock columns are adopted, never made twice, and no line item URL of
the old course is used again; a copied placed link opens its module."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from sqlalchemy import func, select

from lti_tool.jobs.grades import sync_course_grades
from lti_tool.jobs.passback import drain
from lti_tool.models.course import Context, Membership
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import (
    Alignment,
    Competency,
    CourseLineItem,
    Evidence,
    MasteryState,
    Override,
)
from lti_tool.models.modules import Module
from lti_tool.sandbox.gradebook import set_grade
from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxLineItem,
    SandboxLink,
    SandboxResult,
)
from lti_tool.services.setup_modules import ModuleValues, save_module
from tests.integration.test_loop import setup_course, type_grade
from tests.lms import Browser, forms, launch_as, people

pytestmark = pytest.mark.postgres


def last_term(live_server, slug: str) -> dict[str, int]:
    """Last term's course: a competency aligned to Quiz 1, a gated module placed in the LMS as
    a graded link, a grade typed, scores posted to the competency and unlock columns."""
    rt = live_server.rt
    context_id, comp_id, course_id = setup_course(live_server, slug)
    with rt.session_factory() as s:
        module = s.scalar(select(Module).where(Module.context_id == context_id))
        save_module(
            s,
            module,
            by=0,
            v=ModuleValues(
                title=module.title,
                description="Add unlike denominators.",
                content="## Adding fractions\nFind a common denominator first.",
                sticky=False,
                gates_lms=True,
            ),
        )
        s.add(Alignment(context_id=context_id, competency_id=comp_id, module_id=module.id))
        # The placement's result in the LMS: a link naming the module, and its column.
        link = SandboxLink(
            course_id=course_id,
            tool_id=s.scalar(select(SandboxLink.tool_id).where(SandboxLink.course_id == course_id)),
            lti_id=f"placed-{module.id}",
            title="Adding fractions",
            url=f"{live_server.tool_url}/lti/launch",
            custom={"module_id": str(module.id)},
        )
        s.add(link)
        s.flush()
        s.add(
            SandboxLineItem(
                course_id=course_id,
                tool_id=link.tool_id,
                label="Adding fractions",
                score_maximum=10,
                resource_id=f"module:{module.id}",
                tag="module",
                link_id=link.id,
            )
        )
        module_id = module.id
        s.commit()
    type_grade(live_server, slug, "Ava Adams", 8)
    sync_course_grades(rt, context_id, post=False)
    assert drain(rt, context_id).posted >= 2  # her competency score and her unlock
    return {"context": context_id, "course": course_id, "module": module_id, "comp": comp_id}


def copy_in_lms(live_server, slug: str, course_id: int) -> int:
    """The LMS's "Copy this course" button on the course page."""
    page = Browser().post(
        f"{live_server.platform_url}/sandbox/{slug}/courses/{course_id}/copy",
        {"title": "Grade 5 Fractions 2027"},
    )
    assert page.status_code == 200 and "Grade 5 Fractions 2027" in page.text
    return int(re.search(r"/courses/(\d+)", page.url).group(1))  # type: ignore[union-attr]


def main_link(live_server, course_id: int) -> int:
    with live_server.rt.session_factory() as s:
        return s.scalar(
            select(SandboxLink.id).where(
                SandboxLink.course_id == course_id, SandboxLink.title == "Mastery path"
            )
        )


def launch_id_of(url: str) -> str:
    return re.search(r"/c/([^/]+)/", url).group(1)  # type: ignore[union-attr]


def old_course_posts(live_server, course_id: int) -> int:
    with live_server.rt.session_factory() as s:
        return s.scalar(
            select(func.coalesce(func.sum(SandboxResult.posts), 0))
            .join(SandboxLineItem, SandboxLineItem.id == SandboxResult.line_item_id)
            .where(SandboxLineItem.course_id == course_id)
        )


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_copied_course_is_ready_in_one_click_and_adopts_its_columns(live_server, slug: str) -> None:
    rt = live_server.rt
    old = last_term(live_server, slug)
    with rt.session_factory() as s:
        old_urls = set(s.scalars(select(CourseLineItem.url)))
        old_urls |= {
            u for u in s.scalars(select(Competency.passback_lineitem_url)) if u is not None
        }
        old_urls |= {u for u in s.scalars(select(Module.unlock_lineitem_url)) if u is not None}
        everyone = people(s, slug)
    assert len(old_urls) >= 3
    posts_before = old_course_posts(live_server, old["course"])

    new_course = copy_in_lms(live_server, slug, old["course"])
    with rt.session_factory() as s:
        copied = s.get(SandboxCourse, new_course)
        source = s.get(SandboxCourse, old["course"])
        assert copied.history == [source.lti_context_id]
        assert copied.lti_context_id != source.lti_context_id
        placed = s.scalar(
            select(SandboxLink).where(
                SandboxLink.course_id == new_course, SandboxLink.title == "Adding fractions"
            )
        )
        assert placed.custom == {"module_id": str(old["module"])}
        assert placed.lti_id != f"placed-{old['module']}"
        own = s.scalars(
            select(SandboxLineItem.resource_id).where(
                SandboxLineItem.course_id == new_course, SandboxLineItem.tool_id.is_not(None)
            )
        ).all()
        wanted = [f"competency:{old['comp']}", f"unlock:{old['module']}", f"module:{old['module']}"]
        assert all(own.count(rid) == 1 for rid in wanted), own
        assert (
            s.scalar(
                select(func.count())
                .select_from(SandboxResult)
                .join(SandboxLineItem, SandboxLineItem.id == SandboxResult.line_item_id)
                .where(SandboxLineItem.course_id == new_course)
            )
            == 0
        ), "the LMS copied grades"
    link = main_link(live_server, new_course)

    # A student before the teacher: an honest page, and no way to copy.
    student = Browser()
    ava = next(p for p in everyone["student"] if p.name == "Ava Adams")
    landing = launch_as(student, live_server.platform_url, slug, new_course, link, ava.user_id)
    assert landing.status_code == 200 and "/path" in landing.url
    assert "This course is not set up yet" in landing.text
    student_launch = launch_id_of(landing.url)
    token = next(
        f["fields"]["csrf_token"]
        for f in forms(student.get(landing.url.replace("/path", "/profile")).text)
        if "csrf_token" in f["fields"]
    )
    with rt.session_factory() as s:
        new_ctx = s.scalar(select(Context).where(Context.id != old["context"]))
        assert new_ctx.history == []  # only a teacher's launch keeps where the course came from
    for path in ("copy", "copy/empty"):
        refused = student.post(
            f"{live_server.tool_url}/c/{student_launch}/{path}",
            {"csrf_token": token, "source": str(old["context"])},
        )
        assert refused.status_code == 403
    assert student.get(f"{live_server.tool_url}/c/{student_launch}/copy").status_code == 403
    with rt.session_factory() as s:
        assert s.scalar(select(func.count(Module.id)).where(Module.context_id == new_ctx.id)) == 0

    # The teacher's first launch: the offer, one click.
    teacher = Browser()
    landing = launch_as(
        teacher, live_server.platform_url, slug, new_course, link, everyone["teacher"][0].user_id
    )
    assert landing.status_code == 200 and landing.url.endswith("/copy")
    assert "Copy setup from Grade 5 Fractions" in landing.text
    copy_form = next(f for f in forms(landing.text) if "source" in f["fields"])
    assert copy_form["fields"]["source"] == str(old["context"])
    without_token = dict(copy_form["fields"])
    without_token.pop("csrf_token")
    assert teacher.post(urljoin(landing.url, copy_form["action"]), without_token).status_code == 400
    done = teacher.post(urljoin(landing.url, copy_form["action"]), copy_form["fields"])
    assert done.status_code == 200 and done.url.split("?")[0].endswith("/home")
    assert "Setup copied from Grade 5 Fractions" in done.text
    rt.jobs.wait()
    # the same form again (a second tab, a double click): refused, nothing copied twice
    twice = teacher.post(urljoin(landing.url, copy_form["action"]), copy_form["fields"])
    assert twice.status_code == 409 and "has a setup already" in twice.text

    with rt.session_factory() as s:
        ctx = s.get(Context, new_ctx.id)
        assert ctx.copied_from_id == old["context"] and ctx.setup_choice == "copied"
        comp = s.scalar(select(Competency).where(Competency.context_id == ctx.id))
        module = s.scalar(select(Module).where(Module.context_id == ctx.id))
        assert comp.copied_from_ids == [old["comp"]] and module.copied_from_ids == [old["module"]]
        assert module.content.startswith("## Adding fractions") and module.gates_lms
        old_rule = s.get(Module, old["module"]).unlock_rule
        assert module.unlock_rule == old_rule and old_rule["rule"]["competency"] == "FRAC-1"
        quiz = s.scalar(
            select(CourseLineItem).where(
                CourseLineItem.context_id == ctx.id, CourseLineItem.label == "Quiz 1"
            )
        )
        aligned = s.scalars(
            select(Alignment.line_item_id).where(
                Alignment.context_id == ctx.id, Alignment.line_item_id.is_not(None)
            )
        ).all()
        assert quiz.id in aligned and quiz.url not in old_urls
        # no student data came along
        for model in (Evidence, Override):
            assert s.scalar(select(func.count()).where(model.context_id == ctx.id)) == 0
        # computed afresh, not copied: every student's module locked (0), no competency score
        queued = s.execute(
            select(ScoreOutbox.competency_id, ScoreOutbox.score_given).where(
                ScoreOutbox.context_id == ctx.id
            )
        ).all()
        assert queued and {q for q in queued} == {(None, 0.0)}
        assert not s.scalars(
            select(MasteryState.score).where(
                MasteryState.context_id == ctx.id, MasteryState.score.is_not(None)
            )
        ).all()

    # Students see their path now; a copied placed link opens its module.
    path = student.get(f"{live_server.tool_url}/c/{student_launch}/path")
    assert "Adding fractions" in path.text and "not set up yet" not in path.text
    with rt.session_factory() as s:
        placed_id = s.scalar(
            select(SandboxLink.id).where(
                SandboxLink.course_id == new_course, SandboxLink.title == "Adding fractions"
            )
        )
    opened = launch_as(student, live_server.platform_url, slug, new_course, placed_id, ava.user_id)
    assert opened.url.endswith(f"/modules/{module.id}"), opened.url
    assert "Adding fractions" in opened.text

    # Next term's grades: posted to the copied columns, each once, old URLs never used.
    with rt.session_factory() as s:
        new_quiz = s.scalar(
            select(SandboxLineItem).where(
                SandboxLineItem.course_id == new_course, SandboxLineItem.label == "Quiz 1"
            )
        )
        set_grade(s, new_quiz.id, ava.user_id, 9)
        s.commit()
    sync_course_grades(rt, ctx.id, post=False)
    assert drain(rt, ctx.id).posted >= 2
    sync_course_grades(rt, ctx.id, post=False)
    drain(rt, ctx.id)
    with rt.session_factory() as s:
        columns = s.scalars(
            select(SandboxLineItem).where(
                SandboxLineItem.course_id == new_course,
                SandboxLineItem.tag.in_(["competency", "unlock"]),
            )
        ).all()
        assert sorted(c.label for c in columns) == [
            "Competency: Equivalent fractions",
            "Unlocked: Adding fractions",
        ], "a column was made twice"
        comp = s.get(Competency, comp.id)
        module = s.get(Module, module.id)
        for url in (comp.passback_lineitem_url, module.unlock_lineitem_url):
            assert url is not None and url not in old_urls
        ava_cells = {
            c.tag: s.scalar(
                select(SandboxResult).where(
                    SandboxResult.line_item_id == c.id, SandboxResult.user_id == ava.user_id
                )
            )
            for c in columns
        }
        assert ava_cells["competency"].score_given == pytest.approx(3.6)
        assert ava_cells["unlock"].score_given == 1
        students = s.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.context_id == ctx.id, Membership.role == "student")
        )
        assert students == len(everyone["student"])
    assert old_course_posts(live_server, old["course"]) == posts_before


def test_without_history_the_teacher_picks_an_earlier_course_or_starts_empty(
    live_server,
) -> None:
    rt = live_server.rt
    slug = "moodle"
    old = last_term(live_server, slug)
    new_course = copy_in_lms(live_server, slug, old["course"])
    with rt.session_factory() as s:
        s.get(SandboxCourse, new_course).history = []  # an Import: no history
        s.commit()
        teacher_id = people(s, slug)["teacher"][0].user_id
    teacher = Browser()
    landing = launch_as(
        teacher,
        live_server.platform_url,
        slug,
        new_course,
        main_link(live_server, new_course),
        teacher_id,
    )
    assert landing.url.endswith("/copy")
    assert "Copy the setup of one of your earlier courses" in landing.text
    assert f'<option value="{old["context"]}">Grade 5 Fractions' in landing.text
    empty = next(f for f in forms(landing.text) if f["action"].endswith("/copy/empty"))
    started = teacher.post(urljoin(landing.url, empty["action"]), empty["fields"])
    assert started.status_code == 200 and "/setup" in started.url
    with rt.session_factory() as s:
        ctx = s.scalar(select(Context).where(Context.id != old["context"]))
        assert ctx.setup_choice == "empty" and ctx.copied_from_id is None
    # asked once: the next launch lands on the course home
    again = launch_as(
        teacher,
        live_server.platform_url,
        slug,
        new_course,
        main_link(live_server, new_course),
        teacher_id,
    )
    assert again.url.endswith("/home")
