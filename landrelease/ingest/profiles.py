"""Import profiles: which source field holds what landrelease needs, per source system.

A profile is data (YAML in ``etl/``), checked against ``etl/profile.schema.json``: the source
field names of the hazard ID, class, contamination, activity type and reference, organisation,
dates, item counts and marking, how coded values translate, and the limits the import applies.
Adding a source system means adding a profile, not code.

Field names match case-insensitively, and a group prefix (``survey/hazard_id`` in a Kobo
export) is ignored, because exports of one form differ in exactly these ways.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import jsonschema
import yaml

from landrelease.errors import LandReleaseError
from landrelease.geometry import MAX_REPAIR_CHANGE, to_crs
from landrelease.vocabulary import Contamination, ItemType

#: Environment variable naming the profile folder, for installs without the source tree.
ETL_ENV = "LANDRELEASE_ETL"

#: The profile used when none is named.
DEFAULT_PROFILE = "generic"

#: The contamination type of a new hazard whose file and profile state none.
UNSTATED_CONTAMINATION = Contamination.ERW

SCHEMA_FILE = "profile.schema.json"

#: What a feature can be: a new hazard, or the result of one kind of field activity.
ACTIVITY_TYPES = ("HAZARD", "NTS", "TS", "CLEARANCE", "CONFIRMATION", "MARKING")


def etl_dir() -> Path:
    """The profile folder: ``$LANDRELEASE_ETL``, else ``etl/`` beside the package."""
    configured = os.environ.get(ETL_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "etl"


@lru_cache(maxsize=1)
def _schema() -> dict[str, object]:
    path = etl_dir() / SCHEMA_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LandReleaseError(f"profile schema {path} cannot be read: {exc}") from exc


@dataclass(frozen=True)
class Limits:
    """Thresholds an import applies; each refusal names the limit it crossed."""

    min_area_m2: float = 10.0
    max_repair_change: float = MAX_REPAIR_CHANGE
    max_misclosure_percent: float = 1.0
    partly_outside: str = "warn"


@dataclass(frozen=True)
class Columns:
    """The source field chosen for each canonical name present in one file."""

    chosen: Mapping[str, str]

    def get(self, attributes: Mapping[str, object], canonical: str) -> object:
        """The value of ``canonical`` in a feature, None when the file has no such field."""
        name = self.chosen.get(canonical)
        return None if name is None else attributes.get(name)

    def has(self, canonical: str) -> bool:
        """True when the file has a field for ``canonical``."""
        return canonical in self.chosen


@dataclass(frozen=True)
class Profile:
    """A loaded, schema-checked import profile."""

    name: str
    description: str
    path: Path
    fields: Mapping[str, tuple[str, ...]]
    defaults: Mapping[str, str]
    values: Mapping[str, Mapping[str, str]]
    items: Mapping[ItemType, Mapping[str, tuple[str, ...]]]
    date_formats: tuple[str, ...]
    geometry: Mapping[str, tuple[str, ...]]
    wkt_crs: str | int | None
    coordinates_crs: str | int | None
    limits: Limits

    def columns(self, available: Iterable[str]) -> Columns:
        """Match the profile's names to a file's fields (canonical and item names alike)."""
        lookup: dict[str, str] = {}
        for name in available:
            for key in (name.casefold(), name.replace(":", "/").rsplit("/", 1)[-1].casefold()):
                lookup.setdefault(key, name)
        chosen: dict[str, str] = {}
        for canonical, candidates in self._all_names().items():
            for candidate in candidates:
                if candidate.casefold() in lookup:
                    chosen[canonical] = lookup[candidate.casefold()]
                    break
        return Columns(chosen)

    def _all_names(self) -> dict[str, tuple[str, ...]]:
        names = dict(self.fields)
        for item, counts in self.items.items():
            for which, candidates in counts.items():
                names[f"items.{item.value}.{which}"] = candidates
        names.update({f"geometry.{k}": v for k, v in self.geometry.items()})
        return names

    def coded(self, kind: str, raw: object) -> str | None:
        """The landrelease value of a coded field (class, contamination, activity type).

        None when the source value is empty and there is no default; raises ``ValueError``
        naming the accepted values when it is not understood.
        """
        text = "" if raw is None else str(raw).strip()
        if not text:
            return self.defaults.get(kind)
        mapping = self.values.get(kind, {})
        known = _known_values()[kind]
        folded = text.casefold()
        if folded in mapping:
            return mapping[folded]
        for value in known:
            if value.casefold() == folded:
                return value
        accepted = sorted({*mapping, *(v.casefold() for v in known)})
        what = kind.replace("_", " ")
        raise ValueError(f"{text!r} is not a known {what} ({', '.join(accepted)})")

    def parse_date(self, raw: object) -> dt.date:
        """A date from ISO 8601 text (any time part ignored) or one of the profile's formats."""
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        text = str(raw).strip()
        iso = _iso_date(text)
        if iso is not None:
            return iso
        for fmt in self.date_formats:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        formats = ", ".join(["YYYY-MM-DD", *self.date_formats])
        raise ValueError(f"{text!r} is not a date ({formats}){_serial_hint(raw)}")


@lru_cache(maxsize=1)
def _known_values() -> dict[str, tuple[str, ...]]:
    """The coded values the schema allows: the schema is the one list of them."""
    defs = _schema()["$defs"]
    return {
        kind: tuple(defs[kind]["enum"])  # type: ignore[index]
        for kind in ("activity_type", "hazard_class", "contamination")
    }


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def problems_in(document: object) -> list[str]:
    """Every way ``document`` (a parsed profile) breaks the schema or cannot be used."""
    validator = jsonschema.Draft202012Validator(_schema())
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]
    if problems or not isinstance(document, dict):
        return problems
    geometry = document.get("geometry", {})
    for key in ("wkt_crs", "coordinates_crs"):
        if geometry.get(key) is not None:
            try:
                to_crs(geometry[key])
            except LandReleaseError as exc:
                problems.append(f"geometry/{key}: {exc}")
    for fmt in document.get("dates", {}).get("formats", []):
        try:
            dt.datetime.strptime(dt.date(2024, 5, 17).strftime(fmt), fmt)
        except ValueError as exc:
            problems.append(f"dates/formats: {fmt!r} does not round-trip a date ({exc})")
    return problems


def _parse(path: Path) -> object:
    try:
        data = path.read_bytes()
        return yaml.safe_load(data.decode("utf-8"))
    except OSError as exc:
        raise LandReleaseError(f"profile {path} cannot be read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise LandReleaseError(_not_utf8(path, data, exc)) from None
    except yaml.YAMLError as exc:
        raise LandReleaseError(f"profile {path.name} is not valid YAML: {exc}") from exc


def _not_utf8(path: Path, data: bytes, error: UnicodeDecodeError) -> str:
    """Where a profile stops being UTF-8: an editor saved it in a Windows code page."""
    line_start = data.rfind(b"\n", 0, error.start) + 1
    line_end = data.find(b"\n", error.start)
    line = data[line_start : line_end if line_end >= 0 else len(data)].rstrip(b"\r")
    number = data.count(b"\n", 0, error.start) + 1
    shown = line.decode("utf-8", errors="backslashreplace")
    return (
        f"profile {path.name} is not UTF-8 text: byte 0x{data[error.start]:02X} at line "
        f"{number}, column {error.start - line_start + 1} (byte offset {error.start}), in "
        f'"{shown}"; profiles are read as UTF-8: save the file as UTF-8 in the editor'
    )


def validate_profile(path: str | Path) -> list[str]:
    """Problems of the profile file at ``path`` (empty when it is usable)."""
    return check_profile(path)[0]


def check_profile(path: str | Path) -> tuple[list[str], list[str]]:
    """The problems of the profile file at ``path``, and, when it has none, the notes on what
    it will do that its author may not expect (see :func:`_notes_on`)."""
    document = _parse(Path(path))
    problems = problems_in(document)
    if problems or not isinstance(document, dict):
        return problems, []
    return [], _notes_on(document)


def _notes_on(document: dict[str, Any]) -> list[str]:
    """What a valid profile will do that its author may not expect.

    A profile without a default activity type is valid (a KoboToolbox form always asks for
    it), but it refuses every feature of a file that has none of its activity-type fields;
    the officer should learn that from ``profile validate``, not from a refused import.
    """
    defaults = document.get("defaults") or {}
    fields = document.get("fields") or {}
    notes = []
    if "activity_type" not in defaults:
        names = ", ".join(_names(fields["activity_type"])) if "activity_type" in fields else ""
        where = f"none of its activity-type fields ({names})" if names else "no activity type"
        notes.append(
            f"defaults/activity_type is not set: every feature of a file with {where} is "
            "refused; set it to HAZARD to read such files as new hazards"
        )
    if "contamination" not in defaults:
        notes.append(
            "defaults/contamination is not set: a new hazard with no contamination type is "
            f"recorded as {UNSTATED_CONTAMINATION.value}"
        )
    return notes


def profile_path(name_or_path: str | Path) -> Path:
    """The file of a profile named ``name`` in ``etl/``, or the path given."""
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise LandReleaseError(f"no such profile file: {path}")
        return path
    candidate = etl_dir() / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = ", ".join(available_profiles()) or "none"
        raise LandReleaseError(f"no import profile {name_or_path!r}; profiles are {known}")
    return candidate


def available_profiles() -> list[str]:
    """Names of the profiles in ``etl/``."""
    folder = etl_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_profile(name_or_path: str | Path = DEFAULT_PROFILE) -> Profile:
    """Load and check a profile by name (``etl/<name>.yaml``) or path."""
    path = profile_path(name_or_path)
    document = _parse(path)
    problems = problems_in(document)
    if problems:
        raise LandReleaseError(f"profile {path.name} is not valid:\n  " + "\n  ".join(problems))
    document = cast(dict[str, Any], document)  # the schema requires an object
    geometry = dict(document.get("geometry", {}))
    return Profile(
        name=document["name"],
        description=" ".join(str(document["description"]).split()),
        path=path,
        fields={k: _names(v) for k, v in document["fields"].items()},
        defaults=dict(document.get("defaults", {})),
        values={
            kind: {str(k).casefold(): v for k, v in mapping.items()}
            for kind, mapping in document.get("values", {}).items()
        },
        items={
            ItemType(item): {which: _names(v) for which, v in counts.items()}
            for item, counts in document.get("items", {}).items()
        },
        date_formats=tuple(document.get("dates", {}).get("formats", ())),
        geometry={
            k: _names(v) for k, v in geometry.items() if k not in ("wkt_crs", "coordinates_crs")
        },
        wkt_crs=geometry.get("wkt_crs"),
        coordinates_crs=geometry.get("coordinates_crs", "EPSG:4326"),
        limits=Limits(**document.get("limits", {})),
    )


def _iso_date(text: str) -> dt.date | None:
    """The date of an ISO 8601 date or date-time (``2024-03-12``, ``2024/03/12``,
    ``2024-03-12T10:15:00.000+01:00`` as Kobo writes it), or None.

    The whole text must be a date or a date and a time: ``2024-03-123`` or ``2024-03-12 not
    sure`` are not dates, however well they start.
    """
    iso = text.replace("/", "-") if len(text) >= 10 and text[4] == "/" else text
    if len(iso) == 10:
        try:
            return dt.date.fromisoformat(iso)
        except ValueError:
            return None
    if len(iso) > 10 and iso[10] in "T ":
        stamp = iso[:-1] + "+00:00" if iso.endswith("Z") else iso  # Python 3.10 reads no Z
        try:
            return dt.datetime.fromisoformat(stamp).date()
        except ValueError:
            return None
    return None


#: Day numbers that spreadsheets use for dates from 1954 to 2064 (day 1 is 1900-01-01).
_SERIALS = range(20_000, 60_000)


def _serial_hint(raw: object) -> str:
    """A hint when a value is a spreadsheet's day number: a date cell that lost its format."""
    try:
        number = float(str(raw).strip())
    except ValueError:
        return ""
    if number != int(number) or int(number) not in _SERIALS:
        return ""
    as_date = dt.date(1899, 12, 30) + dt.timedelta(days=int(number))
    return (
        f"; {int(number)} looks like a spreadsheet day number ({as_date}): format the column "
        "as dates (YYYY-MM-DD) in the spreadsheet and export again"
    )
