"""Settings, read from the environment and an optional ``.env`` file.

One place decides which database landrelease talks to: ``LANDRELEASE_DATABASE_URL`` when set
(a server the centre runs, or the docker-compose service), otherwise a local PostgreSQL cluster
that landrelease creates and starts itself in ``LANDRELEASE_DATA_DIR``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_PORT = 54329
DEFAULT_DATABASE = "landrelease"


def _default_data_dir() -> Path:
    """Where the local cluster lives when the user does not say.

    As root the server runs as an unprivileged user, who must be able to reach the directory,
    so root's home (mode 700) is no place for it.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/landrelease")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "landrelease"


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with :func:`load_settings`."""

    database_url: str | None
    data_dir: Path
    port: int
    database: str


def load_settings() -> Settings:
    """Read settings from the process environment, after loading ``.env`` from the cwd."""
    load_dotenv(Path.cwd() / ".env", override=False)
    url = os.environ.get("LANDRELEASE_DATABASE_URL") or None
    data_dir = Path(os.environ.get("LANDRELEASE_DATA_DIR") or _default_data_dir())
    port = int(os.environ.get("LANDRELEASE_PG_PORT") or DEFAULT_PORT)
    database = os.environ.get("LANDRELEASE_DATABASE") or DEFAULT_DATABASE
    return Settings(database_url=url, data_dir=data_dir.expanduser(), port=port, database=database)
