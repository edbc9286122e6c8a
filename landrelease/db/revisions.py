"""Earlier migrations' SQL, for later migrations that change it.

A migration that rewrites a function or a trigger of an earlier one starts from that migration's
own statements, as they were written, rather than from a copy: the change is then the only new
text, and the earlier file stays the one place that SQL is written.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

VERSIONS = Path(__file__).with_name("migrations") / "versions"


def load_revision(file_name: str) -> ModuleType:
    """The module of migration ``file_name`` (e.g. ``"0002_indicator_tables.py"``)."""
    path = VERSIONS / file_name
    spec = importlib.util.spec_from_file_location(f"landrelease_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def replaceable(statement: str) -> str:
    """A ``CREATE FUNCTION`` statement as ``CREATE OR REPLACE FUNCTION``."""
    return statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def function_statement(revision: ModuleType, name: str) -> str:
    """The ``CREATE FUNCTION name(...)`` statement among ``revision.FUNCTIONS`` (its triggers
    and comments name the function too, so the statement is found by how it begins)."""
    (statement,) = [
        s for s in revision.FUNCTIONS if s.strip().startswith(f"CREATE FUNCTION {name}(")
    ]
    return statement
