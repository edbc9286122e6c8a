"""Rows for a set-based statement, sent with binary COPY into a table of this transaction.

A batch of a hundred thousand polygons sent as query parameters is encoded as text arrays:
every WKB byte becomes two hex digits on both sides of the wire, and psycopg spends seconds
building the arrays. Binary COPY sends the bytes as they are, and the statement that follows
joins the staged table like any other.
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
