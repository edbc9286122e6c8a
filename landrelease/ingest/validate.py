"""Check every feature of a file and say, for each, what is wrong and what was done about it.

One path for every format and profile. Each finding is a :class:`Problem`: the feature's
position and source ID, a stable code, a sentence for the officer, and the action taken
(refused, repaired, skipped as already imported, a warning, or "accepted" for a fact worth
seeing about an accepted feature, such as its traverse's misclosure). A file with any refusal is
not applied at all; the report lists every refusal at once, so the officer fixes the file in one
go.

Geometry goes through :func:`landrelease.geometry.prepare_polygons`, the one validation and
repair path of landrelease, so a polygon accepted here is exactly what the ledger will store.
Checks against the database (hazard IDs and polygons already recorded, activities already
imported, hazards closed or dated later, regions) run inside the import's transaction, in
:func:`check_database`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from typing import Any, TypeVar, overload

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Row, text

from landrelease.db.staging import number_array, text_array
from landrelease.geometry import (
    MIN_AREA_M2,
    CleanPolygon,
    GeometryProblem,
    geodesic_areas_m2,
    polygons_only,
    prepare_polygons,
    to_crs,
)
from landrelease.ingest.encoding import Mojibake, detect
from landrelease.ingest.profiles import Columns, Profile
from landrelease.ingest.read import Features
from landrelease.ingest.shapes import Traverses
from landrelease.ingest.traverse import check_misclosure
from landrelease.units import format_area
from landrelease.vocabulary import ActivityKind, EventKind, HazardStatus, ItemType

#: Called as validation advances: (stage, done, total). While a large file of new hazards is
#: checked, its "apply" stage advances too, from the thread recording them (ingest.ahead).
Progress = Callable[[str, int, int], None]

#: Called with each batch of features whose polygons passed their checks, as it passes.
Accepted = Callable[["Checked", list["Staged"]], None]

REFUSED, REPAIRED, SKIPPED, WARNING = "refused", "repaired", "skipped", "warning"
#: An informational finding on an accepted feature (how well its traverse closed).
ACCEPTED = "accepted"

T = TypeVar("T")


class Action(str, Enum):
    """What applying a feature does in the ledger."""

    RECORD = "record"
    CANCEL = "cancel"
    REDUCE = "reduce"
    CLEAR = "clear"
    CONFIRM = "confirm"
    MARK = "mark"


#: Activity type (profile vocabulary) -> ledger action.
ACTION_OF = {
    "HAZARD": Action.RECORD,
    "NTS": Action.CANCEL,
    "TS": Action.REDUCE,
    "CLEARANCE": Action.CLEAR,
    "CONFIRMATION": Action.CONFIRM,
    "MARKING": Action.MARK,
}

#: Release actions and the ledger event each writes.
RELEASE_KIND = {
    Action.CANCEL: EventKind.CANCELLED,
    Action.REDUCE: EventKind.REDUCED,
    Action.CLEAR: EventKind.CLEARED,
}

#: The kind of activity recorded behind each action.
ACTIVITY_KIND = {
    Action.CANCEL: ActivityKind.NTS,
    Action.REDUCE: ActivityKind.TS,
    Action.CLEAR: ActivityKind.CLEARANCE,
    Action.CONFIRM: ActivityKind.NTS,
    Action.MARK: ActivityKind.MARKING,
}

_NEEDS_GEOMETRY = {Action.RECORD, Action.CANCEL, Action.REDUCE, Action.CLEAR}


@dataclass(frozen=True)
class Problem:
    """One finding about one feature (``index`` None: about the whole file)."""

    index: int | None
    source_id: str | None
    code: str
    message: str
    action: str


@dataclass
class Staged:
    """A feature that passed its checks, in ledger terms, ready to apply."""

    index: int
    action: Action
    hazard_id: str
    clean: CleanPolygon | None = None
    hazard_class: str | None = None
    contamination: str | None = None
    organisation: str | None = None
    name: str | None = None
    date: dt.date | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    marked_date: dt.date | None = None
    fenced_date: dt.date | None = None
    activity_reference: str | None = None
    items: dict[ItemType, tuple[int, int]] = field(default_factory=dict)
    cha_id: str | None = None

    @property
    def label(self) -> str:
        """How messages after the per-feature checks name the feature (:func:`label_of`)."""
        return label_of(self.index, self.hazard_id)


@dataclass
class Checked:
    """The outcome of validation: accepted features and every problem found."""

    features: Features
    profile: Profile
    read: int
    staged: dict[int, Staged] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    refused_indices: set[int] = field(default_factory=set)
    skipped_indices: set[int] = field(default_factory=set)
    file_refused: bool = False
    #: Hazard IDs this file records (refused or not) and the class of every hazard it names.
    record_ids: set[str] = field(default_factory=set)
    classes: dict[str, str] = field(default_factory=dict)

    def note(
        self, index: int | None, source_id: str | None, code: str, message: str, action: str
    ) -> None:
        """Record a finding; a refusal or skip takes the feature out of what will be applied."""
        self.problems.append(Problem(index, source_id, code, message, action))
        if index is None:
            self.file_refused = self.file_refused or action == REFUSED
            return
        if action == REFUSED:
            self.refused_indices.add(index)
            self.staged.pop(index, None)
        elif action == SKIPPED:
            self.skipped_indices.add(index)
            self.staged.pop(index, None)

    @property
    def refused(self) -> int:
        """How many features are refused (all of them when the file as a whole is)."""
        return self.read if self.file_refused else len(self.refused_indices)

    @property
    def repaired(self) -> int:
        """How many accepted features had their geometry repaired."""
        return len({p.index for p in self.problems if p.action == REPAIRED} - self.refused_indices)

    @property
    def ok(self) -> bool:
        """True when nothing is refused: the file may be applied."""
        return not self.file_refused and not self.refused_indices

    def sorted_problems(self) -> list[Problem]:
        """File-level findings first, then by feature."""
        return sorted(self.problems, key=lambda p: (p.index or 0, p.action != REFUSED))


# -- per-feature checks (no database) ---------------------------------------------------------


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    value = str(raw).strip()
    return value or None


#: Longest identifier (hazard ID, activity reference, CHA ID) and longest free text (name,
#: organisation) accepted. Real IDs run to a few dozen characters; a longer one is a field
#: pasted into the wrong column, and the database's indexes hold at most a few thousand bytes.
ID_MAX, TEXT_MAX = 100, 1000

#: Fields holding identifiers, limited to ID_MAX characters.
_IDENTIFIERS = frozenset({"hazard_id", "activity_reference", "cha_id"})

#: Control characters (C0 and DEL): line breaks, escapes and NUL have no place in a name or an
#: ID; they break the report's lines or, NUL, are cut off by the database without a word.
#: C1 controls (U+0080-U+009F) are the mark of a wrong encoding, reported as mojibake.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(text: str, limit: int = 40) -> str:
    """``text`` as a message shows it: control characters escaped, a long text cut short."""
    escaped = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def text_problem(kind: str, value: str) -> tuple[str, str] | None:
    """(code, reason) when a text field's ``value`` cannot be stored as it is, else None."""
    what = "hazard ID" if kind == "hazard_id" else kind.replace("_", " ")
    if (control := _CONTROL.search(value)) is not None:
        return (
            "control_character",
            f"{what} '{shown(value)}' holds a control character (U+{ord(control.group()):04X})",
        )
    limit = ID_MAX if kind in _IDENTIFIERS else TEXT_MAX
    if len(value) > limit:
        return (
            "text_too_long",
            f"{what} '{shown(value)}' is {len(value):,} characters long, more than {limit:,}",
        )
    return None


def label_of(index: int, hazard_id: str | None, origin: str = "") -> str:
    """How messages name a feature: its position, its ID, and where it sits in the file."""
    where = f", {origin}" if origin else ""
    return f"feature {index}" + (f" ({shown(hazard_id)})" if hazard_id else "") + where


@dataclass(frozen=True)
class _Naming:
    """How messages name the features of a file: by position, hazard ID and place in the file.

    A label is made only when a message needs it: most features of a large file have no
    finding, and a label for each of a hundred thousand would cost more than their checks.
    """

    features: Features
    hazard_ids: list[str | None]

    def label(self, index: int) -> str:
        """How messages name feature ``index`` (:func:`label_of`)."""
        position = index - 1
        return label_of(index, self.hazard_ids[position], self.features.origin(position))


class _Labels(Sequence[str]):
    """The labels of some features, each made when asked for: :func:`prepare_polygons` names
    a feature only when it refuses or repairs it."""

    def __init__(self, naming: _Naming, indices: Sequence[int]) -> None:
        self._naming = naming
        self._indices = indices

    def __len__(self) -> int:
        return len(self._indices)

    @overload
    def __getitem__(self, item: int) -> str: ...

    @overload
    def __getitem__(self, item: slice) -> list[str]: ...

    def __getitem__(self, item: int | slice) -> str | list[str]:
        if isinstance(item, slice):
            return [self._naming.label(index) for index in self._indices[item]]
        return self._naming.label(self._indices[item])


#: Exact types whose equal values read alike, so that one reading serves all of them; 1, 1.0
#: and True are equal but read as different text, and so are 0.0 and -0.0.
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def _read_column(
    values: Sequence[object] | None, size: int, read: Callable[[object], T]
) -> list[T | Exception]:
    """``read`` of each of a field's ``size`` values (``values`` None: the file has no such
    field), each distinct value read once.

    Fields repeat few values - a class, a contamination, a date - and reading them is what a
    feature's check costs: a hundred thousand features hold a few dozen classes and a few
    thousand dates. A field mixing types is read value by value (see ``_PLAIN_TYPES``). The
    exception a reader raises is kept in the value's place and raised by :func:`_value` when a
    feature's check reaches it, so a value the checks would not have read is never reported.
    """

    def outcome(raw: object) -> T | Exception:
        try:
            return read(raw)
        except Exception as exc:  # raised again by _value, where the check reads the value
            return exc

    if values is None:
        return [outcome(None)] * size
    kinds = set(map(type, values))
    if not kinds <= _PLAIN_TYPES or len(kinds - {type(None)}) > 1:
        return [outcome(raw) for raw in values]
    known = {raw: outcome(raw) for raw in set(values)}
    return [known[raw] for raw in values]


def _value(read: T | Exception) -> T:
    """A value from :func:`_read_column`, or the exception its reader raised, raised here."""
    if isinstance(read, Exception):
        raise read.with_traceback(None)
    return read


class _NotACount(ValueError):
    """An item count that is not a whole number ≥ 0; the message says which."""


def _count_reader(item: ItemType, which: str) -> Callable[[object], int | None]:
    """Reads the ``which`` (found, destroyed) count of ``item``: None when empty."""

    def read(raw: object) -> int | None:
        if _text(raw) is None:
            return None
        try:
            number = float(str(raw).strip())
        except ValueError:
            number = -1.0
        if not math.isfinite(number) or number < 0 or number != int(number):
            raise _NotACount(f"{item.value} {which} {raw!r} is not a whole number ≥ 0")
        return int(number)

    return read


_CODED = ("activity_type", "hazard_class", "contamination")
_TEXTS = ("organisation", "name", "activity_reference", "cha_id")
_DATES = ("date", "start_date", "end_date", "marked_date", "fenced_date")


@dataclass(frozen=True)
class _Fields:
    """What the profile reads in the fields of a file, column by column (``[i]``: feature
    ``i + 1``), each column read as a whole by :func:`_read_column`.

    Texts, dates and counts are there only for the fields the file has: a field it lacks is
    None for every feature, and files have few of them. A coded field it lacks is there, as
    the profile's default.
    """

    coded: dict[str, list[str | Exception | None]]
    texts: dict[str, list[str | Exception | None]]
    dates: dict[str, list[dt.date | Exception | None]]
    counts: dict[tuple[ItemType, str], list[int | Exception | None]]
    mojibake: dict[int, list[tuple[str, Mojibake]]]


def _read_fields(features: Features, columns: Columns, profile: Profile) -> _Fields:
    """Read every field a feature's check looks at, a column at a time (see :class:`_Fields`)."""
    size = len(features)

    def column(canonical: str, read: Callable[[object], T]) -> list[T | Exception]:
        name = columns.chosen.get(canonical)
        return _read_column(None if name is None else features.values[name], size, read)

    def date(raw: object) -> dt.date | None:
        return None if _text(raw) is None else profile.parse_date(raw)

    return _Fields(
        coded={kind: column(kind, partial(profile.coded, kind)) for kind in _CODED},
        texts={kind: column(kind, _text) for kind in _TEXTS if columns.has(kind)},
        dates={kind: column(kind, date) for kind in _DATES if columns.has(kind)},
        counts={
            (item, which): column(f"items.{item.value}.{which}", _count_reader(item, which))
            for item in profile.items
            for which in ("found", "destroyed")
            if columns.has(f"items.{item.value}.{which}")
        },
        mojibake=_mojibake(features, columns),
    )


def _mojibake(features: Features, columns: Columns) -> dict[int, list[tuple[str, Mojibake]]]:
    """Mis-decoded text in the fields the profile reads, by feature position, in field order.

    Each distinct string of a field is looked at once: a field holds a few distinct names.
    """
    guessed = not features.encoding_declared
    found: dict[int, list[tuple[str, Mojibake]]] = {}
    for column in columns.chosen.values():
        values = features.values[column]
        strings = {v for v in values if isinstance(v, str) and not v.isascii()}
        wrong = {
            value: mojibake for value in strings if (mojibake := detect(value, guessed=guessed))
        }
        if not wrong:
            continue
        for position, value in enumerate(values):
            if isinstance(value, str) and value in wrong:
                found.setdefault(position, []).append((column, wrong[value]))
    return found


def check_features(
    features: Features,
    profile: Profile,
    *,
    crs: str | int | None = None,
    traverses: Traverses | None = None,
    today: dt.date | None = None,
    progress: Progress | None = None,
    accepted: Accepted | None = None,
) -> Checked:
    """Every check that needs only the file and the profile.

    ``crs`` (``--crs``) overrides the file's CRS or gives one to a file without. ``accepted``
    is handed each batch of features whose polygons passed, as soon as they have (see
    :mod:`landrelease.ingest.ahead`).
    """
    today = today or dt.date.today()
    checked = Checked(features, profile, read=len(features))
    columns = profile.columns(features.values)
    if not columns.has("hazard_id"):
        names = " / ".join(profile.fields["hazard_id"])
        checked.note(
            None,
            None,
            "missing_field",
            f"{features.name}: no hazard ID field ({names}) for profile {profile.name}; the "
            f"fields are {', '.join(features.values) or 'none'}",
            REFUSED,
        )
        return checked
    source_crs = to_crs(crs) if crs is not None else features.crs
    naming = _Naming(features, [_text(raw) for raw in features.values[columns.chosen["hazard_id"]]])
    fields = _read_fields(features, columns, profile)
    for index in range(1, len(features) + 1):
        _check_fields(checked, index, naming, fields, today)
        if progress and index % 5000 == 0:
            progress("check", index, len(features))
    if source_crs is None and any(g is not None for g in features.geometries):
        checked.note(
            None,
            None,
            "no_crs",
            f"{features.name}: the file has no coordinate reference system; say which one "
            "with --crs (e.g. --crs EPSG:32634 for UTM zone 34N)",
            REFUSED,
        )
        return checked
    _check_geometry(checked, naming, source_crs, traverses or {}, progress, accepted)
    _check_within_file(checked)
    return checked


def _check_fields(
    checked: Checked, index: int, naming: _Naming, fields: _Fields, today: dt.date
) -> None:
    """The checks of one feature's fields, in the order its findings are reported."""
    position = index - 1
    hazard_id = naming.hazard_ids[position]

    def refuse(code: str, message: str) -> None:
        checked.note(index, hazard_id, code, f"{naming.label(index)}: {message}", REFUSED)

    for column, mojibake in fields.mojibake.get(position, ()):
        refuse("mojibake", mojibake.explain(column))
    try:
        activity = _value(fields.coded["activity_type"][position])
    except ValueError as exc:
        refuse("unknown_value", str(exc))
        return
    if activity is None:
        refuse("missing_value", "no activity type, and the profile has no default")
        return
    action = ACTION_OF[activity]
    if hazard_id is None:
        refuse("missing_id", "no hazard ID")
    elif (problem := text_problem("hazard_id", hazard_id)) is not None:
        refuse(*problem)
    staged = Staged(index=index, action=action, hazard_id=hazard_id or "")
    if action == Action.RECORD and hazard_id:
        checked.record_ids.add(hazard_id)
    unreadable: set[str] = set()
    for kind in ("hazard_class", "contamination"):
        try:
            setattr(staged, kind, _value(fields.coded[kind][position]))
        except ValueError as exc:
            refuse("unknown_value", str(exc))
            unreadable.add(kind)
    if action == Action.RECORD and staged.hazard_class is None and not unreadable:
        refuse("missing_value", "a new hazard needs a class (SHA or CHA)")
    for kind, texts in fields.texts.items():
        value = _value(texts[position])
        if value is not None and (problem := text_problem(kind, value)) is not None:
            refuse(*problem)
        setattr(staged, kind, value)
    if action != Action.RECORD and staged.activity_reference is None:
        refuse(
            "missing_reference",
            f"{activity} results need an activity reference, so that importing them again "
            "is recognised",
        )
    dates: dict[str, dt.date | None] = dict.fromkeys(_DATES)
    for kind, read in fields.dates.items():
        try:
            when = dates[kind] = _value(read[position])
        except ValueError as exc:
            refuse("date_unparseable", f"{kind.replace('_', ' ')} {exc}")
            unreadable.add(kind)
            continue
        if when is not None and when > today:
            refuse("date_future", f"{kind.replace('_', ' ')} {when} is in the future")
    _settle_dates(staged, dates, refuse if unreadable.isdisjoint(_DATES) else _quiet(refuse))
    if action not in (Action.RECORD, Action.MARK):
        staged.items = _items(position, fields, checked.profile, refuse)
    if index not in checked.refused_indices:
        checked.staged[index] = staged


def _quiet(refuse: Callable[[str, str], None]) -> Callable[[str, str], None]:
    """``refuse`` except for missing dates: an unreadable date was already reported."""

    def quiet(code: str, message: str) -> None:
        if code != "date_missing":
            refuse(code, message)

    return quiet


def _settle_dates(
    staged: Staged, dates: dict[str, dt.date | None], refuse: Callable[[str, str], None]
) -> None:
    """Which date is which for this kind of feature, and whether they are in order."""
    start, end = dates["start_date"], dates["end_date"]
    if start and end and end < start:
        refuse("dates_out_of_order", f"end date {end} is before start date {start}")
    if staged.action == Action.RECORD:
        staged.date = dates["date"] or start or end
    elif staged.action == Action.MARK:
        staged.date = dates["marked_date"] or dates["date"] or end
    else:
        staged.date = dates["date"] or end or start
    staged.start_date = start or staged.date
    staged.end_date = end or staged.date
    staged.marked_date = dates["marked_date"] or (
        staged.date if staged.action == Action.MARK else None
    )
    staged.fenced_date = dates["fenced_date"]
    if staged.date is None and staged.action != Action.MARK:
        refuse("date_missing", "no date")
    if staged.action == Action.MARK and not (staged.marked_date or staged.fenced_date):
        refuse("date_missing", "a marking needs the date the hazard was marked or fenced")
    for kind in ("marked_date", "fenced_date"):
        when = getattr(staged, kind)
        if staged.action == Action.RECORD and when and staged.date and when < staged.date:
            refuse(
                "dates_out_of_order",
                f"{kind.replace('_', ' ')} {when} is before the hazard was recorded "
                f"({staged.date})",
            )


def _items(
    position: int, fields: _Fields, profile: Profile, refuse: Callable[[str, str], None]
) -> dict[ItemType, tuple[int, int]]:
    items: dict[ItemType, tuple[int, int]] = {}
    for item in profile.items:
        counts: dict[str, int | None] = {}
        for which in ("found", "destroyed"):
            read = fields.counts.get((item, which))
            try:
                counts[which] = None if read is None else _value(read[position])
            except _NotACount as exc:
                refuse("bad_count", str(exc))
                return items
        found, destroyed = counts["found"], counts["destroyed"]
        if found is None and destroyed is None:
            continue
        found = found if found is not None else destroyed
        destroyed = destroyed if destroyed is not None else 0
        if destroyed > found:  # type: ignore[operator]
            refuse("bad_count", f"{item.value}: {destroyed} destroyed but only {found} found")
            continue
        if found or destroyed:
            items[item] = (found, destroyed)  # type: ignore[assignment]
    return items


_REASON = re.compile(r"^([A-Za-z ]+)")


def repair_code(reason: str) -> str:
    """A code for a GEOS validity reason ('Ring Self-intersection[x y]': ring_self_intersection)."""
    match = _REASON.match(reason.replace("-", " "))
    words = (match.group(1) if match else reason).strip().lower().split()
    return "_".join(words) or "invalid_geometry"


def _check_geometry(
    checked: Checked,
    naming: _Naming,
    crs: CRS | None,
    traverses: Traverses,
    progress: Progress | None,
    accepted: Accepted | None,
) -> None:
    features = checked.features
    limits = checked.profile.limits
    wanted: list[int] = []
    for position, geometry in enumerate(features.geometries):
        index = position + 1
        hazard_id = naming.hazard_ids[position]
        note = features.notes.get(position)
        staged = checked.staged.get(index)
        if staged is not None and staged.action == Action.MARK:
            continue  # a marking is about the hazard's perimeter: it needs no polygon
        needs = staged is None or staged.action in _NEEDS_GEOMETRY
        if note is not None:
            checked.note(
                index, hazard_id, note.code, f"{naming.label(index)}: {note.message}", REFUSED
            )
        elif geometry is None:
            if needs:
                checked.note(
                    index,
                    hazard_id,
                    "null_geometry",
                    f"{naming.label(index)}: no geometry",
                    REFUSED,
                )
        else:
            wanted.append(index)
        if position in traverses and note is None:
            try:
                closure = check_misclosure(
                    traverses[position], limits.max_misclosure_percent, label=naming.label(index)
                )
            except GeometryProblem as exc:
                checked.note(index, hazard_id, exc.code, str(exc), REFUSED)
            else:
                if closure is not None:
                    checked.note(index, hazard_id, "misclosure", closure, ACCEPTED)
    total = len(wanted)
    chunk = 2000
    for start in range(0, total, chunk):
        part = wanted[start : start + chunk]
        results = prepare_polygons(
            [features.geometries[index - 1] for index in part],
            crs,
            labels=_Labels(naming, part),
            max_repair_change=limits.max_repair_change,
        )
        for index, result in zip(part, results, strict=True):
            _geometry_outcome(checked, naming, index, result)
        if accepted:
            passed = [checked.staged.get(index) for index in part]
            accepted(checked, [s for s in passed if s is not None and s.clean is not None])
        if progress:
            progress("geometry", min(start + chunk, total), total)


def _geometry_outcome(
    checked: Checked, naming: _Naming, index: int, result: CleanPolygon | GeometryProblem
) -> None:
    limits = checked.profile.limits
    hazard_id = naming.hazard_ids[index - 1]
    if isinstance(result, GeometryProblem):
        checked.note(index, hazard_id, result.code, str(result), REFUSED)
        return
    for repair in result.repairs:
        reason = repair.removeprefix("repaired: ")
        reference = result.area_m2 - result.area_change_m2
        share = result.area_change_m2 / reference if reference else 0.0
        checked.note(
            index,
            hazard_id,
            repair_code(reason),
            f"{naming.label(index)}: invalid ({reason}); repaired keeping its polygons, area "
            f"changed by {result.area_change_m2:+,.1f} m² ({share:+.2%})",
            REPAIRED,
        )
    if result.area_m2 < limits.min_area_m2:
        checked.note(
            index,
            hazard_id,
            "sliver",
            f"{naming.label(index)}: area {result.area_m2:,.2f} m² is below the "
            f"{limits.min_area_m2:g} m² minimum of this profile (a sliver)",
            REFUSED,
        )
        return
    staged = checked.staged.get(index)
    if staged is not None:
        staged.clean = result


def _polygon_keys(staged: list[Staged]) -> dict[int, bytes]:
    """A key for each staged polygon, by feature index: two keys are equal exactly when the
    polygons are the same once normalised (whatever their starting vertex or ring order).

    A key starts with the polygon's box and number of vertices, which the same polygon always
    has. Normalising and encoding a hundred thousand densified polygons takes a second, so
    the normalised WKB is added only to keys that would otherwise be shared.
    """
    with_polygon = [s for s in staged if s.clean is not None]
    geoms = np.array([s.clean.geom for s in with_polygon], dtype=object)  # type: ignore[union-attr]
    # + 0.0 turns -0.0 into 0.0, so that boxes compare by value as bytes.
    outline = np.column_stack([shapely.bounds(geoms) + 0.0, shapely.get_num_coordinates(geoms)])
    keys: list[bytes] = [row.tobytes() for row in outline]
    seen = Counter(keys)
    shared = np.array([seen[key] > 1 for key in keys], dtype=bool)
    normalised = shapely.to_wkb(shapely.normalize(geoms[shared]))
    for position, wkb in zip(np.flatnonzero(shared).tolist(), normalised.tolist(), strict=True):
        keys[position] += wkb
    return {s.index: key for s, key in zip(with_polygon, keys, strict=True)}


def _check_within_file(checked: Checked) -> None:
    """Duplicate IDs and polygons, conflicting activities, results on hazards of this file."""
    records: dict[str, Staged] = {}
    polygons: dict[tuple[str, bytes], Staged] = {}
    activities: dict[str, Staged] = {}
    all_staged = list(checked.staged.values())
    keys = _polygon_keys(all_staged)
    for staged in all_staged:
        if staged.action == Action.RECORD:
            first = records.get(staged.hazard_id)
            if first is not None:
                checked.note(
                    staged.index,
                    staged.hazard_id,
                    "duplicate_id",
                    f"{staged.label}: hazard ID {staged.hazard_id} is also feature {first.index}'s",
                    REFUSED,
                )
                continue
            records[staged.hazard_id] = staged
        if staged.clean is not None:
            scope = "" if staged.action == Action.RECORD else staged.hazard_id
            key = (scope, keys[staged.index])
            first = polygons.get(key)
            if first is not None:
                checked.note(
                    staged.index,
                    staged.hazard_id,
                    "duplicate_geometry",
                    f"{staged.label}: the same polygon as feature {first.index} "
                    f"({first.hazard_id}); a duplicate (from overlapping map sheets?)",
                    REFUSED,
                )
                continue
            polygons[key] = staged
        reference = staged.activity_reference
        if reference and staged.action != Action.RECORD:
            first = activities.setdefault(reference, staged)
            if first.action != staged.action:
                checked.note(
                    staged.index,
                    staged.hazard_id,
                    "activity_inconsistent",
                    f"{staged.label}: activity {reference} is a {staged.action.value} here but "
                    f"a {first.action.value} in feature {first.index}",
                    REFUSED,
                )
    _check_results_on_file_hazards(checked, records)
    _check_new_hazards_overlap(checked)


def _check_results_on_file_hazards(checked: Checked, records: dict[str, Staged]) -> None:
    """Results on a hazard this file records must come after it and overlap it.

    Overlaps are tested for all pairs at once: one call per pair costs more than the test.
    """
    pairs = [
        (staged, hazard)
        for staged in list(checked.staged.values())
        if staged.action != Action.RECORD
        and (hazard := records.get(staged.hazard_id)) is not None
        and hazard.index not in checked.refused_indices
    ]
    early = [bool(s.date and h.date and s.date < h.date) for s, h in pairs]
    compared = [
        (n, h.clean.geom, s.clean.geom)
        for n, (s, h) in enumerate(pairs)
        if not early[n] and s.clean is not None and h.clean is not None
    ]
    hazards = np.array([hazard for _, hazard, _ in compared], dtype=object)
    results = np.array([result for _, _, result in compared], dtype=object)
    overlapping = shapely.relate_pattern(hazards, results, "T********").tolist()
    apart = {n for (n, _, _), overlaps in zip(compared, overlapping, strict=True) if not overlaps}
    for n, (staged, hazard) in enumerate(pairs):
        if early[n]:
            checked.note(
                staged.index,
                staged.hazard_id,
                "dates_out_of_order",
                f"{staged.label}: dated {staged.date}, before hazard {staged.hazard_id} was "
                f"recorded ({hazard.date}, feature {hazard.index})",
                REFUSED,
            )
        elif n in apart:
            checked.note(
                staged.index,
                staged.hazard_id,
                "no_overlap",
                f"{staged.label}: the polygon does not overlap hazard {staged.hazard_id} "
                f"(feature {hazard.index})",
                REFUSED,
            )


#: Two hazards whose common land is at least this share of the land of both together are one
#: hazard entered twice (digitised again from another map sheet, or resurveyed), not two.
NEAR_DUPLICATE_SHARE = 0.9


def _note_overlap(
    checked: Checked,
    staged: Staged,
    other: str,
    shared_m2: float,
    other_m2: float,
    where: str,
) -> None:
    """Refuse a near-duplicate of ``other``, or warn that it overlaps ``other``.

    ``where`` is "" for another feature of the file and "_db" for a hazard in the database.
    Overlapping hazards count the same land twice in the remaining area; a small overlap is
    common where neighbouring teams drew a shared edge, so it is a warning, not a refusal.
    """
    own_m2 = staged.clean.area_m2  # type: ignore[union-attr]
    together = own_m2 + other_m2 - shared_m2
    share = shared_m2 / together if together > 0 else 1.0
    if share >= NEAR_DUPLICATE_SHARE:
        checked.note(
            staged.index,
            staged.hazard_id,
            f"near_duplicate_geometry{where}",
            f"{staged.label}: covers nearly the same land as {other} ({share:.0%} of the two "
            "together); the same hazard entered twice?",
            REFUSED,
        )
    elif shared_m2 >= MIN_AREA_M2:
        checked.note(
            staged.index,
            staged.hazard_id,
            f"overlaps_hazard{where}",
            f"{staged.label}: overlaps {other} by {shared_m2:,.1f} m² ({shared_m2 / own_m2:.1%} "
            "of this hazard); that land would count in both",
            WARNING,
        )


def _shared_areas(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Geodesic area (m²) of the land each pair of polygons has in common."""
    common = shapely.intersection(first, second)
    return geodesic_areas_m2([polygons_only(g) for g in common])


def _check_new_hazards_overlap(checked: Checked) -> None:
    """New hazards of the file that overlap one another (each pair once, on the later one).

    Candidate pairs come from one STRtree query over every new polygon: a file of hazards that
    tile the land yields next to none, so the cost is the tree's.
    """
    new = [s for s in checked.staged.values() if s.action == Action.RECORD and s.clean]
    if len(new) < 2:
        return
    geoms = np.array([s.clean.geom for s in new], dtype=object)  # type: ignore[union-attr]
    first, second = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    later = first < second
    first, second = first[later], second[later]
    inner = shapely.relate_pattern(geoms[first], geoms[second], "T********")
    first, second = first[inner], second[inner]
    if not len(first):
        return
    shared = _shared_areas(geoms[first], geoms[second])
    for a, b, shared_m2 in zip(first.tolist(), second.tolist(), shared.tolist(), strict=True):
        earlier, staged = new[a], new[b]
        if staged.index not in checked.staged or earlier.index not in checked.staged:
            continue  # one of the two is refused already: the other is compared with nothing
        _note_overlap(
            checked,
            staged,
            f"feature {earlier.index} ({earlier.hazard_id})",
            shared_m2,
            earlier.clean.area_m2,  # type: ignore[union-attr]
            "",
        )


# -- checks against the database -------------------------------------------------------------


_HAZARDS = text(
    """
    SELECT h.national_id, h.hazard_class, h.status,
           (SELECT max(e.effective_date) FROM ledger_events e
            WHERE e.hazard_id = h.id AND (e.sign = 1 OR e.kind = 'confirmed')) AS floor_date
    FROM hazards h WHERE h.national_id = ANY(CAST(:ids AS text[]))
    """
)

# For each polygon of the file: does its hazard exist with the same recorded polygon, does
# another hazard hold the same polygon, and does it reach into what remains of its hazard?
# Only a new hazard's polygon is compared with recorded ones (ST_Equals on dense rings is the
# costly test); only a result's is tested against what remains of its hazard.
_POLYGONS = text(
    """
    WITH f AS MATERIALIZED (
        SELECT f.ord, f.nid, f.rec, ST_GeomFromWKB(f.wkb, 4326) AS g
        FROM unnest(CAST(:ord AS int[]), CAST(:nid AS text[]), CAST(:rec AS boolean[]),
                    CAST(:wkb AS bytea[])) AS f(ord, nid, rec, wkb)
    )
    SELECT f.ord,
           CASE WHEN f.rec THEN
               (SELECT ST_Equals(e.piece, f.g) FROM ledger_events e
                WHERE e.hazard_id = h.id AND e.kind = 'recorded' ORDER BY e.id LIMIT 1)
           END AS same_as_recorded,
           CASE WHEN f.rec THEN
               (SELECT h2.national_id FROM ledger_events e2 JOIN hazards h2 ON h2.id = e2.hazard_id
                WHERE e2.kind = 'recorded' AND e2.piece && f.g AND h2.national_id <> f.nid
                  AND ST_Equals(e2.piece, f.g) LIMIT 1)
           END AS same_polygon_as,
           CASE WHEN f.rec THEN false
                ELSE COALESCE(ST_Relate(h.geom, f.g, 'T********'), false)
           END AS overlaps
    FROM f LEFT JOIN hazards h ON h.national_id = f.nid
    ORDER BY f.ord
    """
)

# The regions of the lowest admin level loaded (the entities, or the country itself): together
# they are the territory features must lie in. Not united in SQL: boundaries are densified, and
# a union of them costs seconds, while testing each feature against each unit costs little.
_TERRITORY = text(
    """
    SELECT ST_AsBinary(geom) FROM regions
    WHERE admin_level = (SELECT min(admin_level) FROM regions) ORDER BY id
    """
)


@dataclass(frozen=True)
class _Known:
    hazard_class: str
    status: str
    floor_date: dt.date | None


def check_database(connection: Connection, checked: Checked) -> None:
    """The checks that need the database, run in the import's own transaction."""
    if not checked.staged:
        return
    _check_imported_activities(connection, checked)
    _check_regions(connection, checked)
    ids = sorted({s.hazard_id for s in checked.staged.values()})
    known = {
        row.national_id: _Known(row.hazard_class, row.status, row.floor_date)
        for row in connection.execute(_HAZARDS, {"ids": text_array(ids)})
    }
    checked.classes.update({nid: hazard.hazard_class for nid, hazard in known.items()})
    checked.classes.update(
        {s.hazard_id: s.hazard_class or "" for s in checked.staged.values() if s.hazard_class}
    )
    for staged in list(checked.staged.values()):
        if staged.action == Action.RECORD:
            continue
        hazard = known.get(staged.hazard_id)
        if hazard is None:
            if staged.hazard_id not in checked.record_ids:
                checked.note(
                    staged.index,
                    staged.hazard_id,
                    "unknown_hazard",
                    f"{staged.label}: names hazard {staged.hazard_id}, which is neither in the "
                    "database nor recorded by this file",
                    REFUSED,
                )
            continue
        if hazard.status != HazardStatus.ACTIVE.value:
            checked.note(
                staged.index,
                staged.hazard_id,
                "hazard_closed",
                f"{staged.label}: hazard {staged.hazard_id} is closed: all its land has been "
                "released",
                REFUSED,
            )
        elif staged.date and hazard.floor_date and staged.date < hazard.floor_date:
            checked.note(
                staged.index,
                staged.hazard_id,
                "dates_out_of_order",
                f"{staged.label}: dated {staged.date}, before {hazard.floor_date}, when land was "
                f"last added to hazard {staged.hazard_id} or its class changed",
                REFUSED,
            )
        elif staged.action == Action.CONFIRM and hazard.hazard_class != "SHA":
            checked.note(
                staged.index,
                staged.hazard_id,
                "already_cha",
                f"{staged.label}: hazard {staged.hazard_id} is already a CHA",
                REFUSED,
            )
    _check_polygons(connection, checked, set(known))


def _check_imported_activities(connection: Connection, checked: Checked) -> None:
    """Results whose activity reference is already in the database: skipped when they are the
    result applied then, refused when they differ from it.

    Skipping is what makes a re-import change nothing. But a team that sends a corrected
    result under the same reference (a smaller cleared polygon, another method, other items)
    must not see it silently skipped: the ledger would keep the old figures with no word.
    """
    references = sorted(
        {s.activity_reference for s in checked.staged.values() if s.activity_reference}
    )
    if not references:
        return
    stored: dict[str, Row[Any]] = {
        row.reference: row
        for row in connection.execute(_STORED_ACTIVITIES, {"refs": text_array(references)})
    }
    again = [
        s
        for s in checked.staged.values()
        if s.action != Action.RECORD and s.activity_reference in stored
    ]
    differences = _differences(connection, checked, again, stored)
    for staged in again:
        reference = staged.activity_reference
        found = differences.get(staged.index)
        if found:
            checked.note(
                staged.index,
                staged.hazard_id,
                "activity_changed",
                f"{staged.label}: activity {reference} is already in the database, and this "
                f"result differs from it: {'; '.join(found)}. A result is applied once: record "
                "a correction with `landrelease release correct`, or give a new result a new "
                "reference",
                REFUSED,
            )
            continue
        checked.note(
            staged.index,
            staged.hazard_id,
            "already_imported",
            f"{label_of(staged.index, staged.hazard_id)}: activity {reference} is already in "
            "the database; skipped",
            SKIPPED,
        )


# Each activity named by a file, with its kind and the items it recorded (type:found:destroyed).
_STORED_ACTIVITIES = text(
    """
    SELECT a.reference, a.kind,
           ARRAY(SELECT i.item_type || ':' || i.found || ':' || i.destroyed
                 FROM activity_items i WHERE i.activity_id = a.id ORDER BY 1) AS items
    FROM activities a WHERE a.reference = ANY(CAST(:refs AS text[]))
    """
)

# For each hazard and activity met again, what the activity took out of the hazard against the
# file's polygons for them (an activity may clear several polygons of one hazard): the m² taken
# then that the polygons do not cover (they shrank or moved), and the m² of the polygons over
# land the hazard still holds (they grew). No pieces: the activity took nothing out of it.
_AGAIN = text(
    """
    WITH f AS MATERIALIZED (
        SELECT f.ref, f.nid, array_agg(f.ord) AS ords,
               ST_Union(ST_GeomFromWKB(f.wkb, 4326)) AS g
        FROM unnest(CAST(:ord AS int[]), CAST(:ref AS text[]), CAST(:nid AS text[]),
                    CAST(:wkb AS bytea[])) AS f(ord, ref, nid, wkb)
        GROUP BY f.ref, f.nid
    )
    SELECT f.ords, t.pieces,
           lr_area_m2(ST_CollectionExtract(ST_Difference(t.taken, f.g), 3)) AS uncovered_m2,
           CASE WHEN h.status = 'active'
                THEN lr_area_m2(ST_CollectionExtract(ST_Intersection(h.geom, f.g), 3))
                ELSE 0 END AS still_held_m2
    FROM f
    JOIN activities a ON a.reference = f.ref
    LEFT JOIN hazards h ON h.national_id = f.nid
    CROSS JOIN LATERAL (
        SELECT count(*) AS pieces, ST_Union(e.piece) AS taken
        FROM ledger_events e
        WHERE e.activity_id = a.id AND e.hazard_id = h.id AND e.sign = -1
    ) t
    """
)


def _differences(
    connection: Connection,
    checked: Checked,
    again: list[Staged],
    stored: dict[str, Row[Any]],
) -> dict[int, list[str]]:
    """How each result met again differs from what its activity did, by feature index.

    Items are compared only where the file states some: a file without item columns says
    nothing about them, which is not a claim that none were found.
    """
    found: dict[int, list[str]] = {}
    members: dict[str, list[Staged]] = {}
    for staged in checked.staged.values():
        if staged.activity_reference in stored and staged.action in RELEASE_KIND:
            members.setdefault(staged.activity_reference, []).append(staged)
    for staged in again:
        reference = staged.activity_reference or ""
        row = stored[reference]
        notes = found.setdefault(staged.index, [])
        kind = ACTIVITY_KIND[staged.action].value
        if row.kind != kind:
            notes.append(f"it was {row.kind}, this file gives {kind}")
        now = {
            item.value: counts
            for item, counts in activity_items(members.get(reference, [])).items()
        }
        before = {
            item: (int(found_count), int(destroyed))
            for item, found_count, destroyed in (entry.split(":") for entry in row.items)
        }
        if now and before != now:
            notes.append(f"items were {_items_text(before)}, this file gives {_items_text(now)}")
    releases = [s for s in again if s.action in RELEASE_KIND and s.clean is not None]
    if releases:
        rows = connection.execute(
            _AGAIN,
            {
                "ord": [s.index for s in releases],
                "ref": [s.activity_reference for s in releases],
                "nid": [s.hazard_id for s in releases],
                "wkb": _wkbs(releases),
            },
        ).all()
        for row in rows:
            notes = []
            if not row.pieces:
                notes.append("it took no land out of this hazard")
            else:
                if row.uncovered_m2 >= MIN_AREA_M2:
                    notes.append(
                        f"{format_area(row.uncovered_m2)} it released lie outside this file's "
                        "polygons"
                    )
                if row.still_held_m2 >= MIN_AREA_M2:
                    notes.append(
                        f"this file's polygons take in {format_area(row.still_held_m2)} that "
                        "the hazard still holds"
                    )
            for index in row.ords:
                found[index].extend(notes)
    return {index: notes for index, notes in found.items() if notes}


def activity_items(members: Iterable[Staged]) -> dict[ItemType, tuple[int, int]]:
    """The items of one activity: found and destroyed by type, summed over its features."""
    items: dict[ItemType, tuple[int, int]] = {}
    for member in members:
        for item_type, (found, destroyed) in member.items.items():
            before = items.get(item_type, (0, 0))
            items[item_type] = (before[0] + found, before[1] + destroyed)
    return items


def _items_text(items: dict[str, tuple[int, int]]) -> str:
    """Item counts as ``SUBMUNITION 14 found / 12 destroyed``, or ``none``."""
    if not items:
        return "none"
    return ", ".join(
        f"{kind} {found} found / {destroyed} destroyed"
        for kind, (found, destroyed) in sorted(items.items())
    )


# New hazards whose box meets the box of a hazard already recorded: the only ones that can
# repeat a recorded polygon. Boxes travel instead of polygons, so a file of a hundred thousand
# new hazards in an empty area costs one index scan, not a hundred thousand polygon transfers.
_NEAR_RECORDED = text(
    """
    SELECT DISTINCT f.ord
    FROM unnest(CAST(:ord AS int[]), CAST(:x0 AS float8[]), CAST(:y0 AS float8[]),
                CAST(:x1 AS float8[]), CAST(:y1 AS float8[])) AS f(ord, x0, y0, x1, y1)
    JOIN ledger_events e
      ON e.kind = 'recorded' AND e.piece && ST_MakeEnvelope(f.x0, f.y0, f.x1, f.y1, 4326)
    """
)


# Whether any hazard is recorded within a box: when none is within the box of the whole file,
# no box of its features meets one either, and the boxes need not travel at all.
_ANY_RECORDED_IN = text(
    """
    SELECT EXISTS (SELECT 1 FROM ledger_events
                   WHERE kind = 'recorded' AND piece && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))
    """
)


def _polygons_to_compare(connection: Connection, checked: Checked, known: set[str]) -> list[Staged]:
    """Features whose polygon must be compared with the database: results, hazards whose ID
    is known, and new hazards lying where a hazard has been recorded."""
    with_polygon = [s for s in checked.staged.values() if s.clean is not None]
    new = [s for s in with_polygon if s.action == Action.RECORD and s.hazard_id not in known]
    if not new:
        return with_polygon
    boxes = shapely.bounds([s.clean.geom for s in new])  # type: ignore[union-attr]
    near = _near_recorded(connection, [s.index for s in new], boxes)
    far = {s.index for s in new} - near
    return [s for s in with_polygon if s.index not in far]


def _near_recorded(connection: Connection, indices: list[int], boxes: np.ndarray) -> set[int]:
    """Which of the features (``indices``, with their ``boxes``) meet a recorded hazard's box."""
    extent = [boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()]
    whole = dict(zip(("x0", "y0", "x1", "y1"), map(float, extent), strict=True))
    if not connection.execute(_ANY_RECORDED_IN, whole).scalar():
        return set()
    return set(
        connection.execute(
            _NEAR_RECORDED,
            {
                "ord": number_array(indices),
                "x0": number_array(boxes[:, 0].tolist()),
                "y0": number_array(boxes[:, 1].tolist()),
                "x1": number_array(boxes[:, 2].tolist()),
                "y1": number_array(boxes[:, 3].tolist()),
            },
        ).scalars()
    )


def _wkbs(staged: list[Staged]) -> list[bytes]:
    """The WKB of each feature's clean polygon, encoded in one call."""
    geoms = np.array([s.clean.geom for s in staged], dtype=object)  # type: ignore[union-attr]
    return shapely.to_wkb(geoms).tolist()


# For each new polygon, the open hazard it shares most land with (what remains of it).
_OVERLAPPING_HAZARD = text(
    """
    WITH f AS MATERIALIZED (
        SELECT f.ord, ST_GeomFromWKB(f.wkb, 4326) AS g
        FROM unnest(CAST(:ord AS int[]), CAST(:wkb AS bytea[])) AS f(ord, wkb)
    )
    SELECT f.ord, o.national_id, o.shared_m2, o.area_m2
    FROM f CROSS JOIN LATERAL (
        SELECT h.national_id, h.area_m2,
               lr_area_m2(ST_CollectionExtract(ST_Intersection(h.geom, f.g), 3)) AS shared_m2
        FROM hazards h
        WHERE h.status = 'active' AND h.geom && f.g AND ST_Relate(h.geom, f.g, 'T********')
        ORDER BY shared_m2 DESC, h.national_id
        LIMIT 1
    ) o
    ORDER BY f.ord
    """
)


def _check_overlaps_with_database(
    connection: Connection, checked: Checked, new: list[Staged]
) -> None:
    """New hazards that overlap an open hazard of the database (see :func:`_note_overlap`)."""
    new = [s for s in new if s.index in checked.staged]
    if not new:
        return
    rows = connection.execute(
        _OVERLAPPING_HAZARD,
        {
            "ord": [s.index for s in new],
            "wkb": _wkbs(new),
        },
    ).all()
    by_index = {s.index: s for s in new}
    for row in rows:
        _note_overlap(
            checked,
            by_index[row.ord],
            f"hazard {row.national_id}",
            row.shared_m2,
            row.area_m2,
            "_db",
        )


def _check_polygons(connection: Connection, checked: Checked, known: set[str]) -> None:
    with_polygon = _polygons_to_compare(connection, checked, known)
    if not with_polygon:
        return
    rows = connection.execute(
        _POLYGONS,
        {
            "ord": [s.index for s in with_polygon],
            "nid": [s.hazard_id for s in with_polygon],
            "rec": [s.action == Action.RECORD for s in with_polygon],
            "wkb": _wkbs(with_polygon),
        },
    ).all()
    by_index = {s.index: s for s in with_polygon}
    for row in rows:
        staged = by_index[row.ord]
        if staged.action == Action.RECORD:
            if staged.hazard_id in known:
                if row.same_as_recorded:
                    checked.note(
                        staged.index,
                        staged.hazard_id,
                        "already_recorded",
                        f"{staged.label}: hazard {staged.hazard_id} is already recorded with this "
                        "polygon; skipped",
                        SKIPPED,
                    )
                else:
                    checked.note(
                        staged.index,
                        staged.hazard_id,
                        "duplicate_id_db",
                        f"{staged.label}: hazard {staged.hazard_id} is already in the database "
                        "with a different polygon; to change it, use a correction",
                        REFUSED,
                    )
            elif row.same_polygon_as:
                checked.note(
                    staged.index,
                    staged.hazard_id,
                    "duplicate_geometry_db",
                    f"{staged.label}: the same polygon is already recorded as hazard "
                    f"{row.same_polygon_as}",
                    REFUSED,
                )
        elif staged.hazard_id in known and not row.overlaps and staged.index in checked.staged:
            checked.note(
                staged.index,
                staged.hazard_id,
                "no_overlap",
                f"{staged.label}: the polygon does not overlap what remains of hazard "
                f"{staged.hazard_id}",
                REFUSED,
            )
    _check_overlaps_with_database(
        connection,
        checked,
        [s for s in with_polygon if s.action == Action.RECORD and s.hazard_id not in known],
    )


def _check_regions(connection: Connection, checked: Checked) -> None:
    """Features outside the loaded boundaries, and coordinates that are swapped."""
    units = [shapely.from_wkb(bytes(w)) for w in connection.execute(_TERRITORY).scalars()]
    if not units:
        checked.note(
            None,
            None,
            "no_regions",
            "no region boundaries are loaded: features were not checked against the country",
            WARNING,
        )
        return
    shapely.prepare(units)
    staged = [s for s in checked.staged.values() if s.clean is not None]
    geoms = np.array([s.clean.geom for s in staged], dtype=object)  # type: ignore[union-attr]
    inside = _covered(units, geoms)
    touching = _in_any(units, geoms, shapely.intersects, skip=inside)
    policy = REFUSED if checked.profile.limits.partly_outside == "refuse" else WARNING
    uncovered = [(s, bool(t)) for s, t, c in zip(staged, touching, inside, strict=True) if not c]
    partly = [s for s, touches in uncovered if touches]
    beyond = [polygons_only(_beyond(s.clean.geom, units)) for s in partly]  # type: ignore[union-attr]
    outside_m2 = dict(
        zip([s.index for s in partly], geodesic_areas_m2(beyond).tolist(), strict=True)
    )
    for item, touches in uncovered:
        label = label_of(item.index, item.hazard_id)
        clean = item.clean
        if clean is None:  # only features with a polygon are in the list
            continue
        if not touches:
            _outside(checked, item, label, units)
            continue
        outside = outside_m2[item.index]
        if outside >= MIN_AREA_M2:
            checked.note(
                item.index,
                item.hazard_id,
                "partly_outside",
                f"{label}: {outside:,.1f} m² ({outside / clean.area_m2:.1%}) lies outside the "
                "loaded region boundaries",
                policy,
            )


def _in_any(
    units: list[BaseGeometry],
    geoms: np.ndarray,
    predicate: Callable[[BaseGeometry, np.ndarray], np.ndarray],
    *,
    skip: np.ndarray | None = None,
) -> np.ndarray:
    """Which ``geoms`` satisfy ``predicate(unit, geom)`` for some unit (True where ``skip``).

    A geometry is tested against the next unit only while no unit has answered yes, and not at
    all where ``skip`` already decides: testing a hundred thousand polygons against every
    boundary cost a second.
    """
    found = np.zeros(len(geoms), dtype=bool) if skip is None else skip.copy()
    for unit in units:
        rest = ~found
        found[rest] = predicate(unit, geoms[rest])
    return found


def _covered(units: list[BaseGeometry], geoms: np.ndarray) -> np.ndarray:
    """Which ``geoms`` some unit covers.

    A unit that covers a polygon's box covers the polygon, and a box has four corners where a
    densified polygon has dozens of vertices: most polygons are settled by their box, and only
    the others are tested themselves.
    """
    inside = _in_any(units, shapely.box(*shapely.bounds(geoms).T), shapely.covers)
    rest = ~inside
    inside[rest] = _in_any(units, geoms[rest], shapely.covers)
    return inside


def _beyond(geom: BaseGeometry, units: list[BaseGeometry]) -> BaseGeometry:
    """The part of ``geom`` outside every unit.

    Units are cut to the feature's box first: a boundary has tens of thousands of vertices
    and a difference with all of them costs a tenth of a second per feature.
    """
    xmin, ymin, xmax, ymax = geom.bounds
    rest = geom
    for unit in units:
        if not shapely.intersects(unit, rest):
            continue
        near = shapely.clip_by_rect(unit, xmin - 1e-6, ymin - 1e-6, xmax + 1e-6, ymax + 1e-6)
        try:
            rest = shapely.difference(rest, near)
        except shapely.errors.GEOSException:  # a clipped unit can come out invalid
            rest = shapely.difference(rest, unit)
    return rest


def _outside(checked: Checked, item: Staged, label: str, units: list[BaseGeometry]) -> None:
    """A feature wholly outside: say whether swapping longitude and latitude brings it in."""
    geom = item.clean.geom  # type: ignore[union-attr]
    swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
    x, y = shapely.get_coordinates(geom)[0]
    if any(shapely.intersects(unit, swapped) for unit in units):
        checked.note(
            item.index,
            item.hazard_id,
            "coordinates_swapped",
            f"{label}: lies outside the loaded regions, at ({x:.5f}, {y:.5f}); with longitude "
            "and latitude swapped it falls inside: the columns or axis order are swapped",
            REFUSED,
        )
    else:
        checked.note(
            item.index,
            item.hazard_id,
            "outside_regions",
            f"{label}: lies wholly outside the loaded region boundaries, at ({x:.5f}, {y:.5f})",
            REFUSED,
        )


def refused_features(problems: Iterable[Problem]) -> list[int]:
    """Indices of refused features, in order."""
    return sorted({p.index for p in problems if p.action == REFUSED and p.index is not None})
