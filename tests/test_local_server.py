"""The local PostgreSQL cluster, exercised against real PostgreSQL and PostGIS.

Nothing is mocked: the point is to prove that initdb, pg_ctl and the socket-only setup work on
this machine, as root (server run as ``postgres``/``nobody``) or as a normal user. The tests
skip only when PostgreSQL is not installed and ``CI`` is unset; on CI a missing installation
is a failure, so a broken image cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from landrelease.config import DEFAULT_PORT, Settings
from landrelease.db.server import LocalServer, find_postgres_bindir
from landrelease.errors import ConfigurationError

pytestmark = pytest.mark.db


def _free_port() -> int:
    """A port number nobody is using; the server does not listen on TCP, but the number names
    its socket file, and avoiding busy ports keeps the choice obviously harmless."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != DEFAULT_PORT:  # reserved for the developer's own server
            return port


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A temporary directory the server user can traverse.

    As root the server runs as ``postgres``, who cannot enter pytest's tmp_path under
    /tmp/pytest-of-root (mode 0700), so make a 0755 directory directly under /tmp.
    """
    path = Path(tempfile.mkdtemp(prefix="lr-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _require_postgres() -> None:
    try:
        find_postgres_bindir()
    except ConfigurationError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required on CI: {exc}")
        pytest.skip(f"PostgreSQL is not installed: {exc}")


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """One cluster for the module: initdb takes seconds, and the tests check its life cycle."""
    _require_postgres()
    base = Path(tempfile.mkdtemp(prefix="lr-server-", dir="/tmp"))
    base.chmod(0o755)
    local = LocalServer(data_dir=base / "data", port=_free_port())
    try:
        yield local
    finally:
        try:
            local.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_start_creates_cluster_and_runs(server: LocalServer) -> None:
    server.start()

    assert server.is_running()
    status = server.status()
    assert status.startswith("running (pid ")
    assert str(server.run_dir) in status
    assert f"port {server.port}" in status
    assert (server.run_dir / f".s.PGSQL.{server.port}").exists()


def test_socket_directory_is_private(server: LocalServer) -> None:
    server.start()
    mode = stat.S_IMODE(server.run_dir.stat().st_mode)
    assert mode == 0o700
    assert server.run_dir.stat().st_uid == server.pgdata.stat().st_uid
    if os.geteuid() == 0:
        assert server.pgdata.stat().st_uid != 0


def test_server_does_not_listen_on_tcp(server: LocalServer) -> None:
    server.start()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host="127.0.0.1", port=server.port, user="landrelease", connect_timeout=3
        ).close()


def test_start_again_is_a_noop(server: LocalServer) -> None:
    server.start()
    pid_before = server.status()
    server.start()
    assert server.status() == pid_before


def test_ensure_database_and_postgis(server: LocalServer) -> None:
    name = "lr test-db"  # needs quoting: proves the identifier is never pasted into SQL
    server.ensure_database(name)
    server.ensure_database(name)  # idempotent

    url = server.url(name)
    assert make_url(url).database == name
    assert _scalar(url, "SELECT 1") == 1
    assert _scalar(url, "SELECT current_database()") == name
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            version = conn.execute(text("SELECT postgis_version()")).scalar_one()
    finally:
        engine.dispose()
    assert isinstance(version, str)
    assert version

    server.drop_database(name)
    server.drop_database(name)  # already gone: still fine
    with psycopg.connect(
        host=str(server.run_dir), port=server.port, user="landrelease", dbname="postgres"
    ) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert row is None


def test_stop_and_restart_keeps_data(server: LocalServer) -> None:
    server.ensure_database("keep")
    url = server.url("keep")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS kept (v integer)"))
            conn.execute(text("INSERT INTO kept VALUES (42)"))
    finally:
        engine.dispose()

    server.stop()
    assert not server.is_running()
    assert server.status().startswith("stopped")
    server.stop()  # already stopped: no-op

    server.start()
    assert server.is_running()
    assert _scalar(url, "SELECT sum(v) FROM kept") == 42


def test_missing_binaries_name_a_package(public_tmp: Path) -> None:
    empty = public_tmp / "empty-bin"
    empty.mkdir()
    local = LocalServer(data_dir=public_tmp / "data", port=_free_port(), bindir=empty)
    with pytest.raises(ConfigurationError, match=r"postgresql") as info:
        local.start()
    assert "apt-get install" in str(info.value)
    assert not local.pgdata.exists()


def test_search_without_path(public_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing on PATH, Debian's /usr/lib/postgresql/NN/bin is still found (Debian keeps
    the server programs off PATH); without it the search fails naming a package."""
    monkeypatch.setenv("PATH", str(public_tmp))
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if debian:
        assert find_postgres_bindir().parent.name.replace(".", "").isdigit()
    else:
        with pytest.raises(ConfigurationError, match=r"postgresql"):
            find_postgres_bindir()


def test_url_quotes_socket_path() -> None:
    local = LocalServer(data_dir=Path("/tmp/a dir&more/x"), port=55555)
    url = make_url(local.url("db"))
    assert url.drivername == "postgresql+psycopg"
    assert url.username == "landrelease"
    assert url.database == "db"
    assert url.query["host"] == "/tmp/a dir&more/x/run"
    assert url.query["port"] == "55555"


def test_from_settings() -> None:
    settings = Settings(
        database_url=None, data_dir=Path("/tmp/lr-x"), port=55556, database="landrelease"
    )
    local = LocalServer.from_settings(settings)
    assert local.data_dir == Path("/tmp/lr-x")
    assert local.port == 55556


def test_status_of_an_absent_cluster(public_tmp: Path) -> None:
    local = LocalServer(data_dir=public_tmp / "nothing", port=_free_port())
    assert local.status().startswith("not initialised")
    assert not local.is_running()
    local.stop()  # nothing to stop
    local.drop_database("whatever")  # nothing to drop, and no cluster gets created
    assert not local.data_dir.exists()


def test_too_long_socket_path_is_explained(public_tmp: Path) -> None:
    _require_postgres()
    local = LocalServer(data_dir=public_tmp / ("d" * 120), port=_free_port())
    with pytest.raises(ConfigurationError, match="LANDRELEASE_DATA_DIR"):
        local.start()
