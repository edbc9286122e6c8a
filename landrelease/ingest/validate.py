"""Check every feature of a file and say, for each, what is wrong and what was done about it.

One path for every format and profile: fields, codes, text, dates, items, then geometry, then
what the file says twice (duplicate IDs and polygons, results on hazards of the same file, new
hazards overlapping one another). Each finding is a
:class:`~landrelease.ingest.findings.Problem`. A file with any refusal is not applied at all;
the report lists every refusal at once, so the officer fixes the file in one go.

Geometry goes through :func:`landrelease.geometry.prepare_polygons`, the one validation and
repair path of landrelease, so a polygon accepted here is exactly what the ledger will store.
Checks against the database (hazard IDs and polygons already recorded, activities already
imported, hazards closed or dated later, regions) run inside the import's transaction, in
:func:`landrelease.ingest.in_database.check_database`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar, overload

import numpy as np
import shapely
from pyproj import CRS

from landrelease.geometry import (
    CleanPolygon,
    GeometryProblem,
    crs_hint,
    prepare_polygons,
    to_crs,
)
from landrelease.ingest.encoding import Mojibake, detect
from landrelease.ingest.findings import (
    ACCEPTED,
    ACTION_OF,
    CONTROL,
    REFUSED,
    REPAIRED,
    Accepted,
    Action,
    Checked,
    Progress,
    Staged,
    label_of,
    shown,
)
from landrelease.ingest.overlaps import check_new_hazards_overlap
from landrelease.ingest.profiles import Columns, Profile
from landrelease.ingest.read import Features
from landrelease.ingest.shapes import Traverses
from landrelease.ingest.traverse import check_misclosure
from landrelease.vocabulary import ItemType

T = TypeVar("T")

_NEEDS_GEOMETRY = {Action.RECORD, Action.CANCEL, Action.REDUCE, Action.CLEAR}


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


def text_problem(kind: str, value: str) -> tuple[str, str] | None:
    """(code, reason) when a text field's ``value`` cannot be stored as it is, else None."""
    what = "hazard ID" if kind == "hazard_id" else kind.replace("_", " ")
    if (control := CONTROL.search(value)) is not None:
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
            f"{features.name}: the file has no coordinate reference system; "
            f"{crs_hint(features.geometries)}",
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
    check_new_hazards_overlap(checked)


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
