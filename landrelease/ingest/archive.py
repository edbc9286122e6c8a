"""Unpack the zip files field teams send (zipped shapefiles, KMZ) without trusting their names.

A zip member is a path chosen by whoever built the archive: ``../../.bashrc`` or ``/etc/cron.d/x``
would write outside the folder if extracted naively (zip slip), a symbolic link would let a
later member write through it, and a few kilobytes can inflate to gigabytes. Every member is
therefore checked before anything is written, into a fresh temporary folder that is removed when
the import is done.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from landrelease.errors import LandReleaseError

#: Archives are refused when they would unpack to more than this (a zip bomb, or not field data).
MAX_UNPACKED_BYTES = 4 * 1024**3

#: ... or hold more members than this.
MAX_MEMBERS = 20_000

_CHUNK = 1024 * 1024


def is_archive(path: Path) -> bool:
    """True for files read by unpacking them first: ``.zip`` and ``.kmz``."""
    return path.suffix.lower() in (".zip", ".kmz")


def _safe_name(info: zipfile.ZipInfo, archive: str) -> PurePosixPath | None:
    """The member's relative path, None for a folder; refuses names that escape the folder."""
    name = info.filename.replace("\\", "/")
    member = PurePosixPath(name)
    if (
        name.startswith("/")
        or ":" in member.parts[0]
        or any(part == ".." for part in member.parts)
        or "\x00" in name
    ):
        raise LandReleaseError(
            f"{archive}: member {info.filename!r} points outside the archive folder; refused"
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise LandReleaseError(f"{archive}: member {info.filename!r} is a symbolic link; refused")
    if info.is_dir() or not member.parts:
        return None
    return member


def extract(path: Path, target: Path) -> list[Path]:
    """Extract every member of the zip ``path`` into ``target``; returns the files written.

    All names are checked first, so a bad archive writes nothing; sizes are checked while
    writing, since the sizes a zip declares can lie.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LandReleaseError(f"{path.name}: not a readable zip archive ({exc})") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise LandReleaseError(f"{path.name}: {len(infos)} members, more than {MAX_MEMBERS}")
        members = [(info, _safe_name(info, path.name)) for info in infos]
        root = target.resolve()
        written: list[Path] = []
        total = 0
        for info, member in members:
            if member is None:
                continue
            destination = (root / member).resolve()
            if not destination.is_relative_to(root):
                raise LandReleaseError(
                    f"{path.name}: member {info.filename!r} points outside the archive folder"
                )
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, destination.open("wb") as sink:
                while chunk := source.read(_CHUNK):
                    total += len(chunk)
                    if total > MAX_UNPACKED_BYTES:
                        raise LandReleaseError(
                            f"{path.name}: unpacks to more than {MAX_UNPACKED_BYTES // 1024**3} "
                            "GiB; refused"
                        )
                    sink.write(chunk)
            written.append(destination)
    return written


@contextmanager
def unpacked(path: Path) -> Iterator[tuple[Path, list[Path]]]:
    """The temporary folder the archive ``path`` is unpacked to (removed afterwards), and the
    files in it; a file's path relative to the folder is its path inside the archive."""
    folder = Path(tempfile.mkdtemp(prefix="landrelease-import-"))
    try:
        yield folder.resolve(), extract(path, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
