"""Competency frameworks in the formats teachers and admins already have, read into the same
`Row`s as the plain CSV so the all-or-nothing save path does not care where they came from.

Pure: no IO, no Flask, no database. The format is told by the content, never the file name:
- CASE CFPackage JSON (1.0, 1.1 and the pre-1.0 draft): the text is a JSON object;
- Canvas outcomes CSV: the header names `vendor_guid` and `object_type`;
- plain CSV: the header names `code`, `title` and `parent`;
- Moodle competency framework CSV (admin/tool/lpimportcsv): 14 columns read by position, one
  row marked `Is framework` = 1.
Anything else is read as a plain CSV, so its messages ("the column is missing") stay as before.
See /work/shared/data/frameworks/README.md for the three formats.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Mapping
from html.parser import HTMLParser
from typing import Any

from lti_tool.services.competency_import import (
    MAX_CODE,
    MAX_PROBLEMS,
    MAX_ROWS,
    MAX_TITLE,
    ImportRefused,
    Problem,
    Row,
    decode,
    parent_problems,
    parse,
    records,
)

PLAIN, CANVAS, MOODLE, CASE = (
    "plain CSV",
    "Canvas outcomes CSV",
    "Moodle framework CSV",
    "CASE JSON",
)
# A title made from a long statement: the whole statement stays in the description.
STATEMENT_TITLE = 120
MOODLE_COLUMNS = (
    "Parent ID number",
    "ID number",
    "Short name",
    "Description",
    "Description format",
    "Scale values",
    "Scale configuration",
    "Rule type",
    "Rule outcome",
    "Rule config",
    "Cross-referenced ID numbers",
    "Exported ID",
    "Is framework",
    "Taxonomy",
)


class ItemProblem(Problem):
    """A problem in a JSON file: `line` is the item's place in `CFItems` (1-based)."""

    def __str__(self) -> str:
        where = f"Item {self.line}" + (f', field "{self.column}"' if self.column else "")
        return f"{where}: {self.message}"


def parse_any(data: bytes, existing: Mapping[str, str | None]) -> tuple[str, list[Row]]:
    """The detected format's name and the rows to write; `existing` maps the course's codes to
    their parent codes. Raises `ImportRefused` naming every line or item to fix."""
    fmt, rows = _read(decode(data).lstrip("\ufeff"), existing)
    # A JSON escape (\u0000) can still bring a NUL character, which no text column holds.
    make = ItemProblem if fmt == CASE else Problem
    nul = [
        make(r.line, None, "contains a NUL character (code 0), which no text can hold")
        for r in rows
        if any("\x00" in (v or "") for v in (r.code, r.title, r.parent, r.description))
    ]
    if nul:
        raise ImportRefused(nul[:MAX_PROBLEMS])
    return fmt, rows


def _read(text: str, existing: Mapping[str, str | None]) -> tuple[str, list[Row]]:
    if text.lstrip().startswith("{"):
        return CASE, _case(text, existing)
    header, delimiter = _csv_header(text)
    names = {h.strip().lower() for h in header}
    if {"vendor_guid", "object_type"} <= names:
        return CANVAS, _canvas(text, delimiter, existing)
    if {"code", "title", "parent"} <= names:
        return PLAIN, parse(text, existing)
    if _looks_like_moodle(text, header, delimiter):
        return MOODLE, _moodle(text, delimiter, existing)
    return PLAIN, parse(text, existing)


# -- shared --------------------------------------------------------------------------------------


def plain_text(markup: str) -> str:
    """What a reader sees of an HTML fragment: tags gone, entities decoded, whitespace collapsed
    (a block boundary such as </p> or <br> counts as a space)."""
    reader = _Text()
    reader.feed(markup)
    reader.close()
    return _collapse("".join(reader.parts))


class _Text(HTMLParser):
    BLOCKS = frozenset(
        "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 "
        "h5 h6 header hr li ol p pre section table tbody td tfoot th thead tr ul".split()
    )
    HIDDEN = frozenset(("script", "style"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def shorten(text: str, limit: int = MAX_TITLE) -> str:
    """`text` if it fits, else cut at a word boundary with an ellipsis (never longer than
    `limit`)."""
    text = _collapse(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def _statement_title(statement: str) -> str:
    """A title for a long statement: its first sentence when that is short, else its start."""
    statement = _collapse(statement)
    if len(statement) <= STATEMENT_TITLE:
        return statement
    first = re.match(r"(.+?[.!?])\s", statement)
    if first and len(first.group(1)) <= STATEMENT_TITLE:
        return first.group(1)
    return shorten(statement, STATEMENT_TITLE)


def _natural(value: str) -> list[tuple[int, int | str]]:
    """Sort key where "L1.2" comes before "L1.10"."""
    return [(0, int(p)) if p.isdigit() else (1, p.lower()) for p in re.split(r"(\d+)", value) if p]


def _csv_header(text: str) -> tuple[list[str], str]:
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    except csv.Error:
        header = []
    return header, delimiter


def _records(text: str, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows with the line each starts on (quotes read strictly)."""
    reader = records(text, delimiter)
    header = next(reader, (1, []))[1]
    return header, [(line, cells) for line, cells in reader if any(c.strip() for c in cells)]


def _check(
    rows: list[Row],
    existing: Mapping[str, str | None],
    columns: Mapping[str, str],
    make: Callable[[int, str | None, str], Problem] = Problem,
    extra: list[Problem] | None = None,
) -> list[Row]:
    """The plain CSV's checks, naming each format's own columns (`columns` maps "code", "title"
    and "parent" to them): every code present, short enough and once only, every title present,
    every parent in the file or the course, no competency inside itself."""
    problems = list(extra or [])
    if len(rows) > MAX_ROWS:
        problems.append(make(rows[MAX_ROWS].line, None, f"more than {MAX_ROWS} competencies"))
        rows = rows[:MAX_ROWS]
    if not rows and not problems:
        problems.append(make(1, None, "the file has no competencies"))
    seen: dict[str, int] = {}
    for r in sorted(rows, key=lambda r: r.line):  # "already at" names the earlier one
        if not r.code:
            problems.append(make(r.line, columns["code"], "empty: every competency needs a code"))
        elif len(r.code) > MAX_CODE:
            problems.append(make(r.line, columns["code"], f"longer than {MAX_CODE} characters"))
        elif r.code in seen:
            problems.append(
                make(
                    r.line,
                    columns["code"],
                    f'"{r.code}" is already at {_where(make, seen[r.code])}',
                )
            )
        else:
            seen[r.code] = r.line
        if not r.title:
            problems.append(make(r.line, columns["title"], "empty: every competency needs a title"))
    parent_of = {**existing, **{r.code: r.parent for r in rows if seen.get(r.code) == r.line}}
    problems.extend(parent_problems(rows, parent_of, columns["parent"], make))
    if problems:
        problems.sort(key=lambda p: p.line)
        raise ImportRefused(problems[:MAX_PROBLEMS])
    return rows


def _where(make: Callable[..., Problem], line: int) -> str:
    return f"item {line}" if make is ItemProblem else f"line {line}"


# -- Canvas outcomes CSV ---------------------------------------------------------------------------


def _canvas(text: str, delimiter: str, existing: Mapping[str, str | None]) -> list[Row]:
    """Groups and outcomes alike become competencies. Ratings and calculation methods are read
    past, not imported: the course's scale and default method apply."""
    header, records = _records(text, delimiter)
    col: dict[str, int] = {}
    for i, h in enumerate(header):
        name = h.strip().lower()
        if name and name not in col:
            col[name] = i
        if name == "ratings":
            break  # the cells after it are the ratings' points and descriptions
    if "title" not in col:
        message = "the column is missing (Canvas outcomes need vendor_guid, object_type, title)"
        raise ImportRefused([Problem(1, "title", message)])
    problems: list[Problem] = []

    def cell(cells: list[str], name: str) -> str:
        i = col.get(name)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    code_of: dict[str, str] = {}
    pending: list[tuple[int, str, str, str, str | None, str]] = []
    for line, cells in records:
        kind = cell(cells, "object_type").lower()
        if kind not in ("outcome", "group"):
            problems.append(
                Problem(line, "object_type", f'"{kind}" is neither "outcome" nor "group"')
            )
            continue
        if cell(cells, "workflow_state").lower() == "deleted":
            continue
        guid = cell(cells, "vendor_guid")
        if not guid:
            problems.append(Problem(line, "vendor_guid", "empty: every row needs a vendor_guid"))
            continue
        code = cell(cells, "display_name") or guid
        code_of.setdefault(guid, code)
        description = plain_text(cell(cells, "description")) if "description" in col else None
        parents = cell(cells, "parent_guids").split()
        pending.append(
            (
                line,
                guid,
                code,
                shorten(cell(cells, "title")),
                description,
                parents[0] if parents else "",
            )
        )
    rows = [
        # A parent guid not in the file may be a code already in the course.
        Row(line, code, title, code_of.get(parent, parent) or None, description)
        for line, _guid, code, title, description, parent in pending
    ]
    columns = {"code": "display_name", "title": "title", "parent": "parent_guids"}
    return _check(rows, existing, columns, extra=problems)


# -- Moodle competency framework CSV ---------------------------------------------------------------


def _looks_like_moodle(text: str, header: list[str], delimiter: str) -> bool:
    if len(header) < 13:
        return False
    if "framework" in header[12].lower():
        return True
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return False
    return any(len(r) >= 13 and r[12].strip() == "1" for r in rows[1:])


def _moodle(text: str, delimiter: str, existing: Mapping[str, str | None]) -> list[Row]:
    """The `Is framework` row is the framework itself, not a competency: its ID number as a
    parent means top level. Short name is the title; descriptions become plain text."""
    _header, records = _records(text, delimiter)
    frameworks = {
        cells[1].strip() for _line, cells in records if len(cells) > 12 and cells[12].strip() == "1"
    }
    rows: list[Row] = []
    for line, cells in records:
        cells = cells + [""] * (14 - len(cells))
        if cells[12].strip() == "1":
            continue
        parent = cells[0].strip()
        description, form = cells[3], cells[4].strip()
        # 2 is plain text and 4 Markdown: tags there are the teacher's words, not markup.
        description = _collapse(description) if form in ("2", "4") else plain_text(description)
        rows.append(
            Row(
                line,
                cells[1].strip(),
                shorten(cells[2]),
                None if not parent or parent in frameworks else parent,
                description,
            )
        )
    columns = {"code": MOODLE_COLUMNS[1], "title": MOODLE_COLUMNS[2], "parent": MOODLE_COLUMNS[0]}
    return _check(rows, existing, columns)


# -- CASE CFPackage JSON ---------------------------------------------------------------------------


def _case(text: str, existing: Mapping[str, str | None]) -> list[Row]:
    """CFItems become competencies in tree order; the tree is the `isChildOf` associations
    (origin the child, destination the parent, the document itself meaning top level)."""
    try:
        package = json.loads(text)
    except ValueError as exc:
        raise ImportRefused([Problem(1, None, f"not readable as JSON ({exc})")]) from None
    except RecursionError:
        raise ImportRefused(
            [Problem(1, None, "not readable as JSON (nested deeper than any framework is)")]
        ) from None
    items = package.get("CFItems") if isinstance(package, dict) else None
    if not isinstance(items, list):
        raise ImportRefused(
            [
                Problem(
                    1,
                    None,
                    "this JSON is not a CASE framework (a CFPackage with CFDocument and CFItems)",
                )
            ]
        )
    document = package.get("CFDocument") if isinstance(package.get("CFDocument"), dict) else {}
    roots = {str(document.get(k)) for k in ("identifier", "uri") if document.get(k)}
    problems: list[Problem] = []
    index: dict[str, int] = {}  # identifier -> 1-based place in CFItems
    codes: dict[str, str] = {}
    rows_by_id: dict[str, dict[str, Any]] = {}
    for n, item in enumerate(items, start=1):
        ident = str(item.get("identifier") or "").strip() if isinstance(item, dict) else ""
        if not ident:
            problems.append(ItemProblem(n, "identifier", "empty: every CFItem needs one"))
            continue
        if ident in index:
            problems.append(ItemProblem(n, "identifier", f"already used by item {index[ident]}"))
            continue
        index[ident] = n
        rows_by_id[ident] = item
        codes[ident] = _text(item.get("humanCodingScheme")) or _derived_code(ident)
    uri_to_id = {str(i["uri"]): k for k, i in rows_by_id.items() if i.get("uri")}

    parent: dict[str, str | None] = {}
    order: dict[str, float] = {}
    for assoc in package.get("CFAssociations") or []:
        if not isinstance(assoc, dict) or assoc.get("associationType") != "isChildOf":
            continue
        child = _node(assoc, "origin")
        dest = _node(assoc, "destination")
        child = uri_to_id.get(child, child)
        if child not in rows_by_id or child in parent:
            continue  # an item elsewhere, or a second place for this one: the first wins
        if dest in roots:
            parent[child] = None
        else:
            dest = uri_to_id.get(dest, dest)
            if dest not in rows_by_id:
                title = _text((assoc.get("destinationNodeURI") or {}).get("title"))
                problems.append(
                    ItemProblem(
                        index[child],
                        "isChildOf",
                        f'its parent "{title or dest}" is not an item of this file',
                    )
                )
                continue
            parent[child] = dest
        seq = assoc.get("sequenceNumber")
        order[child] = float(seq) if isinstance(seq, int | float) else 0.0

    def sort_key(ident: str) -> tuple[float, list[Any], list[Any]]:
        item = rows_by_id[ident]
        return (
            order.get(ident, 0.0),
            _natural(_text(item.get("listEnumeration"))),
            _natural(_text(item.get("humanCodingScheme"))),
        )

    children: dict[str | None, list[str]] = {}
    for ident in rows_by_id:
        children.setdefault(parent.get(ident), []).append(ident)
    ordered: list[str] = []
    visited: set[str] = set()
    # Popped from the end: reversed after a stable sort, so ties keep the file's order.
    stack = sorted(children.get(None, []), key=sort_key)[::-1]
    while stack:
        ident = stack.pop()
        if ident in visited:
            continue
        visited.add(ident)
        ordered.append(ident)
        stack.extend(sorted(children.get(ident, []), key=sort_key)[::-1])
    # What the tree does not reach (a circle of parents) still goes through the checks.
    ordered += [i for i in rows_by_id if i not in visited]

    rows = []
    for ident in ordered:
        item = rows_by_id[ident]
        statement = _collapse(_text(item.get("fullStatement")))
        abbreviated = _collapse(_text(item.get("abbreviatedStatement")))
        title = shorten(abbreviated) if abbreviated else _statement_title(statement)
        up = parent.get(ident)
        rows.append(
            Row(
                index[ident],
                codes[ident],
                title or codes[ident],
                codes[up] if up else None,
                statement,
            )
        )
    columns = {"code": "humanCodingScheme", "title": "fullStatement", "parent": "isChildOf"}
    return _check(rows, existing, columns, make=ItemProblem, extra=problems)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _node(assoc: Mapping[str, Any], end: str) -> str:
    """The identifier at one end of an association: `{end}NodeURI.identifier` (1.0, 1.1), or the
    draft's `{end}NodeIdentifier`, or a bare URI string."""
    ref = assoc.get(f"{end}NodeURI")
    if isinstance(ref, dict) and ref.get("identifier"):
        return str(ref["identifier"]).strip()
    if assoc.get(f"{end}NodeIdentifier"):
        return str(assoc[f"{end}NodeIdentifier"]).strip()
    if isinstance(ref, dict) and ref.get("uri"):
        return str(ref["uri"]).strip()
    return str(ref or "").strip()


def _derived_code(identifier: str) -> str:
    """A short code that stays the same for the same item on every import: the identifier's last
    path segment ("S114340A" of http://purl.org/ASN/resources/S114340A), or the first 8 hex digits
    of a UUID."""
    tail = re.split(r"[/#:]", identifier.rstrip("/"))[-1]
    try:
        return "ID-" + uuid.UUID(tail).hex[:8]
    except ValueError:
        pass
    if tail and len(tail) <= 40 and re.fullmatch(r"[\w.\-]+", tail):
        return tail
    return "ID-" + uuid.uuid5(uuid.NAMESPACE_URL, identifier).hex[:8]
