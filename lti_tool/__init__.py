"""An LTI 1.3 tool for mastery-based learning.

`create_app` is the only way to get the Flask app; Flask is imported lazily so that the pure
`lti_tool.mastery` engine can be used without the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    from lti_tool.app import create_app as _create_app

    return _create_app(*args, **kwargs)
