"""Competencies from a CSV (code,title,parent[,description]): checked whole before anything is
written, so a bad file changes nothing and every problem names its line and column."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from lti_tool.mastery.graph import parent_cycle

REQUIRED = ("code", "title", "parent")
OPTIONAL = ("description",)
MAX_CODE, MAX_TITLE, MAX_ROWS, MAX_PROBLEMS = 100, 300, 2000, 20
SPANS_LINES = (
    "runs over several lines: a quote before it is probably not closed (it took in the next line)"
)


@dataclass(frozen=True)
class Row:
    line: int
    code: str
    title: str
    parent: str | None
    description: str | None  # None: the file has no description column (keep what is saved)


@dataclass(frozen=True)
class Problem:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"Line {self.line}" + (f', column "{self.column}"' if self.column else "")
        return f"{where}: {self.message}"


class ImportRefused(ValueError):
    """The file cannot be imported as a whole; `problems` lists what to fix, first ones first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def decode(data: bytes) -> str:
    """UTF-8 with or without a BOM (spreadsheets add one); anything else is refused, and so is
    a NUL character, which no text can hold (it comes from binary files and bad exports)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            [
                Problem(
                    1,
                    None,
                    f'the file is not UTF-8 text (byte {exc.start + 1}); save it as "CSV UTF-8"',
                )
            ]
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportRefused(
            [
                Problem(
                    line,
                    None,
                    "contains a NUL character (code 0), which no text can hold; "
                    'save the file again as "CSV UTF-8" or remove the character',
                )
            ]
        )
    return text


def records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on, quotes read strictly: a quote left open would
    otherwise swallow the rest of the file into one cell, and that file would be imported."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                message = (
                    "a quote opens here and is never closed "
                    "(the rest of the file would be read as one cell); close it or remove it"
                )
            elif reader.line_num > start:
                message = (
                    f"a quote opens here and runs on to line {reader.line_num}, where the file "
                    f"stops reading as CSV ({exc}); close the quote on this line"
                )
            else:
                message = f"not readable as CSV ({exc})"
            raise ImportRefused([Problem(start, None, message)]) from None
        yield start, cells
        start = reader.line_num + 1


def parse(text: str, existing: Mapping[str, str | None]) -> list[Row]:
    """Rows to write, in file order; `existing` maps the course's codes to their parent codes."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ImportRefused([Problem(1, None, "the file is empty")])
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = records(text, delimiter)
    header = next(reader, (1, []))[1]
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        found = ", ".join(f'"{h}"' for h in header if h.strip()) or "nothing"
        raise ImportRefused(
            [
                Problem(
                    1,
                    c,
                    f"the column is missing (the header has {found}; it needs code, title, parent)",
                )
                for c in missing
            ]
        )
    col = {name: names.index(name) for name in (*REQUIRED, *OPTIONAL) if name in names}
    problems: list[Problem] = []
    rows: list[Row] = []
    seen: dict[str, int] = {}
    try:
        for line, cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                problems.append(Problem(line, None, f"more than {MAX_ROWS} competencies"))
                break

            def cell(name: str, cells: list[str] = cells) -> str:
                i = col[name]
                return cells[i].strip() if i < len(cells) else ""

            code, title, parent = cell("code"), cell("title"), cell("parent")
            if not code:
                problems.append(Problem(line, "code", "empty: every competency needs a code"))
            elif len(code) > MAX_CODE:
                problems.append(Problem(line, "code", f"longer than {MAX_CODE} characters"))
            elif code in seen:
                problems.append(Problem(line, "code", f'"{code}" is already on line {seen[code]}'))
            for name, value in (("code", code), ("title", title)):
                if "\n" in value or "\r" in value:
                    problems.append(Problem(line, name, SPANS_LINES))
            if not title:
                problems.append(Problem(line, "title", "empty: every competency needs a title"))
            elif len(title) > MAX_TITLE:
                problems.append(Problem(line, "title", f"longer than {MAX_TITLE} characters"))
            if code and code not in seen:
                seen[code] = line
            description = cell("description") if "description" in col else None
            rows.append(Row(line, code, title, parent or None, description))
    except ImportRefused as refused:
        problems.extend(refused.problems)
    if not rows and not problems:
        problems.append(Problem(1, None, "the file has a header but no competencies"))
    parent_of = {**existing, **{r.code: r.parent for r in rows if seen.get(r.code) == r.line}}
    problems.extend(parent_problems(rows, parent_of))
    if problems:
        problems.sort(key=lambda p: p.line)
        raise ImportRefused(problems[:MAX_PROBLEMS])
    return rows


def parent_problems(
    rows: list[Row],
    parent_of: Mapping[str, str | None],
    column: str = "parent",
    make: Callable[[int, str | None, str], Problem] = Problem,
) -> list[Problem]:
    """Every parent in the file or the course, and no competency inside itself: the same
    checks for every format, each naming its own parent column."""
    problems = []
    for r in rows:
        if r.parent is None:
            continue
        if r.parent not in parent_of:
            missing = f'no competency with code "{r.parent}" in the file or the course'
            problems.append(make(r.line, column, missing))
        elif r.parent == r.code:
            problems.append(make(r.line, column, "a competency cannot be its own parent"))
        elif chain := parent_cycle(r.code, parent_of):
            problems.append(
                make(r.line, column, f'"{r.code}" would end up inside itself: ' + " → ".join(chain))
            )
    return problems
