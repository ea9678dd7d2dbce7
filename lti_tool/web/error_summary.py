"""The error summary at the top of a refused form: a teacher whose page reloads at the top sees
every mistake there, each linked to the message next to its field, wherever the form was."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The id prefix the method fields use on each page (see setup/_macros.html method_fields).
METHOD_PREFIX = {"setup/methods.html": "default-", "setup/competency.html": ""}


def summary(template: str, kw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(link target or "", message) for every mistake the page is about to show."""
    items: list[tuple[str, str]] = []
    for key, message in (kw.get("errors") or {}).items():
        items.append(("" if key == "form" else f"#{key}-error", str(message)))
    prefix = METHOD_PREFIX.get(template, "")
    kind = (kw.get("method_doc") or {}).get("method", "")
    for key, message in (kw.get("method_errors") or {}).items():
        target = f"#{prefix}method-error" if key == "method" else f"#{prefix}{kind}-{key}-error"
        items.append((target, str(message)))
    if kw.get("series_error"):
        items.append((f"#{prefix}series-error", str(kw["series_error"])))
    if kw.get("scale_error"):
        items.append(("#scale-error", str(kw["scale_error"])))
    items += [("#import-problems", str(p)) for p in kw.get("problems") or []]
    items += [("#delete-problems", str(p)) for p in kw.get("delete_errors") or []]
    judged = kw.get("judged") or {}
    items += [("", str(message)) for message in judged.get("top", [])]
    items += [(f"#err-{path}", str(m)) for path, m in judged.get("errors", {}).items()]
    return items
