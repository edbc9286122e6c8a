"""Bulk values for set-based statements: rows by binary COPY, arrays as one literal.

A batch of a hundred thousand polygons sent as query parameters is encoded as text arrays:
every WKB byte becomes two hex digits on both sides of the wire, and psycopg spends seconds
building the arrays. Binary COPY sends the bytes as they are, and the statement that follows
joins the staged table like any other. Plain arrays of numbers or strings (IDs, box corners)
are sent as one array literal, still a bound parameter, which the statement casts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection


def stage_rows(
    connection: Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[object]],
) -> None:
    """(Re)create the temporary ``table`` with ``columns`` (name, SQL type) and fill it.

    The table lives until the end of the transaction (``ON COMMIT DROP``) or of the savepoint
    that created it; ``table`` and the types are constants of the caller, never user input.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    definition = ", ".join(f"{name} {kind}" for name, kind in columns)
    names = ", ".join(name for name, _ in columns)
    with driver.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} ({definition}) ON COMMIT DROP")
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([kind for _, kind in columns])
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {table}")


def number_array(values: Sequence[float]) -> str:
    """A PostgreSQL array literal of numbers (``{1,2.5}``), for ``CAST(:p AS float8[])``.

    psycopg adapts a list in Python element by element, a few microseconds each: for the half
    million box coordinates of a large file that was most of the database checks. ``str`` of a
    float is its shortest exact form, which PostgreSQL reads back to the same float.
    """
    return "{" + ",".join(map(str, values)) + "}"


def text_array(values: Sequence[str]) -> str:
    """A PostgreSQL array literal of strings (``{"a","b"}``), for ``CAST(:p AS text[])``: each
    quoted, its backslashes and quotes escaped (see :func:`number_array`)."""
    if not values:
        return "{}"
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + '","'.join(escaped) + '"}'
