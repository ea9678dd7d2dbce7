"""The admin's commands: register a platform, list, allow a deployment, rotate keys."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from lti_tool.cli import main
from lti_tool.db import make_engine
from lti_tool.lti.registration_invites import why_refused
from tests.conftest import _wipe

pytestmark = pytest.mark.postgres

MOODLE = [
    "--issuer", "https://school.example/moodle",
    "--client-id", "SaOGbY8zwchKOCg",
    "--auth-login-url", "https://school.example/moodle/mod/lti/auth.php",
    "--auth-token-url", "https://school.example/moodle/mod/lti/token.php",
    "--key-set-url", "https://school.example/moodle/mod/lti/certs.php",
]  # fmt: skip


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch):
    engine = make_engine(database_url)
    _wipe(engine)
    engine.dispose()
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", database_url)
    monkeypatch.setenv("LTI_TOOL_BASE_URL", "https://tool.school.example")
    monkeypatch.setenv("LTI_TOOL_LOG_LEVEL", "WARNING")
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    return run


def test_registration_add_json_list_and_allow(cli) -> None:
    out = json.loads(cli("registration", "add", *MOODLE, "--deployment-id", "1", "--json"))
    uuid = out["uuid"]
    assert out["login_url"] == f"https://tool.school.example/lti/login/{uuid}"
    assert out["jwks_url"] == "https://tool.school.example/.well-known/jwks.json"
    assert out["redirect_uri"] == "https://tool.school.example/lti/launch"

    listed = json.loads(cli("registration", "list", "--json"))
    assert [r["uuid"] for r in listed] == [uuid]
    assert listed[0]["deployments"] == [{"deployment_id": "1", "allowed": True}]

    cli("deployment", "allow", "--registration", uuid, "--deployment-id", "7")
    listed = json.loads(cli("registration", "list", "--json"))
    assert {"deployment_id": "7", "allowed": True} in listed[0]["deployments"]
    assert "(not allowed)" not in cli("registration", "list")


def test_canvas_shares_an_issuer_across_client_ids(cli) -> None:
    canvas = [
        "--issuer", "https://canvas.instructure.com",
        "--auth-login-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "--auth-token-url", "https://school.instructure.com/login/oauth2/token",
        "--key-set-url", "https://sso.canvaslms.com/api/lti/security/jwks",
    ]  # fmt: skip
    first = cli("registration", "add", *canvas, "--client-id", "10000000000001").strip()
    second = cli("registration", "add", *canvas, "--client-id", "10000000000002").strip()
    assert first != second
    again = cli("registration", "add", *canvas, "--client-id", "10000000000001", ok=False)
    assert "already registered" in again


def test_registration_add_points_at_a_bad_url(cli) -> None:
    bad = [
        a if a != "https://school.example/moodle/mod/lti/certs.php" else "certs.php" for a in MOODLE
    ]
    out = cli("registration", "add", *bad, ok=False)
    assert "key-set-url: expected an http(s) URL" in out


def test_allow_on_unknown_registration(cli) -> None:
    out = cli("deployment", "allow", "--registration", "nope", "--deployment-id", "1", ok=False)
    assert "no registration nope" in out


def test_keys_rotate_publishes_two_keys(cli) -> None:
    cli("keys", "list")
    out = cli("keys", "rotate", "--publish-ahead", "3600")
    assert "is published now and signs from" in out
    assert len(cli("keys", "list").strip().splitlines()) == 2


def test_invalid_setting_stops_the_command(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTI_TOOL_JWT_LEEWAY_SECONDS", "a lot")
    out = cli("registration", "list", ok=False)
    assert "invalid setting: jwt_leeway_seconds" in out


def test_registration_invite_prints_a_url_that_opens_registration(cli, database_url) -> None:
    first = cli("registration", "invite").strip()
    second = cli("registration", "invite", "--valid-hours", "2").strip()
    prefix = "https://tool.school.example/lti/register/"
    assert first.startswith(prefix) and second.startswith(prefix) and first != second
    engine = make_engine(database_url)
    with Session(engine) as s:
        assert why_refused(s, first.removeprefix(prefix)) is None
        assert why_refused(s, first.removeprefix(prefix) + "x") == (
            "This registration link is not valid."
        )
    engine.dispose()
    assert "Invalid value" in cli("registration", "invite", "--valid-hours", "0", ok=False)
