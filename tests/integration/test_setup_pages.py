"""A teacher sets up a course over real HTTP (launched from the sandbox LMS): competencies by
form and CSV, methods, modules, alignments, rules by builder, JSON and template; learners and
forged posts are refused."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lti_tool import mastery
from lti_tool.models.mastery import Alignment, Competency, UnlockState
from lti_tool.models.modules import Module
from lti_tool.services.course_model import load_model
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres

SAMPLE = Path("/work/shared/data/sample-framework.csv")
FRAMEWORK = (
    "code,title,parent\nFRAC,Fractions,\nFRAC-1,Equivalent fractions,FRAC\n"
    "FRAC-2,Adding fractions,FRAC\n"
)


class Teacher:
    """A teacher's browser inside the tool's frame, with the setup pages' base URL."""

    def __init__(self, live_server: Any, slug: str = "canvas", role: str = "teacher") -> None:
        self.live = live_server
        with live_server.rt.session_factory() as s:
            person = people(s, slug)[role][0]
            course_id, link_id = course_and_link(s, slug)
        self.browser = Browser()
        page = launch_as(
            self.browser, live_server.platform_url, slug, course_id, link_id, person.user_id
        )
        assert page.status_code == 200, page.text[:500]
        self.base = page.url.rsplit("/", 1)[0]
        self.token = token(page.text)

    def get(self, path: str) -> Any:
        page = self.browser.get(self.base + path)
        if 'name="csrf_token"' in page.text:
            self.token = token(page.text)
        return page

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]], **kw: Any) -> Any:
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        return self.browser.request(
            "POST", self.base + path, data=[("csrf_token", self.token), *fields], **kw
        )


def token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def text(page: Any) -> str:
    """The page's words, as a reader gets them (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))


def rows(live_server: Any, model: type[Any]) -> list[Any]:
    with live_server.rt.session_factory() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def add_module(t: Teacher, title: str) -> int:
    page = t.post("/setup/modules", {"title": title, "description": f"About {title}"})
    assert page.status_code == 200 and f'Added the module "{title}"' in text(page)
    return next(m.id for m in rows(t.live, Module) if m.title == title)


def import_csv(t: Teacher, csv: str) -> Any:
    return t.post("/setup/competencies/import", {"csv_text": csv})


def test_overview_guides_the_teacher_and_says_where_to_click(live_server) -> None:
    t = Teacher(live_server, "canvas")
    page = t.get("/setup")
    assert page.status_code == 200
    words = text(page)
    assert "Set up this course" in words
    assert "Modules in the course menu" in words and "External Tool" in words
    assert "+ Assignment" in words and "Find" in words
    assert "Add an activity or resource" in words and "Select content" in words
    assert "Canvas your LMS" in words  # the launching LMS is pointed out
    assert 'href="/static/css/setup.css"' in page.text


def test_competencies_added_by_form_with_mistakes_shown_next_to_fields(live_server) -> None:
    t = Teacher(live_server)
    t.get("/setup/competencies")
    page = t.post("/setup/competencies", {"code": "FRAC-1", "title": "Equivalent fractions"})
    assert page.status_code == 200
    assert 'Added "Equivalent fractions" (FRAC-1)' in text(page)
    assert "FRAC-1 Equivalent fractions" in text(page)

    again = t.post("/setup/competencies", {"code": "FRAC-1", "title": "Twice"})
    assert again.status_code == 422
    assert 'id="code-error"' in again.text and 'aria-describedby="code-error"' in again.text
    assert '"FRAC-1" is already used by "Equivalent fractions"' in text(again)
    child = t.post(
        "/setup/competencies",
        {"code": "FRAC-1a", "title": "Halves", "parent": "FRAC-1", "description": "<b>x</b>"},
    )
    assert child.status_code == 200
    saved = rows(live_server, Competency)
    assert [c.code for c in saved] == ["FRAC-1", "FRAC-1a"]
    assert saved[1].parent_id == saved[0].id and saved[1].description == "<b>x</b>"
    edit = t.get(f"/setup/competencies/{saved[1].id}")
    assert "&lt;b&gt;x&lt;/b&gt;" in edit.text and "<b>x</b>" not in edit.text


def test_csv_import_all_or_nothing_with_line_and_column(live_server) -> None:
    t = Teacher(live_server, "moodle")
    t.get("/setup/competencies")
    csv = SAMPLE.read_text(encoding="utf-8") if SAMPLE.exists() else FRAMEWORK
    expected = len([line for line in csv.splitlines()[1:] if line.strip()])
    page = t.post(
        "/setup/competencies/import",
        {},
        files={"file": ("framework.csv", csv.encode("utf-8"), "text/csv")},
    )
    assert page.status_code == 200, text(page)[:500]
    assert f"Imported {expected} competencies: {expected} added, 0 updated." in text(page)
    before = [(c.code, c.parent_id, c.title) for c in rows(live_server, Competency)]
    assert len(before) == expected

    bad_parent = import_csv(t, "code,title,parent\nNEW-1,New one,\nNEW-2,Another,NOPE\n")
    assert bad_parent.status_code == 422
    assert 'Line 3, column "parent": no competency with code "NOPE"' in text(bad_parent)
    assert "Nothing imported" in text(bad_parent)
    missing = import_csv(t, "Code,Title\nNEW-1,New one\n")
    assert missing.status_code == 422
    assert 'Line 1, column "parent": the column is missing' in text(missing)
    after = [(c.code, c.parent_id, c.title) for c in rows(live_server, Competency)]
    assert after == before  # nothing saved, nothing lost


def test_method_with_a_bad_parameter_is_refused_next_to_the_field(live_server) -> None:
    t = Teacher(live_server)
    import_csv(t, FRAMEWORK)
    comp = next(c for c in rows(live_server, Competency) if c.code == "FRAC-1")
    page = t.get(f"/setup/competencies/{comp.id}")
    assert "Decaying average" in page.text and "Live example" in page.text
    assert "Scores 1, 2, 3, 4 (oldest first) give 3.48: Mastery." in text(page)

    form = {"code": "FRAC-1", "title": "Equivalent fractions", "parent": "FRAC"}
    bad = t.post(
        f"/setup/competencies/{comp.id}",
        {**form, "method": "decaying_average", "decaying_average.w": "0.3", "min_evidence": "1"},
    )
    assert bad.status_code == 422
    assert 'aria-describedby="decaying_average-w-error"' in bad.text
    error = re.search(r'id="decaying_average-w-error">(.*?)</p>', bad.text, re.S)
    assert error and "0.3 is outside 0.5–0.99" in html.unescape(error.group(1))
    assert rows(live_server, Competency)[1].method == {"method": "decaying_average", "w": 0.65}

    good = t.post(
        f"/setup/competencies/{comp.id}",
        {**form, "method": "weighted_average", "weighted_average.w": "0.65", "min_evidence": "1"},
    )
    assert good.status_code == 200 and 'Saved "Equivalent fractions"' in text(good)
    assert "give 3.3: Mastery" in text(good)
    saved = next(c for c in rows(live_server, Competency) if c.id == comp.id)
    assert saved.method == {"method": "weighted_average", "w": 0.65}

    live = t.get("/setup/method-example.json?method=n_times&n_times.n=2&series=3,1,4")
    assert live.json()["text"] == "Scores 3, 1, 4 (oldest first) give 3.5: Mastery."
    refused = t.get("/setup/method-example.json?method=n_times&n_times.n=11")
    assert refused.json()["errors"] == {"n": "must be a whole number from 1 to 10"}


def test_course_default_method_applies_to_every_competency(live_server) -> None:
    t = Teacher(live_server)
    import_csv(t, FRAMEWORK)
    t.get("/setup/methods")
    page = t.post("/setup/methods", {"method": "highest"})
    assert page.status_code == 200
    assert "Every competency (3) now uses Highest score." in text(page)
    assert {str(c.method) for c in rows(live_server, Competency)} == {"{'method': 'highest'}"}
    added = t.post("/setup/competencies", {"code": "X", "title": "Extra"})
    assert added.status_code == 200
    assert rows(live_server, Competency)[-1].method == {"method": "highest"}


def test_modules_created_edited_and_reordered(live_server) -> None:
    t = Teacher(live_server)
    t.get("/setup/modules")
    first, second = add_module(t, "Halves"), add_module(t, "Thirds")
    listing = t.get("/setup/modules")
    assert text(listing).index("Halves") < text(listing).index("Thirds")
    assert "Unlocked from the start" in text(listing)

    moved = t.post(f"/setup/modules/{second}/move", {"direction": "up"})
    assert '"Thirds" is now number 1.' in text(moved)
    assert text(moved).index("Thirds") < text(moved).index("Halves")

    refused = t.post(f"/setup/modules/{first}", {"title": "", "complete_at_percent": "120"})
    assert refused.status_code == 422
    assert "Give the module a title." in text(refused)
    assert "A number from 0 to 100." in text(refused)
    saved = t.post(
        f"/setup/modules/{first}",
        {"title": "Halves!", "description": "Line one\n<script>x</script>", "sticky": "on"},
    )
    assert saved.status_code == 200 and 'Saved "Halves!"' in text(saved)
    assert "&lt;script&gt;x&lt;/script&gt;" in saved.text
    module = next(m for m in rows(live_server, Module) if m.id == first)
    assert module.sticky and module.description.startswith("Line one")


def test_rule_built_with_the_builder_form_reads_as_a_sentence(live_server) -> None:
    t = Teacher(live_server)
    import_csv(t, FRAMEWORK)
    m1, m2 = add_module(t, "Module 1"), add_module(t, "Module 2")
    page = t.get(f"/setup/modules/{m2}/rule")
    assert "Unlocked from the start" in text(page)

    started = t.post(f"/setup/modules/{m2}/rule", {"op": "start", "r.add": "all"})
    assert started.status_code == 200
    assert 'name="r-0.kind"' in started.text  # a group starts with one condition
    builder = {
        "r.was": "all",
        "r.kind": "all",
        "r.n": "2",
        "r-0.was": "competency",
        "r-0.kind": "competency",
        "r-0.competency": "FRAC-1",
        "r-0.target": "level",
        "r-0.level": "Mastery",
        "r-1.was": "module_completed",
        "r-1.kind": "module_completed",
        "r-1.module": str(m1),
    }
    preview = t.post(f"/setup/modules/{m2}/rule", {**builder, "action": "preview"})
    sentence = "Unlocks when you reach Mastery in Equivalent fractions and finish Module 1"
    assert sentence in text(preview)
    assert rows(live_server, Module)[1].unlock_rule is None  # a preview saves nothing

    grown = t.post(f"/setup/modules/{m2}/rule", {**builder, "op": "add:r", "r.add": "group"})
    assert "Condition 3" in text(grown) and 'name="r-2.group"' in grown.text

    live = t.browser.request(
        "POST",
        t.base + f"/setup/modules/{m2}/rule/preview.json",
        data=builder,
        headers={"X-CSRFToken": t.token},
    )
    assert live.status_code == 200 and live.json()["sentence"] == sentence

    saved = t.post(f"/setup/modules/{m2}/rule", {**builder, "action": "save"})
    assert saved.status_code == 200
    assert f'Saved the rule of "Module 2": {sentence}.' in text(saved)
    stored = rows(live_server, Module)[1].unlock_rule
    assert stored == {
        "mode": "reevaluated",
        "rule": {
            "all": [
                {"competency": "FRAC-1", "level": "Mastery"},
                {"module_completed": str(m1)},
            ]
        },
    }
    with live_server.rt.session_factory() as s:
        model = load_model(s, rows(live_server, Module)[1].context_id).model
        assert mastery.render(model.modules[1].unlock, model.catalog) == sentence


def test_rule_naming_a_missing_competency_is_refused_where_the_mistake_is(live_server) -> None:
    t = Teacher(live_server)
    import_csv(t, FRAMEWORK)
    m1, m2 = add_module(t, "Module 1"), add_module(t, "Module 2")
    t.get(f"/setup/modules/{m2}/rule")
    doc = json.dumps(
        {
            "rule": {
                "all": [{"module_completed": str(m1)}, {"competency": "FRAC-3", "level": "Mastery"}]
            }
        }
    )
    refused = t.post(
        f"/setup/modules/{m2}/rule", {"source": "json", "rule_json": doc, "action": "save"}
    )
    assert refused.status_code == 422
    mistake = re.search(r'id="err-r-1"[^>]*>(.*?)</p>', refused.text, re.S)
    assert mistake, "the mistake is shown on the second condition"
    assert 'rule.all[1].competency: no competency with code "FRAC-3"' in html.unescape(
        mistake.group(1)
    )
    assert "FRAC-3 (no such competency)" in text(refused)  # the bad value stays visible
    assert rows(live_server, Module)[1].unlock_rule is None

    circle = t.post(
        f"/setup/modules/{m1}/rule",
        {
            "source": "json",
            "rule_json": json.dumps({"module_completed": str(m2)}),
            "action": "save",
        },
    )
    assert circle.status_code == 200  # M1 needs M2: fine on its own
    loop = t.post(
        f"/setup/modules/{m2}/rule",
        {
            "source": "json",
            "rule_json": json.dumps({"module_completed": str(m1)}),
            "action": "save",
        },
    )
    assert loop.status_code == 422
    assert "modules need each other in a circle" in text(loop)


def test_templates_write_rules_the_engine_reads(live_server) -> None:
    t = Teacher(live_server)
    # A student has opened the tool, so a recompute gives them unlock states to see.
    with live_server.rt.session_factory() as s:
        student = people(s, "canvas")["student"][0]
        course_id, link_id = course_and_link(s, "canvas")
    launch_as(Browser(), live_server.platform_url, "canvas", course_id, link_id, student.user_id)
    import_csv(t, FRAMEWORK)
    ids = [add_module(t, f"Step {i}") for i in (1, 2, 3)]
    frac1 = next(c for c in rows(live_server, Competency) if c.code == "FRAC-1")
    aligned = t.post("/setup/alignments", {f"m-{ids[0]}-{frac1.id}": "on"})
    assert aligned.status_code == 200 and "Saved 1 alignments." in text(aligned)
    assert [(a.module_id, a.competency_id) for a in rows(live_server, Alignment)] == [
        (ids[0], frac1.id)
    ]

    t.get("/setup/templates")
    chained = t.post("/setup/templates/chain", {})
    assert "Each of the 3 modules now unlocks" in text(chained)
    assert "Unlocks when you master Step 1" in text(chained)
    assert "Unlocks when you finish Step 2" in text(chained)  # Step 2 lists no competencies
    rules = {m.id: m.unlock_rule for m in rows(live_server, Module)}
    assert rules[ids[0]]["rule"] is None
    assert rules[ids[1]]["rule"] == {"module_mastered": str(ids[0])}
    assert rules[ids[2]]["rule"] == {"module_completed": str(ids[1])}
    with live_server.rt.session_factory() as s:
        context_id = rows(live_server, Module)[0].context_id
        load_model(s, context_id)  # the engine accepts the course
        states = {
            u.module_id: u.status
            for u in s.scalars(select(UnlockState).where(UnlockState.context_id == context_id))
        }
    assert states == {ids[0]: "unlocked", ids[1]: "locked", ids[2]: "locked"}

    gate = t.post(
        "/setup/templates/competency",
        {"module": str(ids[2]), "competency": str(frac1.id), "keep": "on"},
    )
    assert '"Step 3" now unlocks when a student reaches Mastery in "Equivalent fractions"' in (
        text(gate)
    )
    assert rows(live_server, Module)[2].unlock_rule["rule"] == {
        "all": [{"module_completed": str(ids[1])}, {"competency": "FRAC-1", "level": "Mastery"}]
    }

    choice = t.post(
        "/setup/templates/choice",
        [("title", "Pick a path"), ("options", str(ids[1])), ("options", str(ids[2]))],
    )
    assert choice.status_code == 200
    assert 'Made "Pick a path": finishing any one of "Step 2", "Step 3" completes it.' in text(
        choice
    )
    made = next(m for m in rows(live_server, Module) if m.title == "Pick a path")
    assert made.choice_of == [ids[1], ids[2]]
    with live_server.rt.session_factory() as s:
        snapshot = load_model(s, made.context_id)
        assert snapshot.model.modules[-1].choice_of == (str(ids[1]), str(ids[2]))


def test_delete_refused_while_a_rule_uses_it(live_server) -> None:
    t = Teacher(live_server)
    import_csv(t, FRAMEWORK)
    m1 = add_module(t, "Module 1")
    frac2 = next(c for c in rows(live_server, Competency) if c.code == "FRAC-2")
    t.post(
        f"/setup/modules/{m1}/rule",
        {"source": "json", "rule_json": '{"competency": "FRAC-2", "score": 2}', "action": "save"},
    )
    refused = t.post(f"/setup/competencies/{frac2.id}/delete", {"confirm": "on"})
    assert refused.status_code == 409
    assert '"Adding fractions" cannot be deleted yet.' in text(refused)
    assert 'The unlock rule of "Module 1" uses it (rule.competency: no competency' in text(refused)
    assert any(c.id == frac2.id for c in rows(live_server, Competency))

    renamed = t.post(
        f"/setup/competencies/{frac2.id}",
        {"code": "ADD", "title": "Adding fractions", "parent": "FRAC", "method": "latest"},
    )
    assert "1 unlock rules now use the new code." in text(renamed)
    assert rows(live_server, Module)[0].unlock_rule["rule"] == {"competency": "ADD", "score": 2}

    t.post(f"/setup/modules/{m1}/rule", {"source": "json", "rule_json": "", "action": "save"})
    unconfirmed = t.post(f"/setup/competencies/{frac2.id}/delete", {})
    assert "Tick the box to confirm" in text(unconfirmed)
    deleted = t.post(f"/setup/competencies/{frac2.id}/delete", {"confirm": "on"})
    assert 'Deleted "Adding fractions".' in text(deleted)
    assert all(c.id != frac2.id for c in rows(live_server, Competency))


def test_learner_is_refused_on_every_setup_url(live_server) -> None:
    # The same browser first opened the tool as a teacher, so its posts carry a valid CSRF
    # token: the refusal comes from the learner's role, not from a missing token.
    t = Teacher(live_server, "moodle")
    with live_server.rt.session_factory() as s:
        student = people(s, "moodle")["student"][0]
        course_id, link_id = course_and_link(s, "moodle")
    page = launch_as(
        t.browser, live_server.platform_url, "moodle", course_id, link_id, student.user_id
    )
    assert page.url.endswith("/path")
    learner_base = page.url.rsplit("/", 1)[0]
    urls = [
        (rule.rule, sorted(rule.methods - {"HEAD", "OPTIONS"}))
        for rule in live_server.app.url_map.iter_rules()
        if rule.endpoint.startswith("setup.")
    ]
    assert len(urls) >= 15
    for pattern, methods in urls:
        path = re.sub(r"<int:\w+>", "1", pattern).replace("/c/<launch_id>", "")
        for method in methods:
            refused = t.browser.request(method, learner_base + path, data={"csrf_token": t.token})
            assert refused.status_code == 403, (method, path, refused.status_code)
            assert "not for your role" in refused.text
    assert t.get("/setup").status_code == 200  # the teacher's own launch still works


def test_posts_without_the_csrf_token_are_refused(live_server) -> None:
    t = Teacher(live_server)
    forged = t.browser.request(
        "POST", t.base + "/setup/competencies", data={"code": "X", "title": "Forged"}
    )
    assert forged.status_code == 400
    assert "The form expired" in forged.text
    preview = t.browser.request("POST", t.base + "/setup/modules/1/rule/preview.json", data={})
    assert preview.status_code == 400
    with live_server.rt.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Competency)) == 0
