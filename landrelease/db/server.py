"""A private PostgreSQL + PostGIS cluster that landrelease creates and starts on demand.

Without ``LANDRELEASE_DATABASE_URL`` an officer should still be able to run landrelease on a
laptop: no database administrator, no ``createuser``, no editing of ``pg_hba.conf``. So
landrelease keeps a cluster of its own in ``LANDRELEASE_DATA_DIR``::

    data_dir/
        pgdata/          the cluster (initdb), trust authentication, superuser "landrelease"
        run/             the unix socket directory, mode 0700: only its owner (and root) connect
        postgres.log     the server log, shown when the server fails to start
        .lock            serialises start/stop between concurrent landrelease processes

The server listens on no TCP address at all (``listen_addresses = ''``): trust authentication
is safe only because the socket directory is private. The port is still configured because it
names the socket file (``run/.s.PGSQL.<port>``) and is part of the connection URL.

PostgreSQL refuses to run as root, so when landrelease runs as root the server programs run as
the unprivileged ``postgres`` user (or ``nobody``); as a normal user they run as that user.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import errors, sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL

from landrelease.config import Settings
from landrelease.errors import ConfigurationError

SUPERUSER = "landrelease"
"""The cluster's bootstrap superuser, so the URL never depends on who ran initdb."""

MAINTENANCE_DATABASE = "postgres"

START_TIMEOUT_SECONDS = 60
"""How long ``pg_ctl -w`` waits for the server; crash recovery after a power cut can be slow."""

_COMMAND_TIMEOUT_SECONDS = START_TIMEOUT_SECONDS + 60
"""Hard limit on any one server program, so a wedged pg_ctl cannot hang landrelease forever."""

_LOG_TAIL_LINES = 20

_UNIX_SOCKET_PATH_MAX = 107
"""``sizeof(sockaddr_un.sun_path) - 1`` on Linux; PostgreSQL refuses longer socket paths."""

_SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")

_CONF_BEGIN = "# --- landrelease: managed block, rewritten on every start; do not edit ---"
_CONF_END = "# --- end of landrelease block ---"

_INSTALL_HINT = (
    "On Debian/Ubuntu install them with `apt-get install postgresql postgis` "
    "(or the versioned `postgresql-15 postgresql-15-postgis-3`), or run scripts/system-deps.sh; "
    "elsewhere install the PostgreSQL server and PostGIS 3 packages. Alternatively set "
    "LANDRELEASE_DATABASE_URL to use an existing PostGIS database."
)


@dataclass(frozen=True)
class _Tools:
    """The server programs of one PostgreSQL installation, checked to include PostGIS."""

    bindir: Path
    major: int

    @property
    def initdb(self) -> str:
        return str(self.bindir / "initdb")

    @property
    def pg_ctl(self) -> str:
        return str(self.bindir / "pg_ctl")


@dataclass(frozen=True)
class _Identity:
    """Who the server programs run as: ``switch`` is False when that is the current user."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str
    switch: bool


def _has_server_programs(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _SERVER_PROGRAMS)


def _pg_config_value(pg_config: str, option: str) -> Path | None:
    """One ``pg_config`` answer, or None when pg_config is unusable (a stray libpq-dev one)."""
    try:
        result = subprocess.run(
            [pg_config, option], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    value = result.stdout.strip()
    return Path(value) if result.returncode == 0 and value else None


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort ``/usr/lib/postgresql/9.6/bin`` below ``/usr/lib/postgresql/15/bin``."""
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def find_postgres_bindir(bindir: Path | None = None) -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Looked for in this order because it goes from the most to the least deliberate choice:
    ``pg_config --bindir`` (the installation the user put first on PATH), the newest Debian
    ``/usr/lib/postgresql/NN/bin`` (Debian keeps the server programs off PATH), then ``pg_ctl``
    on PATH (other distributions, source builds). ``bindir`` restricts the search to one
    directory, for callers that know better and for tests.
    """
    if bindir is not None:
        candidates = [Path(bindir)]
    else:
        candidates = []
        pg_config = shutil.which("pg_config")
        if pg_config:
            reported = _pg_config_value(pg_config, "--bindir")
            if reported is not None:
                candidates.append(reported)
        candidates.extend(
            sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
        )
        for program in ("pg_ctl", "initdb"):
            found = shutil.which(program)
            if found:
                # Resolve symlinks such as /usr/local/bin/pg_ctl -> /usr/lib/postgresql/15/bin:
                # pg_ctl finds postgres next to its real location, and so must we.
                candidates.append(Path(found).resolve().parent)
    for candidate in candidates:
        if _has_server_programs(candidate):
            return candidate.absolute()
    where = f" in {bindir}" if bindir is not None else ""
    raise ConfigurationError(
        f"The PostgreSQL server programs ({', '.join(_SERVER_PROGRAMS)}) were not found{where}. "
        f"landrelease needs them to run its own database. {_INSTALL_HINT}"
    )


def _server_major(bindir: Path) -> int:
    """The major version of the server in ``bindir``, from ``postgres --version``."""
    try:
        result = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError as exc:
        raise ConfigurationError(f"Cannot run {bindir / 'postgres'}: {exc}") from exc
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", result.stdout)
    if result.returncode != 0 or match is None:
        raise ConfigurationError(
            f"Cannot tell the version of {bindir / 'postgres'}: "
            f"{(result.stdout + result.stderr).strip()!r}. {_INSTALL_HINT}"
        )
    return int(match.group(1))


def _sharedir_candidates(bindir: Path, major: int) -> list[Path]:
    """Where this installation's extension files may live, most authoritative first."""
    candidates: list[Path] = []
    own = bindir / "pg_config"
    if os.access(own, os.X_OK):
        reported = _pg_config_value(str(own), "--sharedir")
        if reported is not None:
            candidates.append(reported)
    on_path = shutil.which("pg_config")
    if on_path:
        # Only trust the pg_config on PATH if it describes the same installation.
        reported_bindir = _pg_config_value(on_path, "--bindir")
        if reported_bindir is not None and reported_bindir.resolve() == bindir.resolve():
            reported = _pg_config_value(on_path, "--sharedir")
            if reported is not None:
                candidates.append(reported)
    candidates.append(Path(f"/usr/share/postgresql/{major}"))
    candidates.append(bindir.parent / "share" / "postgresql")
    candidates.append(bindir.parent / "share")
    return candidates


def _check_postgis(bindir: Path, major: int) -> None:
    """Fail early, with the package to install, when PostGIS is missing for this server.

    Without this check the problem would surface much later as a bare
    ``extension "postgis" is not available`` from the first migration.
    """
    candidates = _sharedir_candidates(bindir, major)
    for sharedir in candidates:
        if (sharedir / "extension" / "postgis.control").is_file():
            return
    looked = ", ".join(dict.fromkeys(str(path / "extension") for path in candidates))
    raise ConfigurationError(
        f"PostGIS is not installed for PostgreSQL {major} (no postgis.control in {looked}). "
        f"On Debian/Ubuntu: `apt-get install postgresql-{major}-postgis-3` "
        f"(or run scripts/system-deps.sh); elsewhere install PostGIS 3 for PostgreSQL {major}."
    )


def _conf_string(value: str) -> str:
    """Quote a value for postgresql.conf, whose strings double single quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass
class LocalServer:
    """landrelease's own PostgreSQL cluster in ``data_dir``, reachable over a unix socket.

    ``bindir`` pins the directory of the PostgreSQL programs; by default they are searched for
    (see :func:`find_postgres_bindir`). Nothing touches the disk or runs until a method needs
    to, so building a ``LocalServer`` is cheap and never fails for a missing installation.
    """

    data_dir: Path
    port: int
    bindir: Path | None = None
    _tools: _Tools | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The socket directory is written into postgresql.conf, and postgres resolves relative
        # paths from inside pgdata, so only an absolute path means the same thing to both.
        self.data_dir = Path(self.data_dir).expanduser().absolute()
        if self.bindir is not None:
            self.bindir = Path(self.bindir)
        if not 1 <= int(self.port) <= 65535:
            raise ConfigurationError(f"Port {self.port} is not between 1 and 65535.")
        self.port = int(self.port)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalServer:
        """The cluster described by ``LANDRELEASE_DATA_DIR`` and ``LANDRELEASE_PG_PORT``."""
        return cls(data_dir=settings.data_dir, port=settings.port)

    # -- layout -----------------------------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def _staging(self) -> Path:
        """initdb works here and the result is renamed to pgdata, so pgdata is never half-made."""
        return self.data_dir / "pgdata.init"

    @property
    def _lock_file(self) -> Path:
        return self.data_dir / ".lock"

    def is_initialised(self) -> bool:
        """True once initdb has completed (an interrupted initdb leaves only ``pgdata.init``)."""
        return (self.pgdata / "PG_VERSION").is_file()

    # -- public operations ------------------------------------------------------------------

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server, quoted by SQLAlchemy itself.

        The socket directory travels in the ``host`` query parameter because a URL's host
        part cannot hold a path.
        """
        url = URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            database=database,
            query={"host": str(self.run_dir), "port": str(self.port)},
        )
        return url.render_as_string(hide_password=False)

    def start(self) -> None:
        """Create the cluster if needed and start the server unless it is already running.

        Safe to call before every command: when the server is up this costs one ``pg_ctl
        status``. A stale ``postmaster.pid`` left by a crash is handled by pg_ctl/postgres.
        """
        tools = self._find_tools()
        self._check_socket_path()
        identity = self._identity()
        if identity.switch:
            self._check_traversable(identity)
        with self._locked():
            identity = self._identity()
            if not self.is_initialised():
                self._initialise(tools, identity)
            if self._running(tools, identity):
                self._check_running_matches()
                return
            self._prepare_runtime(identity)
            self._write_managed_conf(self.pgdata / "postgresql.conf")
            result = self._run(
                identity,
                [
                    tools.pg_ctl,
                    "start",
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_SECONDS),
                ],
            )
            if result.returncode != 0:
                raise ConfigurationError(
                    f"PostgreSQL in {self.pgdata} did not start "
                    f"(pg_ctl exit {result.returncode}): {_output(result)}\n"
                    f"Last lines of {self.log_file}:\n{self._log_tail()}"
                )

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are rolled back), if it is running."""
        if not self.is_initialised():
            return
        tools = self._find_tools()
        with self._locked():
            identity = self._identity()
            if not self._running(tools, identity):
                return
            result = self._run(
                identity,
                [
                    tools.pg_ctl,
                    "stop",
                    "-D",
                    str(self.pgdata),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(START_TIMEOUT_SECONDS),
                ],
            )
            if result.returncode != 0 and self._running(tools, identity):
                raise ConfigurationError(
                    f"PostgreSQL in {self.pgdata} did not stop: {_output(result)}\n"
                    f"Last lines of {self.log_file}:\n{self._log_tail()}"
                )

    def is_running(self) -> bool:
        """True when a postmaster is alive for this cluster (``pg_ctl status``)."""
        if not self.is_initialised():
            return False
        return self._running(self._find_tools(), self._identity())

    def status(self) -> str:
        """One line for humans, e.g. ``running (pid 12) on socket /x/run port 54329, data /x``."""
        if not self.is_initialised():
            return f"not initialised (data {self.data_dir})"
        if not self.is_running():
            return f"stopped (data {self.data_dir})"
        pid, port, socket_dir = self._postmaster_info()
        return f"running (pid {pid}) on socket {socket_dir} port {port}, data {self.data_dir}"

    def ensure_database(self, name: str) -> None:
        """Start the server and create database ``name`` unless it exists."""
        self.start()
        with self._maintenance_connection() as conn:
            if self._database_exists(conn, name):
                return
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except errors.DuplicateDatabase:
                # Another process created it between our check and our CREATE: same outcome.
                return

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions first.

        A cluster that was never initialised holds no database, so there is nothing to start.
        """
        if not self.is_initialised():
            return
        self.start()
        with self._maintenance_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- installation -----------------------------------------------------------------------

    def _find_tools(self) -> _Tools:
        """Locate the server programs and PostGIS once per instance; both are slow to ask."""
        if self._tools is None:
            bindir = find_postgres_bindir(self.bindir)
            major = _server_major(bindir)
            _check_postgis(bindir, major)
            self._tools = _Tools(bindir=bindir, major=major)
        return self._tools

    def _check_socket_path(self) -> None:
        socket_path = self.run_dir / f".s.PGSQL.{self.port}"
        if len(os.fsencode(socket_path)) > _UNIX_SOCKET_PATH_MAX:
            raise ConfigurationError(
                f"The socket path {socket_path} is longer than the {_UNIX_SOCKET_PATH_MAX} "
                "bytes a unix socket allows; set LANDRELEASE_DATA_DIR to a shorter directory."
            )

    # -- identity ---------------------------------------------------------------------------

    def _identity(self) -> _Identity:
        """Who runs the server programs.

        As a normal user: that user, who must own any existing cluster (PostgreSQL insists the
        data directory belongs to the server user). As root: the owner of an existing cluster,
        else ``postgres``, else ``nobody`` -- initdb and postgres refuse to run as root.
        """
        euid = os.geteuid()
        owner = self._path_owner(self.pgdata)
        if euid != 0:
            if owner is not None and owner != euid:
                raise ConfigurationError(
                    f"The cluster in {self.pgdata} belongs to {_user_name(owner)}, not to you; "
                    "run landrelease as that user (or as root), or set LANDRELEASE_DATA_DIR "
                    "to a directory of your own."
                )
            entry = pwd.getpwuid(euid)
            return _Identity(
                name=entry.pw_name,
                uid=euid,
                gid=os.getegid(),
                groups=tuple(os.getgroups()),
                home=entry.pw_dir,
                switch=False,
            )
        if owner == 0:
            raise ConfigurationError(
                f"The cluster in {self.pgdata} is owned by root, which PostgreSQL refuses to "
                "run as; remove it or chown it to the postgres user."
            )
        if owner is not None:
            try:
                entry = pwd.getpwuid(owner)
            except KeyError:
                # The owner has no passwd entry (e.g. a uid from another container image):
                # run as that uid with the directory's group, which is all postgres needs.
                gid = self.pgdata.stat().st_gid
                return _Identity(str(owner), owner, gid, (gid,), "/", switch=True)
        else:
            entry = _unprivileged_user()
        groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
        return _Identity(
            name=entry.pw_name,
            uid=entry.pw_uid,
            gid=entry.pw_gid,
            groups=groups,
            home=entry.pw_dir,
            switch=True,
        )

    @staticmethod
    def _path_owner(path: Path) -> int | None:
        try:
            return path.stat().st_uid
        except FileNotFoundError:
            return None

    # -- filesystem -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise start/stop/initdb between landrelease processes sharing ``data_dir``.

        Without it two commands started together could both run initdb or pg_ctl start.
        """
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            # O_RDONLY suffices for flock and works even if another user created the file.
            fd = os.open(self._lock_file, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot use {self.data_dir} for the database: {exc}. "
                "Set LANDRELEASE_DATA_DIR to a directory you can write to."
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _check_traversable(self, identity: _Identity) -> None:
        """As root, make sure the server user can reach data_dir through every parent.

        Root can create a data directory under, say, /root (mode 700) that postgres cannot
        enter; initdb would then fail with a confusing message, so say so plainly here --
        once before anything is created, and again once data_dir exists.
        """
        for directory in [*reversed(self.data_dir.parents), self.data_dir]:
            try:
                st = directory.stat()
            except FileNotFoundError:
                # Not created yet: start() checks again once it exists.
                break
            if st.st_uid == identity.uid:
                allowed = bool(st.st_mode & stat.S_IXUSR)
            elif st.st_gid in identity.groups or st.st_gid == identity.gid:
                allowed = bool(st.st_mode & stat.S_IXGRP)
            else:
                allowed = bool(st.st_mode & stat.S_IXOTH)
            if not allowed:
                raise ConfigurationError(
                    f"The database server runs as user {identity.name!r}, who cannot enter "
                    f"{directory} (mode {stat.filemode(st.st_mode)}), so it cannot reach "
                    f"{self.data_dir}. Set LANDRELEASE_DATA_DIR to a directory outside it, "
                    "e.g. /var/lib/landrelease."
                )

    def _owns_data_dir_alone(self) -> bool:
        """True when data_dir holds nothing but what landrelease puts there.

        Only then is it safe for root to hand the directory itself to the server user; a
        shared directory (someone set LANDRELEASE_DATA_DIR=/srv) keeps its owner.
        """
        ours = {
            self.pgdata.name,
            self._staging.name,
            self.run_dir.name,
            self.log_file.name,
            self._lock_file.name,
        }
        return all(entry.name in ours for entry in self.data_dir.iterdir())

    def _prepare_runtime(self, identity: _Identity) -> None:
        """Create the socket directory and log file, owned by the server user.

        Root creates them and hands them over, so the server user never needs write access to
        data_dir itself; the socket directory is 0700 so that only the server user (and root)
        can connect, which is what makes trust authentication acceptable.
        """
        try:
            if identity.switch:
                if self._owns_data_dir_alone():
                    os.chown(self.data_dir, identity.uid, identity.gid)
                self._check_traversable(identity)
            self.run_dir.mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.run_dir, 0o700)
            if not self.log_file.exists():
                self.log_file.touch(mode=0o600)
            if identity.switch:
                os.chown(self.run_dir, identity.uid, identity.gid)
                os.chown(self.log_file, identity.uid, identity.gid)
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot prepare {self.data_dir} for the database server: {exc}. "
                "Set LANDRELEASE_DATA_DIR to a directory you can write to."
            ) from exc

    def _initialise(self, tools: _Tools, identity: _Identity) -> None:
        """initdb into a staging directory, configure it, then rename it to pgdata."""
        self._prepare_runtime(identity)
        staging = self._staging
        try:
            if staging.exists():
                shutil.rmtree(staging)
            staging.mkdir(mode=0o700)
            if identity.switch:
                os.chown(staging, identity.uid, identity.gid)
        except OSError as exc:
            raise ConfigurationError(f"Cannot create {staging}: {exc}") from exc
        # C.UTF-8 gives UTF-8 character classes with byte-order (fast, stable) collation;
        # plain C is the fallback for systems without that locale.
        for locale in ("C.UTF-8", "C"):
            result = self._run(
                identity,
                [
                    tools.initdb,
                    "-D",
                    str(staging),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    f"--locale={locale}",
                ],
            )
            if result.returncode == 0:
                break
        if result.returncode != 0:
            raise ConfigurationError(
                f"initdb failed to create a cluster in {staging}: {_output(result)}"
            )
        self._write_managed_conf(staging / "postgresql.conf")
        staging.rename(self.pgdata)

    def _managed_conf_block(self) -> str:
        settings = {
            # No TCP at all: the only way in is the private socket directory.
            "listen_addresses": "''",
            "unix_socket_directories": _conf_string(str(self.run_dir)),
            "port": str(self.port),
            # A workstation server for one user and the test suite; the default 100 reserves
            # memory for connections nobody will make.
            "max_connections": "50",
        }
        lines = [f"{key} = {value}" for key, value in settings.items()]
        return "\n".join([_CONF_BEGIN, *lines, _CONF_END]) + "\n"

    def _write_managed_conf(self, conf: Path) -> None:
        """Put the landrelease settings at the end of postgresql.conf (later lines win).

        Rewritten before every start, so a changed port or a moved data_dir takes effect on
        the next start instead of leaving the URL and the server disagreeing. Writing in place
        keeps the file's owner when root does it.
        """
        text = conf.read_text(encoding="utf-8")
        pattern = re.compile(
            re.escape(_CONF_BEGIN) + r".*?" + re.escape(_CONF_END) + r"\n?", re.DOTALL
        )
        base = pattern.sub("", text)
        if base and not base.endswith("\n"):
            base += "\n"
        new = base + self._managed_conf_block()
        if new != text:
            conf.write_text(new, encoding="utf-8")

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            return f"(cannot read the log: {exc})"
        return "\n".join(lines[-_LOG_TAIL_LINES:]) or "(the log is empty)"

    # -- server state -----------------------------------------------------------------------

    def _run(self, identity: _Identity, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run a server program as the server user, capturing its output.

        PG* variables are dropped so that a PGDATA or PGPORT meant for another server cannot
        leak in; HOME/USER follow the identity so nothing looks for files in root's home.
        """
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env.update(HOME=identity.home, USER=identity.name, LOGNAME=identity.name)
        try:
            return subprocess.run(
                list(args),
                capture_output=True,
                text=True,
                env=env,
                cwd=str(self.data_dir),
                timeout=_COMMAND_TIMEOUT_SECONDS,
                check=False,
                # extra_groups also drops root's supplementary groups (setgroups), which
                # user=/group= alone would leave in place.
                user=identity.uid if identity.switch else None,
                group=identity.gid if identity.switch else None,
                extra_groups=list(identity.groups) if identity.switch else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise ConfigurationError(
                f"{Path(args[0]).name} did not finish within {_COMMAND_TIMEOUT_SECONDS} s."
                f"\nLast lines of {self.log_file}:\n{self._log_tail()}"
            ) from exc
        except OSError as exc:
            raise ConfigurationError(f"Cannot run {args[0]} as {identity.name}: {exc}") from exc

    def _running(self, tools: _Tools, identity: _Identity) -> bool:
        """``pg_ctl status``: 0 running, 3 not running; anything else is a real problem."""
        result = self._run(identity, [tools.pg_ctl, "status", "-D", str(self.pgdata)])
        if result.returncode == 0:
            return True
        if result.returncode == 3:
            return False
        raise ConfigurationError(
            f"Cannot tell whether PostgreSQL in {self.pgdata} is running: {_output(result)}"
        )

    def _postmaster_info(self) -> tuple[int, int, str]:
        """(pid, port, socket directory) of the running server, from postmaster.pid.

        The file describes the server actually running, which may predate a settings change.
        """
        lines = (self.pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        pid = int(lines[0])
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip() else self.port
        socket_dir = lines[4] if len(lines) > 4 and lines[4].strip() else str(self.run_dir)
        return pid, port, socket_dir

    def _check_running_matches(self) -> None:
        """Refuse to hand out a URL that points where the running server is not listening."""
        try:
            pid, port, socket_dir = self._postmaster_info()
        except (OSError, ValueError, IndexError):
            return
        if port != self.port or Path(socket_dir) != self.run_dir:
            raise ConfigurationError(
                f"The server in {self.pgdata} (pid {pid}) is running on socket {socket_dir} "
                f"port {port}, but landrelease is configured for {self.run_dir} port "
                f"{self.port}. Stop the server and start it again to apply the new settings."
            )

    # -- SQL --------------------------------------------------------------------------------

    def _maintenance_connection(self) -> psycopg.Connection[TupleRow]:
        """A connection to the ``postgres`` database; CREATE/DROP DATABASE need autocommit."""
        return psycopg.connect(
            host=str(self.run_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=MAINTENANCE_DATABASE,
            autocommit=True,
        )

    @staticmethod
    def _database_exists(conn: psycopg.Connection[TupleRow], name: str) -> bool:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return row is not None


def _unprivileged_user() -> pwd.struct_passwd:
    """``postgres`` (Debian's server user) if it exists, else ``nobody``."""
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ConfigurationError(
        "Running as root, landrelease needs an unprivileged user for PostgreSQL, but neither "
        "'postgres' nor 'nobody' exists; create one (`adduser --system postgres`) or run "
        "landrelease as a normal user."
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stderr.strip() or result.stdout.strip() or "(no output)")[-2000:]


__all__ = ["LocalServer", "find_postgres_bindir"]
