"""The engine stays pure: no module in lti_tool/mastery imports I/O or the rest of the app."""

from __future__ import annotations

import ast
from pathlib import Path

import lti_tool.mastery

PACKAGE = Path(lti_tool.mastery.__file__).parent
BANNED = {
    "flask",
    "sqlalchemy",
    "requests",
    "werkzeug",
    "jwt",
    "redis",
    "rq",
    "pylti1p3",
    "socket",
    "urllib",
    "http",
    "subprocess",
    "os",
    "pathlib",
    "io",
    "time",
    "random",
    "threading",
    "asyncio",
}


def imported_modules(path: Path) -> list[str]:
    """Absolute names of everything a file imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ["lti_tool", "mastery"]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
            "__import__",
            "exec",
            "eval",
            "open",
        ):
            names.append(f"<call {node.func.id}>")  # type: ignore[attr-defined]
    return names


def offences(path: Path) -> list[str]:
    found = []
    for name in imported_modules(path):
        top = name.split(".")[0]
        if name.startswith("<call"):
            found.append(name)
        elif top in BANNED:
            found.append(name)
        elif top == "lti_tool" and not (
            name == "lti_tool.mastery" or name.startswith("lti_tool.mastery.")
        ):
            found.append(name)
    return found


def test_no_module_imports_a_banned_package():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    assert {str(f.relative_to(PACKAGE)): offences(f) for f in files if offences(f)} == {}


def test_the_checker_catches_what_it_should(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import flask\nfrom sqlalchemy.orm import Session\nfrom .. import db\n"
        "from ..settings import Settings\nimport lti_tool.lti.launch\nfrom . import rules\n"
        "open('x')\n",
        encoding="utf-8",
    )
    assert offences(probe) == [
        "flask",
        "sqlalchemy.orm",
        "sqlalchemy.orm.Session",
        "lti_tool",
        "lti_tool.db",
        "lti_tool.settings",
        "lti_tool.settings.Settings",
        "lti_tool.lti.launch",
        "<call open>",
    ]


def test_package_states_the_purity_rule():
    doc = lti_tool.mastery.__doc__ or ""
    assert "Purity rule: no I/O" in doc
    for name in ("Flask", "SQLAlchemy", "requests", "werkzeug", "jwt", "redis"):
        assert name in doc
