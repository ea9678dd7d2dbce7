"""The front door: `lti-tool demo` on a fresh directory, and the pages an admin pastes from."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

pytestmark = pytest.mark.postgres


def test_demo_command_serves_the_sandbox_and_the_tool(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")}
    exe = Path(sys.executable).with_name("lti-tool")
    proc = subprocess.Popen(
        [str(exe), "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = ""
        deadline = time.monotonic() + 60
        while "Press Ctrl+C" not in out and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            out += line
        assert "The demo is ready" in out, out
        assert f"http://localhost:{port}/sandbox/" in out
        for _ in range(50):
            try:
                page = requests.get(f"http://localhost:{port}/sandbox/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert (
            page.status_code == 200
            and "Sandbox Canvas" in page.text
            and "Sandbox Moodle" in page.text
        )
        jwks = requests.get(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=5).json()
        assert jwks["keys"][0]["kid"] and jwks["keys"][0]["alg"] == "RS256"
        assert (tmp_path / "instance" / "lti_tool.db").exists()
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_config_pages(live_server) -> None:
    page = requests.get(f"{live_server.tool_url}/lti/config", timeout=5)
    assert page.status_code == 200
    assert f"{live_server.tool_url}/.well-known/jwks.json" in page.text
    assert f"{live_server.tool_url}/lti/login" in page.text
    canvas = requests.get(f"{live_server.tool_url}/lti/config/canvas.json", timeout=5).json()
    assert canvas["oidc_initiation_url"] == f"{live_server.tool_url}/lti/login"
    assert canvas["public_jwk_url"] == f"{live_server.tool_url}/.well-known/jwks.json"
    placements = canvas["extensions"][0]["settings"]["placements"]
    assert {p["placement"]: p["message_type"] for p in placements} == {
        "course_navigation": "LtiResourceLinkRequest",
        "link_selection": "LtiDeepLinkingRequest",
        "assignment_selection": "LtiDeepLinkingRequest",
    }
    # next term: a copied course names the course it came from
    assert canvas["custom_fields"]["context_history"] == "$Context.id.history"
    assert "context_history=$Context.id.history" in page.text


def test_moodle_steps_say_delegate_grades_to_the_teacher(live_server) -> None:
    """With "Always", Moodle gives every placed module a 100-point column (course total 220)."""
    page = requests.get(f"{live_server.tool_url}/lti/config", timeout=5).text
    assert "Accept grades from the tool: Delegate to teacher" in page
    assert "Accept grades from the tool: Always" not in page
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    moodle_steps = readme.split("**Moodle**", 1)[1].split("**Canvas**", 1)[0]
    assert 'accept grades from the tool "Delegate to teacher"' in " ".join(moodle_steps.split())
    assert "`context_history=$Context.id.history`" in moodle_steps
