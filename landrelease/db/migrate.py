"""Schema migrations, run from code so every entry point shares one path.

Every command checks the schema before it runs (:func:`is_current`). Alembic itself, and the
reading of every migration script to find the newest, cost about 0.4 s of a command's start,
so the check reads the database's revision in plain SQL and compares it with the newest
migration file's revision (files are named after their revision, ``0008_....py``; a test
holds the names to Alembic's own head). Alembic is loaded only to upgrade or to inspect.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSIONS = MIGRATIONS / "versions"


def _config(connection: object) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest migration shipped with this version of landrelease, as Alembic finds it."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(None)).get_current_head()


def newest_file_revision() -> str:
    """The revision of the newest migration file, from its name (``0008_...py`` -> ``0008``)."""
    return max(path.name.split("_", 1)[0] for path in VERSIONS.glob("[0-9]*_*.py"))


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with engine.connect() as connection:
        if connection.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None:
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def is_current(engine: Engine) -> bool:
    """Whether the schema is at the newest migration shipped (without loading Alembic)."""
    return current_revision(engine) == newest_file_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (default: the newest) in one transaction."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the models (a developer's command)."""
    from alembic import command

    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
