"""Browser fixtures: Playwright driving Debian's Chromium, never a downloaded browser."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# The tool's frame stays in the LMS page's renderer process. A launch moves the frame from the
# LMS's site to the tool's and back (login, authorize, launch); with a process per site,
# Playwright now and then missed the frame's move into the tool's process (seen: the launched
# page and its styles loaded, no navigation reported, then every wait in the frame timed out
# and an evaluate() in it never returned), in about one browser-test run in six. Cookies,
# SameSite and third-party blocking are the network service's, the same in either process model.
CHROMIUM_ARGS = ["--disable-site-isolation-trials"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session", params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Browser tests check what the browser does; one database backend is enough."""
    from lti_tool import migrate
    from lti_tool.db import make_engine

    url = f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'test.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is required under CI=true (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# -- accessibility: axe-core from npm, run in the tool's frame ------------------------------------

AXE_CORE_VERSION = "4.14.1"


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "lti-tool-tests" / f"axe-core-{AXE_CORE_VERSION}"


def _install_axe_core(target: Path) -> str | None:
    """`npm install` the pinned axe-core into a cache outside the checkout (nothing is vendored
    into the app's static files); None when done, else what went wrong."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed (apt-get install npm)"
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        npm,
        "install",
        "--prefix",
        str(staging),
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        f"axe-core@{AXE_CORE_VERSION}",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "npm install axe-core timed out"
    if done.returncode != 0:
        return f"npm install axe-core failed: {(done.stderr or done.stdout).strip()[-500:]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(target)
    except OSError:  # another run installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return None


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The source of axe-core (npm, pinned), or `LTI_TOOL_AXE_JS` pointing at an axe.min.js.

    It is evaluated in the tool's frame through the DevTools protocol, which a page's
    Content-Security-Policy does not govern: the tool keeps `script-src 'self'`."""
    given = os.environ.get("LTI_TOOL_AXE_JS")
    if given:
        return Path(given).read_text(encoding="utf-8")
    target = _cache_dir()
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        problem = _install_axe_core(target)
        if problem or not script.exists():
            problem = problem or f"{script} missing after npm install"
            if os.environ.get("CI") == "true":
                pytest.fail(f"axe-core is required under CI=true: {problem}")
            pytest.skip(f"axe-core unavailable: {problem}")
    return script.read_text(encoding="utf-8")


AXE_RUN = """() => axe.run(document, {resultTypes: ['violations']})
.then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))
})))"""


def axe_violations(frame: object, source: str) -> list[dict]:
    """axe-core's violations on a Frame's (or Page's) current document."""
    if not frame.evaluate("() => typeof window.axe === 'object'"):  # type: ignore[attr-defined]
        frame.evaluate(source)  # type: ignore[attr-defined]
    return frame.evaluate(AXE_RUN)  # type: ignore[attr-defined,no-any-return]
