"""Hostile input answered with words, not a 500: ids past the integer range find no page, and
a NUL character (which no text column of PostgreSQL can hold) is refused before any view."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from werkzeug.routing import IntegerConverter

from lti_tool.ids import MAX_ROW_ID


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: a number past the database's integer is a 404, like any
    id that names no row."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def _has_nul() -> bool:
    if "\x00" in request.path:
        return True
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                return True
    return False


def refuse_nul() -> tuple[str, int] | None:
    """A NUL character is never typed: refuse the whole request and say so."""
    if request.path.startswith("/static/") or not _has_nul():
        return None
    return (
        render_template(
            "error.html",
            title="The form contained a NUL character",
            explanation=(
                "Something pasted an invisible NUL character (code 0) into the form, and no "
                "text can hold it. Go back, retype the text or paste it as plain text, and "
                "send it again."
            ),
            status=400,
        ),
        400,
    )


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered: the converter is picked when a rule is added."""
    app.url_map.converters["int"] = RowIdConverter
    app.before_request(refuse_nul)
