"""Hostile and odd input never answers 5xx: every rule of the app's URL map is called with ids
past the integer range and below zero, and every form the pages show is posted with each of its
fields in turn set to a NUL byte, a very long string, a huge or odd number and JSON nested
deeper than the JSON reader allows (as a teacher and as a student, each with a real launch)."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import jwt
import pytest
from sqlalchemy import select
from werkzeug.routing.converters import NumberConverter

from lti_tool.models.course import Context, User
from lti_tool.models.mastery import Competency, CourseLineItem, Goal
from lti_tool.models.modules import Module
from tests.integration.test_learner_pages import _launch
from tests.integration.test_loop import setup_course
from tests.lms import people

pytestmark = pytest.mark.postgres

HUGE = "99999999999999999999999"
DEEP_JSON = '{"a": ' * 50_000 + "1" + "}" * 50_000  # past the JSON reader's recursion
DEEP_ARRAY = "[" * 50_000 + "]" * 50_000
DEEP_RULE = json.dumps(
    {"mode": "sticky", "rule": json.loads('{"not": ' * 200 + '{"group": "g"}' + "}" * 200)}
)
HOSTILE = {
    "nul": "a\x00b",
    "long": "é" * 20_000,
    "huge": HUGE,
    "negative": "-1",
    "odd digit": "²",
    "deep json": DEEP_JSON,
    "deep rule": DEEP_RULE,
}
PATH_IDS = {"huge": HUGE, "negative": "-1"}


class _Forms(HTMLParser):
    """Every form with its fields as a browser would send them (first option, checked boxes)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action") or "",
                    "preview": a.get("data-preview-url") or "",
                    "method": (a.get("method") or "get").lower(),
                    "fields": {},
                    "files": [],
                }
            )
            return
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind == "file":
                self.forms[-1]["files"].append(name)
            elif kind in ("checkbox", "radio"):
                if name == "confirm":
                    return  # never confirm a deletion: the sweep keeps its rows
                if "checked" in a or name not in fields:
                    fields[name] = a.get("value") or "on"
            else:
                fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and self._select not in fields:
            fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""
        elif tag == "button" and name and name not in fields:
            fields[name] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def _forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _fill(rule: Any, values: dict[str, Any]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(values.get(name, 1)), path)
    return path


class Sweep:
    def __init__(self, live_server, browser, base: str) -> None:
        self.live_server = live_server
        self.browser = browser
        self.origin = base.split("/c/")[0]
        self.launch = base.rsplit("/c/", 1)[1]
        self.failures: list[str] = []
        self.calls = 0
        self.seen_forms: set[tuple[str, tuple[str, ...]]] = set()
        self.posted: set[str] = set()
        self.query_names: set[str] = {"series", "method", "competency", "stuck_days", "filter"}

    def call(self, label: str, method: str, url: str, **kw: Any) -> Any:
        self.calls += 1
        resp = self.browser.request(method, url, **kw)
        if resp.status_code >= 500:
            self.failures.append(f"{method} {urlsplit(url).path} [{label}]: {resp.status_code}")
        return resp

    def pages(self, rules: list[Any], ids: dict[str, Any]) -> list[tuple[str, str]]:
        """GET every page with real ids, remembering its forms."""
        found = []
        for rule in rules:
            if "GET" not in rule.methods or rule.endpoint == "static":
                continue
            url = self.origin + _fill(rule, {"launch_id": self.launch, **ids})
            resp = self.call("real ids", "GET", url)
            if "text/html" in resp.headers.get("Content-Type", ""):
                for form in _forms(resp.text):
                    if form["method"] == "get":
                        self.query_names.update(form["fields"])
                        continue
                    action = urljoin(url, form["action"] or url)
                    key = (urlsplit(action).path, tuple(sorted(form["fields"])))
                    if key not in self.seen_forms:
                        self.seen_forms.add(key)
                        found.append((action, form))
                        if form["preview"]:  # the page's script posts the same fields here
                            found.append((urljoin(url, form["preview"]), form))
        return found

    def odd_paths(self, rules: list[Any], ids: dict[str, Any], token: str) -> None:
        """Ids past the integer range and below zero in every path, GET and POST."""
        for rule in rules:
            if rule.endpoint == "static":
                continue
            int_args = [
                a for a in rule.arguments if isinstance(rule._converters[a], NumberConverter)
            ]
            variants = {f"{a}={label}": {a: v} for a in int_args for label, v in PATH_IDS.items()}
            if "launch_id" in rule.arguments:
                variants["launch_id=nul"] = {"launch_id": "a%00b"}
                variants["launch_id=long"] = {"launch_id": "x" * 3000}
            for label, change in variants.items():
                url = self.origin + _fill(rule, {"launch_id": self.launch, **ids, **change})
                for method in sorted(rule.methods & {"GET", "POST"}):
                    data = {"csrf_token": token} if method == "POST" else None
                    self.call(label, method, url, data=data)

    def odd_queries(self, rules: list[Any], ids: dict[str, Any]) -> None:
        for rule in rules:
            if "GET" not in rule.methods or rule.endpoint == "static":
                continue
            url = self.origin + _fill(rule, {"launch_id": self.launch, **ids})
            for label, value in HOSTILE.items():
                if label.startswith("deep"):
                    value = value[:4000]  # a URL has a length limit of its own
                if label == "long":
                    value = value[:2000]
                params = dict.fromkeys(self.query_names, value)
                self.call(f"query {label}", "GET", url, params=params)

    def forms(self, found: list[tuple[str, dict[str, Any]]]) -> None:
        """Each field of each form, in turn, set to each hostile value."""
        for action, form in found:
            self.posted.add(action)
            base = dict(form["fields"])
            self.call("as shown", "POST", action, data=base)
            for name in base:
                if name == "csrf_token":
                    continue
                for label, value in HOSTILE.items():
                    self.call(f"{name}={label}", "POST", action, data={**base, name: value})
            for name in form["files"]:
                for label, content in {
                    "nul csv": b"code,title,parent\nA-1,Frac\x00tions,\n",
                    "nul case": b'{"CFDocument": {"title": "a\\u0000b"}, "CFItems": []}',
                    "deep case": DEEP_JSON.encode(),
                    "deep array": DEEP_ARRAY.encode(),
                    "unterminated": b'code,title,parent\nA-1,"Fractions,\nA-2,Decimals,A-1\n',
                    "binary": bytes(range(256)) * 10,
                }.items():
                    self.call(
                        f"{name}={label}",
                        "POST",
                        action,
                        data=base,
                        files={name: ("upload.csv", content, "text/csv")},
                    )


def _ids(live_server) -> dict[str, Any]:
    rt = live_server.rt
    with rt.session_factory() as s:
        ctx = s.scalar(select(Context))
        comp = s.scalar(select(Competency))
        child = Competency(
            context_id=ctx.id,
            code="FRAC-1a",
            title="Halves",
            parent_id=comp.id,
            method={"method": "latest"},
        )
        second = Module(context_id=ctx.id, title="Second module", position=5)
        s.add_all([child, second])
        s.flush()
        student = s.scalar(select(User).where(User.name == "Ava Adams"))
        goal = Goal(context_id=ctx.id, user_id=student.id, competency_id=comp.id, level="Mastery")
        s.add(goal)
        s.commit()
        return {
            "comp_id": comp.id,
            "module_id": s.scalar(select(Module.id).where(Module.title == "Adding fractions")),
            "user_id": student.id,
            "goal_id": goal.id,
            "item_id": s.scalar(select(CourseLineItem.id)),
            "registration_uuid": "a%00b",
        }


def test_no_route_answers_5xx_to_hostile_input(live_server) -> None:
    slug = "moodle"
    setup_course(live_server, slug)
    ids = _ids(live_server)
    rules = list(live_server.app.url_map.iter_rules())
    with live_server.rt.session_factory() as s:
        teacher_name = people(s, slug)["teacher"][0].name
        mentor_name = people(s, slug)["mentor"][0].name
    sweeps = []
    for name in ("Ava Adams", mentor_name, teacher_name):
        browser, base = _launch(live_server, slug, name)
        sweep = Sweep(live_server, browser, base)
        found = sweep.pages(rules, ids)
        token = next(
            (f["fields"]["csrf_token"] for _a, f in found if "csrf_token" in f["fields"]), ""
        )  # a mentor has no forms
        sweep.forms(found)
        sweep.odd_queries(rules, ids)
        sweep.odd_paths(rules, ids, token)
        sweeps.append(sweep)
    # the sweep reached the forms it should (the teacher's setup, the student's goals)
    actions = {urlsplit(a).path.split("/", 3)[-1] for s in sweeps for a in s.posted}
    for expected in (
        "setup/competencies/import",
        "setup/alignments",
        "rule/preview.json",
        "goals",
        "class/ratings",
    ):
        assert any(a.endswith(expected) for a in actions), sorted(actions)
    failures = [f for s in sweeps for f in s.failures]
    assert not failures, f"{len(failures)} of {sum(s.calls for s in sweeps)}:\n" + "\n".join(
        failures[:80]
    )


def test_odd_input_gets_a_page_with_words(live_server) -> None:
    """The two answers the sweep relies on say what happened, in words."""
    slug = "moodle"
    setup_course(live_server, slug)
    with live_server.rt.session_factory() as s:
        teacher_name = people(s, slug)["teacher"][0].name
    browser, base = _launch(live_server, slug, teacher_name)
    page = browser.get(f"{base}/setup/competencies")
    token = next(
        f["fields"]["csrf_token"] for f in _forms(page.text) if "csrf_token" in f["fields"]
    )
    huge = browser.get(f"{base}/setup/competencies/{HUGE}")
    assert huge.status_code == 404 and "Page not found" in huge.text
    nul = browser.post(
        f"{base}/setup/competencies", {"csrf_token": token, "code": "A-1", "title": "Frac\x00tions"}
    )
    assert nul.status_code == 400 and "NUL character" in nul.text
    with live_server.rt.session_factory() as s:
        assert s.scalar(select(Competency).where(Competency.code == "A-1")) is None
    upload = browser.post(
        f"{base}/setup/competencies/import",
        {"csrf_token": token},
        files={"file": ("c.csv", b"code,title,parent\nA-1,Frac\x00tions,\n", "text/csv")},
    )
    assert upload.status_code == 422 and "Line 2: contains a NUL character" in upload.text


def test_a_launch_with_a_hostile_id_token_is_refused_not_a_500(live_server) -> None:
    """After a real login (so the state matches), id_tokens no platform sends: JSON nested past
    the reader in the header, in an unsigned body and in a really signed custom claim; a NUL."""
    from tests.integration.test_launch_refusals import Forger, b64

    deep = json.loads("[" * 500 + "]" * 500)  # json.dumps of 50,000 levels would itself fail
    forger = Forger(live_server)
    body_of = {
        "deep header": lambda _n: base64_text(DEEP_JSON) + "." + b64({"sub": "x"}) + ".c2ln",
        "deep body": lambda _n: b64({"alg": "RS256"}) + "." + base64_text(DEEP_JSON) + ".c2ln",
        "deep signed claim": lambda n: forger.sign(
            {**forger.claims(n), "https://purl.imsglobal.org/spec/lti/claim/custom": {"d": deep}}
        ),
        "deeper signed claim": lambda n: signed_deep(forger, n),
        "nul": lambda _n: "a\x00b",
    }
    wrong = []
    for label, make in body_of.items():
        state, nonce = forger.login()
        resp = forger.post(make(nonce), state)
        if resp.status_code >= 500:
            wrong.append(f"{label}: {resp.status_code}")
        elif label in ("deep header", "deep body", "deeper signed claim"):
            assert resp.status_code == 400, (label, resp.status_code)
            assert "The launch is damaged" in resp.text, (label, resp.text[:500])
    assert not wrong, wrong


def base64_text(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def signed_deep(forger, nonce: str) -> str:
    """A really signed token whose custom claim nests past the JSON reader."""
    from lti_tool.sandbox.platform import _loaded

    claims = json.dumps(forger.claims(nonce))
    payload = claims[:-1] + ', "https://example.com/deep": ' + DEEP_JSON + "}"
    header = {"alg": "RS256", "typ": "JWT", "kid": forger.key.kid}
    signing_input = base64_text(json.dumps(header)) + "." + base64_text(payload)
    key = _loaded(forger.key.private_pem)
    algorithm = jwt.get_algorithm_by_name("RS256")
    signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(key))
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
