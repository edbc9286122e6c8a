"""Text that GDAL would cut short at a NUL character, found in the bytes before it is lost.

GDAL hands text over as C strings, which end at the first NUL. A hazard ID written
``BA-0\\u000012`` in a GeoJSON file (or with a raw zero byte, which GDAL's JSON reader lets
through) reached landrelease as ``BA-0``, and was accepted as that: a silent change of the ID.
In a CSV, the zero byte ends the whole line, and the officer was told that the row had no class,
no date and no geometry. A NUL is never part of a name or an ID (the checks refuse control
characters), so the text must reach the checks whole, or the file must be refused saying where.

- GeoJSON: the values holding a NUL are read again with Python's own JSON parser and put back
  whole, so the checks name the feature, the field and the character, as for any control
  character.
- CSV: the file is refused with the line and column of the byte: GDAL lost the rest of the
  line, and there is nothing whole to check.
"""

from __future__ import annotations

import json
import mmap
import re
from pathlib import Path

from landrelease.errors import LandReleaseError

#: The JSON escape of NUL, not itself escaped (an even run of backslashes before it).
_JSON_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def nul_at(path: Path, *, json_escapes: bool = False) -> int | None:
    """Offset of the first NUL in the file's bytes (also ``\\u0000`` in JSON), or None.

    The file is mapped, not read: a national GeoJSON is scanned at memory speed.
    """
    if path.stat().st_size == 0:
        return None
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        found = [data.find(b"\x00")]
        if json_escapes and data.find(b"\\u0000") >= 0:
            escape = _JSON_ESCAPE.search(data)  # type: ignore[call-overload]
            found.append(escape.end() - 6 if escape else -1)
    hits = [offset for offset in found if offset >= 0]
    return min(hits) if hits else None


def _line_and_column(path: Path, offset: int) -> tuple[int, int]:
    with path.open("rb") as stream:
        head = stream.read(offset)
    return head.count(b"\n") + 1, offset - (head.rfind(b"\n") + 1) + 1


def _refusal(label: str, path: Path, offset: int, why: str) -> LandReleaseError:
    line, column = _line_and_column(path, offset)
    return LandReleaseError(
        f"{label}: line {line}, column {column} holds a NUL character (code 0), {why}; remove "
        "it and import again"
    )


def refuse_nul_in_table(label: str, path: Path) -> None:
    """Refuse a CSV holding a zero byte, saying where: reading it loses the rest of its line."""
    offset = nul_at(path)
    if offset is not None:
        raise _refusal(label, path, offset, "where reading stops and the rest of its line is lost")


def restore_nul_text(
    label: str, path: Path, values: dict[str, list[object]], count: int, codec: str | None
) -> None:
    """Put back whole the GeoJSON property values GDAL cut at a NUL, in ``values`` (by field,
    ``count`` features); refuse the file, saying where, when they cannot be matched to it."""
    offset = nul_at(path, json_escapes=True)
    if offset is None:
        return
    cannot = _refusal(label, path, offset, "and the text holding it cannot be read whole")
    try:
        document = json.loads(path.read_bytes().decode(codec or "utf-8-sig"), strict=False)
        found = document["features"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise cannot from exc
    if not isinstance(found, list) or len(found) != count:
        raise cannot
    restored = 0
    for position, feature in enumerate(found):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        for name, value in (properties or {}).items():
            if isinstance(value, str) and "\x00" in value:
                if name not in values:
                    raise cannot
                values[name][position] = value
                restored += 1
    if not restored:  # the NUL is elsewhere (a name of a field, a geometry): say where
        raise cannot
