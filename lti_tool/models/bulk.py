"""Many rows of one table in one statement, inside the session's transaction: COPY, and UPDATE
… FROM unnest(arrays) on PostgreSQL (a first recompute of 1,000 students writes some 230,000
rows; an executemany, even pipelined, took seconds, multi-row INSERTs longer still, as psycopg
parses each), an executemany elsewhere (SQLite has no COPY and no arrays)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Float,
    Integer,
    Select,
    String,
    Table,
    TypeDecorator,
    bindparam,
    column,
    func,
    insert,
    update,
)
from sqlalchemy import table as sql_table
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def plain_rows(session: Session, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """A query's rows as the driver's tuples: on PostgreSQL straight from psycopg's binary
    cursor, a third of the time of SQLAlchemy's rows for a course's 150,000. Neither side
    processes types, so select plain columns (ints, floats, strings) and bind plain values."""
    session.flush()  # as session.execute would: the query must see pending changes
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql" or raw is None:
        return [tuple(row) for row in connection.execute(statement)]
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    with raw.cursor(binary=True) as cursor:  # type: ignore[call-arg]
        cursor.execute(str(compiled), compiled.params)
        return cursor.fetchall()


def insert_rows(
    session: Session,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fixed: Mapping[str, Any] | None = None,
    encoded: Collection[str] = (),
) -> None:
    """Insert `rows` (tuples in `names` order), with `fixed` column values shared by every row
    and the table's Python defaults for the columns neither names (COPY skips them).
    `encoded`: JSON columns whose values are already JSON text (sent as they are)."""
    if not rows:
        return
    fixed = dict(fixed or {})
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql" or raw is None:
        values = [{**dict(zip(names, row, strict=True)), **fixed} for row in rows]
        for value in values:
            for name in encoded:
                value[name] = json.loads(value[name])
        session.execute(insert(table), values)
        return
    session.flush()  # COPY goes round the session: what it references must be written
    given = {*names, *fixed}
    for c in table.columns:
        if c.name not in given and c.default is not None and not c.primary_key:
            fixed[c.name] = c.default.arg if c.default.is_scalar else c.default.arg(None)
    every = [*names, *fixed]
    shared = tuple(fixed.values())
    # binary: a fifth of the Python time of text for the same rows, each value dumped by
    # psycopg's C code for its column's type (JSON values too)
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(every)}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        # JSON's binary form is its text: text already encoded goes as text, unparsed here
        copy.set_types(
            ["text" if name in encoded else _copy_type(table.c[name].type) for name in every]
        )
        write = copy.write_row
        for row in rows:
            write((*row, *shared))


def _copy_type(kind: Any) -> str:
    """The PostgreSQL type binary COPY dumps a column's values as."""
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, Float):
        return "float8"
    if isinstance(kind, Integer):
        return "int8" if isinstance(kind, BigInteger) else "int4"
    if isinstance(kind, String):
        return "text"
    raise TypeError(f"no COPY type for {kind!r}")


def update_rows(
    session: Session,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fixed: Mapping[str, Any] | None = None,
) -> None:
    """Update each row by its id: `rows` are (id, *values in `names` order); `fixed` sets a
    value or SQL expression (e.g. `version + 1`) the same for every row. Foreign keys are not
    touched, so PostgreSQL checks none of them (an INSERT checks each per row)."""
    if not rows:
        return
    fixed = dict(fixed or {})
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql" or raw is None:
        keys = ["id_", *names]
        statement = (
            update(table)
            .where(table.c.id == bindparam("id_"))
            .values({**{name: bindparam(name) for name in names}, **fixed})
        )
        connection.execute(statement, [dict(zip(keys, row, strict=True)) for row in rows])
        return
    if len(rows) >= COPIED_UPDATE:
        _update_copied(connection, raw, table, names, rows, fixed)
        return
    columns = list(zip(*rows, strict=True))
    arrays = [
        bindparam(f"a{i}", list(values), type_=ARRAY(table.c[name].type))
        for i, (name, values) in enumerate(zip(["id", *names], columns, strict=True))
    ]
    given = func.unnest(*arrays).table_valued("id", *names).render_derived(name="given")
    connection.execute(
        update(table)
        .where(table.c.id == given.c.id)
        .values({**{name: given.c[name] for name in names}, **fixed})
    )


# From this many rows an update's values go by binary COPY into a temporary table, not as
# arrays: psycopg dumps an array's items one by one in Python (with a regular expression each,
# most of 0.7 s of Python in a recompute after a grade each) where COPY's rows are dumped in C.
# A temporary table costs a few catalog writes, more than a small update's arrays.
COPIED_UPDATE = 2000


def _update_copied(
    connection: Connection,
    raw: Any,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fixed: Mapping[str, Any],
) -> None:
    """update_rows on PostgreSQL for many rows: COPY into a temporary table made like the
    updated columns, one UPDATE … FROM it, the table dropped."""
    keys = ["id", *names]
    given = sql_table(f"given_{table.name}", *(column(name) for name in keys))
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {given.name} ON COMMIT DROP AS "
            f"SELECT {', '.join(keys)} FROM {table.name} WITH NO DATA"
        )
        with cursor.copy(f"COPY {given.name} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_copy_type(table.c[name].type) for name in keys])
            write = copy.write_row
            for row in rows:
                write(row)
    connection.execute(
        update(table)
        .where(table.c.id == given.c.id)
        .values({**{name: given.c[name] for name in names}, **fixed})
    )
    connection.exec_driver_sql(f"DROP TABLE {given.name}")
