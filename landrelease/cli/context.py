"""What commands share at run time: the database engine, opened once and only when needed."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from landrelease.db.engine import connect


def engine(ctx: click.Context) -> Engine:
    """The engine for this invocation (local server started, schema upgraded, on first use)."""
    root = ctx.find_root()
    root.ensure_object(dict)
    if "engine" not in root.obj:
        root.obj["engine"] = connect()
        root.call_on_close(root.obj["engine"].dispose)
    return root.obj["engine"]
