"""The copy service on its own: every kind of setup row arrives in the new course pointing at
the new course's rows (rules, choices, parents, alignments to the new course's columns), the
copied rules build a course model, a column the new course lacks is reported rather than
guessed, and a course with a setup, or of another LMS, is never copied into."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from lti_tool.models.course import Context, User
from lti_tool.models.mastery import Alignment, Competency, CourseLineItem, Scale
from lti_tool.models.modules import Module
from lti_tool.models.platform import Deployment, Registration
from lti_tool.models.types import url_hash
from lti_tool.services import course_copy
from lti_tool.services.course_model import build_model
from lti_tool.services.placements import never_placed, record_placed

pytestmark = pytest.mark.postgres

LEVELS = [
    {"name": "Secure", "points": 3, "color": "#2e7d32", "mastery": True},
    {"name": "Developing", "points": 2, "color": "#f9a825", "mastery": False},
    {"name": "Beginning", "points": 1, "color": "#c62828", "mastery": False},
]


def column(s, ctx: Context, label: str, rid: str = "") -> CourseLineItem:
    url = f"https://lms.example/{ctx.id_on_platform}/lineitems/{label.replace(' ', '-')}"
    item = CourseLineItem(
        context_id=ctx.id, url=url, url_hash=url_hash(url), label=label, resource_id=rid
    )
    s.add(item)
    s.flush()
    return item


def two_courses(s) -> tuple[Context, Context]:
    reg = s.scalar(select(Registration).order_by(Registration.id))
    dep = s.scalar(select(Deployment).where(Deployment.registration_id == reg.id))
    old = Context(registration_id=reg.id, deployment_id=dep.id, id_on_platform="T1", title="T1")
    new = Context(registration_id=reg.id, deployment_id=dep.id, id_on_platform="T2", title="T2")
    s.add_all([old, new])
    s.flush()
    return old, new


def last_terms_setup(s, old: Context) -> dict[str, object]:
    scale = Scale(context_id=old.id, name="Three levels", levels=LEVELS)
    s.add(scale)
    s.flush()
    parent = Competency(context_id=old.id, code="NUM", title="Number", scale_id=scale.id)
    s.add(parent)
    s.flush()
    child = Competency(
        context_id=old.id,
        code="FRAC",
        title="Fractions",
        parent_id=parent.id,
        scale_id=scale.id,
        method={"method": "latest"},
        passback_lineitem_url="https://lms.example/T1/lineitems/competency",
        passback_label="Competency: Fractions",
    )
    s.add(child)
    quiz = column(s, old, "Quiz 1", "quiz-1")
    essay = column(s, old, "Essay")
    lab = column(s, old, "Lab report")
    s.flush()
    first = Module(context_id=old.id, title="Start", position=1, content="# Hello")
    s.add(first)
    s.flush()
    second = Module(
        context_id=old.id,
        title="Next",
        position=2,
        gates_lms=True,
        unlock_lineitem_url="https://lms.example/T1/lineitems/unlock",
        lms_target_title="Quiz 3",
        lms_target_url="https://lms.example/T1/quiz/3",
        unlock_rule={
            "rule": {
                "all": [
                    {"module_completed": str(first.id)},
                    {"line_item": str(quiz.id), "percent": 80},
                    {"competency": "FRAC", "level": "Secure"},
                ]
            }
        },
    )
    third = Module(
        context_id=old.id,
        title="Lab",
        position=3,
        unlock_rule={"rule": {"line_item": str(lab.id), "points": 5}},
    )
    s.add_all([second, third])
    s.flush()
    either = Module(context_id=old.id, title="Either", position=4, choice_of=[first.id, second.id])
    s.add(either)
    teacher = User(registration_id=old.registration_id, sub=f"teacher-{old.id}")
    s.add(teacher)
    s.flush()
    record_placed(s, old.id, teacher.id, [first, second])  # the LMS holds links to these two
    s.add_all(
        [
            Alignment(context_id=old.id, competency_id=child.id, module_id=first.id),
            Alignment(context_id=old.id, competency_id=child.id, line_item_id=quiz.id),
            Alignment(context_id=old.id, competency_id=child.id, line_item_id=essay.id),
            Alignment(context_id=old.id, competency_id=child.id, line_item_id=lab.id),
        ]
    )
    s.flush()
    return {"child": child, "first": first, "second": second}


def test_every_setup_row_is_copied_onto_the_new_courses_rows(live_server) -> None:
    with live_server.rt.session_factory() as s:
        old, new = two_courses(s)
        rows = last_terms_setup(s, old)
        # The LMS copied Quiz 1 (same resourceId) and the essay (label only), not the lab.
        new_quiz = column(s, new, "Quiz 1", "quiz-1")
        new_essay = column(s, new, "Essay")
        column(s, new, "Quiz 1 retake", "quiz-1-retake")
        result = course_copy.copy_setup(s, old, new)
        s.commit()

        assert (result.competencies, result.modules) == (2, 4)
        assert result.missing_columns == ["Lab report"] and result.rules_not_copied == ["Lab"]
        scale = s.scalar(select(Scale).where(Scale.context_id == new.id))
        comps = {
            c.code: c for c in s.scalars(select(Competency).where(Competency.context_id == new.id))
        }
        mods = {m.title: m for m in s.scalars(select(Module).where(Module.context_id == new.id))}
        assert comps["FRAC"].parent_id == comps["NUM"].id and comps["FRAC"].scale_id == scale.id
        assert comps["FRAC"].method == {"method": "latest"}
        # its column is adopted by the old resourceId, its URL never copied
        assert comps["FRAC"].passback_lineitem_url is None
        assert comps["FRAC"].column_resource_id == f"competency:{rows['child'].id}"
        assert comps["NUM"].column_resource_id is None  # never had a column: its own id
        assert mods["Next"].column_resource_id == f"unlock:{rows['second'].id}"
        assert mods["Next"].unlock_lineitem_url is None and mods["Next"].lms_target_url == ""
        assert mods["Next"].lms_target_title == "Quiz 3" and mods["Start"].content == "# Hello"
        assert mods["Next"].unlock_rule == {
            "rule": {
                "all": [
                    {"module_completed": str(mods["Start"].id)},
                    {"line_item": str(new_quiz.id), "percent": 80},
                    {"competency": "FRAC", "level": "Secure"},
                ]
            }
        }
        assert mods["Lab"].unlock_rule is None
        assert mods["Either"].choice_of == [mods["Start"].id, mods["Next"].id]
        assert mods["Start"].copied_from_ids == [rows["first"].id]
        aligned = set(
            s.execute(
                select(Alignment.module_id, Alignment.line_item_id).where(
                    Alignment.context_id == new.id
                )
            ).all()
        )
        assert aligned == {(mods["Start"].id, None), (None, new_quiz.id), (None, new_essay.id)}
        assert new.copied_from_id == old.id and new.setup_choice == "copied"
        # their links came along: the picker does not offer them ticked a second time
        assert never_placed(s, list(mods.values())) == {mods["Lab"].id, mods["Either"].id}
        # the copied rules are ones the engine takes in the new course
        model = build_model(s, new.id)
        assert set(model.modules) == {str(m.id) for m in mods.values()}


def test_a_copy_of_a_copy_still_maps_the_first_courses_links(live_server) -> None:
    with live_server.rt.session_factory() as s:
        old, middle = two_courses(s)
        rows = last_terms_setup(s, old)
        course_copy.copy_setup(s, old, middle)
        reg, dep = middle.registration_id, middle.deployment_id
        third = Context(registration_id=reg, deployment_id=dep, id_on_platform="T3")
        s.add(third)
        s.flush()
        course_copy.copy_setup(s, middle, third)
        s.commit()
        start = s.scalar(
            select(Module).where(Module.context_id == third.id, Module.title == "Start")
        )
        middle_start = s.scalar(
            select(Module).where(Module.context_id == middle.id, Module.title == "Start")
        )
        assert start.copied_from_ids == [middle_start.id, rows["first"].id]
        for placed_as in (rows["first"].id, middle_start.id, start.id):
            assert course_copy.module_of_copied_link(s, placed_as, third.id) == start.id
        # ...but never backwards: the old course has no module the new one's id names
        assert course_copy.module_of_copied_link(s, start.id, old.id) is None


def test_a_course_with_a_setup_or_of_another_lms_is_never_copied_into(live_server) -> None:
    with live_server.rt.session_factory() as s:
        old, new = two_courses(s)
        last_terms_setup(s, old)
        s.add(Module(context_id=new.id, title="Already here"))
        s.flush()
        with pytest.raises(course_copy.CopyRefused):
            course_copy.copy_setup(s, old, new)
        other_reg = Registration(
            issuer="https://other.example",
            client_id="x",
            auth_login_url="https://other.example/auth",
            auth_token_url="https://other.example/token",
            key_set_url="https://other.example/jwks",
        )
        s.add(other_reg)
        s.flush()
        other_dep = Deployment(registration_id=other_reg.id, deployment_id="1", allowed=True)
        s.add(other_dep)
        s.flush()
        elsewhere = Context(
            registration_id=other_reg.id, deployment_id=other_dep.id, id_on_platform="T1"
        )
        s.add(elsewhere)
        s.flush()
        with pytest.raises(course_copy.CopyRefused):
            course_copy.copy_setup(s, old, elsewhere)
        # and the history of a course elsewhere naming T1 offers nothing from this LMS
        elsewhere.history = ["T1"]
        s.flush()
        assert course_copy.offer(s, elsewhere, user_id=0).sources() == []


def test_two_clicks_at_once_copy_once(live_server) -> None:
    """Two teachers press "Copy setup" together: the second waits for the first (the course
    row's lock on PostgreSQL, the one write lock on SQLite), then is refused."""
    rt = live_server.rt
    with rt.session_factory() as s:
        old, new = two_courses(s)
        last_terms_setup(s, old)
        s.commit()
        old_id, new_id = old.id, new.id
    outcome: list[str] = []

    def second() -> None:
        with rt.session_factory() as s2:
            try:
                course_copy.copy_setup(s2, s2.get(Context, old_id), s2.get(Context, new_id))
                s2.commit()
                outcome.append("copied")
            except course_copy.CopyRefused:
                outcome.append("refused")

    with rt.session_factory() as s1:
        course_copy.copy_setup(s1, s1.get(Context, old_id), s1.get(Context, new_id))
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(1.0)
        assert racer.is_alive(), "the second copy did not wait for the first"
        s1.commit()
    racer.join(10)
    assert outcome == ["refused"]
    with rt.session_factory() as s:
        assert s.scalar(select(func.count(Module.id)).where(Module.context_id == new_id)) == 4
