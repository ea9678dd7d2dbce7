"""The repository's migrations/ and static/ folders, found alike in a checkout and a wheel.

A wheel carries them inside the package (`lti_tool/_bundled/<name>`, copied there by the
build step in setup.py); a checkout or an editable install reads the top-level folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """The folder `name` ("migrations" or "static") as this installation has it."""
    inside = _PACKAGE / "_bundled" / name
    return inside if inside.is_dir() else _PACKAGE.parent / name
