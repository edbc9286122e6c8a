"""Import one field file: read, check, and apply it through the ledger, all or nothing.

The whole file is one transaction (:func:`landrelease.release.transaction`): activities are
created, hazards recorded, marked, confirmed and released through the ledger's own transitions,
and the file is entered in ``imports``. Any refusal, from validation or from the ledger, rolls
everything back and the officer gets the report. A dry run does all of it and rolls back, so
what it reports is exactly what a real run would change.

Idempotency: a file already imported (same SHA-256) is recognised before anything is read, and
inside the transaction again under an advisory lock, so two officers importing the same file at
once apply it once. Results whose activity reference is already in the database are skipped,
as are hazards already recorded with the same polygon.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from landrelease.db.derived import settle
from landrelease.db.statistics import ANALYZE_AFTER, refresh_statistics
from landrelease.errors import (
    DateError,
    DuplicateHazard,
    HazardClosed,
    HazardNotFound,
    LandReleaseError,
    NoOverlap,
    TransitionRefused,
)
from landrelease.ingest.ahead import RecordAhead, recording_ahead
from landrelease.ingest.findings import (
    ACTIVITY_KIND,
    REFUSED,
    RELEASE_KIND,
    WARNING,
    Action,
    Checked,
    Problem,
    Progress,
    Staged,
    activity_items,
    label_of,
)
from landrelease.ingest.in_database import check_database
from landrelease.ingest.profiles import (
    DEFAULT_PROFILE,
    UNSTATED_CONTAMINATION,
    Profile,
    load_profile,
)
from landrelease.ingest.read import read_features
from landrelease.ingest.shapes import shape_table
from landrelease.ingest.validate import check_features
from landrelease.release import (
    SLIVER_M2,
    ActivityInput,
    HazardInput,
    Ledger,
    Recorded,
    ReleaseRequest,
    transaction,
)
from landrelease.units import format_area
from landrelease.vocabulary import Contamination, HazardClass

#: Transitions are applied in batches of this many features, so progress can be shown.
BATCH = 2000

#: A release polygon more than this share of which lies outside what remains of its hazard
#: is named in a warning: only the part in the hazard is released (released area comes from
#: polygons), but a result drawn mostly beside its hazard may name the wrong hazard. Cleared
#: areas often run past the hazard's edge by a margin, so a smaller overhang is not noted.
BEYOND_HAZARD_SHARE = 0.5

APPLIED, DRY_RUN, REFUSED_FILE, UNCHANGED = "applied", "dry-run", "refused", "unchanged"


@dataclass(frozen=True)
class Change:
    """What one kind of transition did to one class: how many features, how many m²."""

    kind: str
    hazard_class: str
    count: int
    area_m2: float


@dataclass
class ImportResult:
    """What an import found and did; ``status`` says whether anything was written."""

    file: str
    sha256: str
    profile: str
    status: str
    layers: str = ""
    read: int = 0
    accepted: int = 0
    repaired: int = 0
    refused: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    marked: int = 0
    activities: int = 0
    import_id: int | None = None
    previous: str | None = None
    seconds: float = 0.0

    @property
    def written(self) -> bool:
        """True when the database was changed."""
        return self.status == APPLIED

    def area(self, kind: str) -> float:
        """m² moved by one kind of transition, all classes together."""
        return sum(c.area_m2 for c in self.changes if c.kind == kind)

    def as_dict(self) -> dict[str, object]:
        """Plain data for the JSON report."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "profile": self.profile,
            "layers": self.layers,
            "status": self.status,
            "counts": {
                "read": self.read,
                "accepted": self.accepted,
                "repaired": self.repaired,
                "refused": self.refused,
                "skipped": self.skipped,
                "activities": self.activities,
                "marked": self.marked,
            },
            "changes": [c.__dict__ for c in self.changes],
            "problems": [p.__dict__ for p in self.problems],
            "import_id": self.import_id,
            "previous": self.previous,
        }


class _Outcome(Exception):
    """Raised inside the transaction to roll it back and hand the result out."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__(result.status)
        self.result = result


_PREVIOUS = text(
    "SELECT id, imported_at, file_name FROM imports WHERE sha256 = :sha AND layers = :layers"
)


def _previous(connection: Connection, sha: str, layers: str) -> str | None:
    row = connection.execute(_PREVIOUS, {"sha": sha, "layers": layers}).first()
    if row is None:
        return None
    return f"import #{row.id} of {row.imported_at:%Y-%m-%d %H:%M} ({row.file_name})"


def import_file(
    engine: Engine,
    path: str | Path,
    *,
    profile: str | Path | Profile = DEFAULT_PROFILE,
    layer: str | None = None,
    crs: str | int | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one field file; see the module docstring. Never half-applies a file.

    Returns the result whatever happened to the features (refusals are in ``problems``);
    raises :class:`LandReleaseError` only when the file or profile cannot be used at all.
    """
    started = time.perf_counter()
    path = Path(path)
    chosen = profile if isinstance(profile, Profile) else load_profile(profile)
    features = read_features(path, layer=layer, encoding=encoding)
    if progress:
        progress("read", len(features), len(features))
    layers = ",".join(features.layers)
    with engine.connect() as connection:
        previous = _previous(connection, features.sha256, layers)
    if previous is not None:
        return ImportResult(
            path.name,
            features.sha256,
            chosen.name,
            UNCHANGED,
            layers=layers,
            read=len(features),
            skipped=len(features),
            previous=previous,
        )
    features, traverses = shape_table(features, chosen, crs)
    if features.is_table:
        crs = None  # the table's coordinates were read in it: its geometries carry their CRS
    result = ImportResult(
        path.name, features.sha256, chosen.name, REFUSED_FILE, layers=layers, read=len(features)
    )
    try:
        with (
            transaction(engine, today=today) as ledger,
            recording_ahead(ledger, len(features), _new_hazard, progress) as ahead,
        ):
            _claim(ledger.connection, result)
            checked = check_features(
                features,
                chosen,
                crs=crs,
                traverses=traverses,
                today=today,
                progress=progress,
                accepted=ahead.offer if ahead else None,
            )
            result.read = checked.read
            _apply_in_transaction(ledger, checked, result, dry_run, progress, ahead)
    except _Outcome as outcome:
        result = outcome.result
    if result.written and result.accepted >= ANALYZE_AFTER:
        refresh_statistics(engine)
    result.seconds = time.perf_counter() - started
    return result


def _claim(connection: Connection, result: ImportResult) -> None:
    """Take the file's lock for this transaction; a file imported meanwhile is unchanged."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:sha, 0))"), {"sha": result.sha256}
    )
    previous = _previous(connection, result.sha256, result.layers)
    if previous is not None:
        result.status, result.previous = UNCHANGED, previous
        raise _Outcome(result)


def _apply_in_transaction(
    ledger: Ledger,
    checked: Checked,
    result: ImportResult,
    dry_run: bool,
    progress: Progress | None,
    ahead: RecordAhead | None,
) -> None:
    connection = ledger.connection
    if not checked.file_refused:
        if ahead is not None and ahead.busy:
            # The import's connection is the writer's until it finishes; what this one sees
            # is what the import's transaction saw before it wrote anything.
            with connection.engine.connect() as reader:
                check_database(reader, checked)
        else:
            check_database(connection, checked)
    early = ahead.finish(checked) if ahead is not None else {}
    if progress:
        progress("database", checked.read, checked.read)
    if checked.ok and checked.staged:
        try:
            result.changes, result.activities, result.marked = _apply(
                ledger, checked, progress, early
            )
        except _LedgerRefusal as refusal:
            for problem in refusal.problems:
                checked.note(
                    problem.index, problem.source_id, problem.code, problem.message, REFUSED
                )
    _count(checked, result)
    if not checked.ok:
        result.status = REFUSED_FILE
        raise _Outcome(result)
    if not checked.staged:
        result.status = UNCHANGED
        result.previous = "every feature is already in the database"
        raise _Outcome(result)
    if dry_run:
        result.status = DRY_RUN
        raise _Outcome(result)
    result.import_id = _enter_import(connection, checked, result)
    _measure(connection, len(checked.staged), progress)
    result.status = APPLIED


def _measure(connection: Connection, applied: int, progress: Progress | None) -> None:
    """Measure the file's ledger events into the tables reports read, before the commit.

    The commit would do it anyway (:mod:`landrelease.db.derived`); doing it here lets the
    progress display name the stage, which on a national baseline is half of the import and
    would otherwise look like a hang after the last bar, and follow its steps (0011).
    """
    if progress is None:
        settle(connection)
        return
    progress("measure", 0, applied)
    settle(connection, lambda percent: progress("measure", applied * percent // 100, applied))


def _count(checked: Checked, result: ImportResult) -> None:
    result.problems = checked.sorted_problems()
    result.refused = checked.refused
    result.skipped = len(checked.skipped_indices)
    result.repaired = checked.repaired
    result.accepted = max(result.read - result.refused - result.skipped, 0)


def _enter_import(connection: Connection, checked: Checked, result: ImportResult) -> int:
    references = sorted(
        {
            s.activity_reference
            for s in checked.staged.values()
            if s.activity_reference and s.action != Action.RECORD
        }
    )
    summary = {
        "changes": [c.__dict__ for c in result.changes],
        "activities": result.activities,
        "marked": result.marked,
        "repaired": result.repaired,
        "skipped": result.skipped,
    }
    return connection.execute(
        text(
            """
            INSERT INTO imports (sha256, file_name, layers, profile, features, applied,
                                 activity_references, summary, problems)
            VALUES (:sha, :name, :layers, :profile, :features, :applied, :refs,
                    CAST(:summary AS jsonb), CAST(:problems AS jsonb))
            RETURNING id
            """
        ),
        {
            "sha": result.sha256,
            "name": result.file,
            "layers": result.layers,
            "profile": result.profile,
            "features": result.read,
            "applied": len(checked.staged),
            "refs": references,
            "summary": json.dumps(summary),
            "problems": json.dumps([p.__dict__ for p in result.problems]),
        },
    ).scalar_one()


# -- applying through the ledger --------------------------------------------------------------


class _LedgerRefusal(Exception):
    """The ledger refused part of the file; the problems name the features."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


_CODE_OF_ERROR: dict[type[LandReleaseError], str] = {
    NoOverlap: "no_overlap",
    HazardClosed: "hazard_closed",
    DateError: "dates_out_of_order",
    HazardNotFound: "unknown_hazard",
    DuplicateHazard: "duplicate_id_db",
    TransitionRefused: "transition_refused",
}

_PROBLEM_LIST = re.compile(r"^\d+ problems, nothing applied:$")


def _refusal(error: LandReleaseError, batch: Sequence[Staged], prefix: str) -> _LedgerRefusal:
    """The ledger's error, line by line, with its "release 3 (...)" turned into the feature."""
    code = _CODE_OF_ERROR.get(type(error), "ledger_refused")
    lines = str(error).splitlines()
    if lines and _PROBLEM_LIST.match(lines[0]):
        lines = [line.strip() for line in lines[1:]]
    pattern = re.compile(rf"^{prefix} (\d+) \([^)]*\)")
    problems = []
    for line in lines:
        match = pattern.match(line)
        staged = batch[int(match.group(1)) - 1] if match else None
        if staged is None:
            problems.append(Problem(None, None, code, line, REFUSED))
            continue
        message = label_of(staged.index, staged.hazard_id) + line[match.end() :]  # type: ignore[union-attr]
        problems.append(Problem(staged.index, staged.hazard_id, code, message, REFUSED))
    return _LedgerRefusal(problems)


def _single(error: LandReleaseError, staged: Staged) -> _LedgerRefusal:
    code = _CODE_OF_ERROR.get(type(error), "ledger_refused")
    message = f"{label_of(staged.index, staged.hazard_id)}: {error}"
    return _LedgerRefusal([Problem(staged.index, staged.hazard_id, code, message, REFUSED)])


class _Tally:
    """Counts and m² by kind and class, as the summary shows them."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])

    def add(self, kind: str, hazard_class: str, area: float) -> None:
        entry = self.totals[(kind, hazard_class)]
        entry[0] += 1
        entry[1] += area

    def changes(self) -> list[Change]:
        order = ["recorded", "confirmed", "cancelled", "reduced", "cleared"]
        return [
            Change(kind, cls, int(count), area)
            for (kind, cls), (count, area) in sorted(
                self.totals.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])
            )
        ]


def _batches(items: Sequence[Staged]) -> Iterator[Sequence[Staged]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _apply(
    ledger: Ledger, checked: Checked, progress: Progress | None, early: dict[int, Recorded]
) -> tuple[list[Change], int, int]:
    """Apply the staged features in ledger order; returns changes, activities, marks.

    ``early`` holds the hazards already recorded while the file was checked, by feature.
    """
    staged = sorted(checked.staged.values(), key=lambda s: s.index)
    total = len(staged)
    done = 0
    tally = _Tally()

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress("apply", done, total)

    activity_ids = _create_activities(ledger, staged)
    for item in staged:
        if item.index in early:
            tally.add("recorded", item.hazard_class or "", early[item.index].area_m2)
    advance(len(early))
    records = [s for s in staged if s.action == Action.RECORD and s.index not in early]
    for batch in _batches(records):
        try:
            recorded = ledger.record_many([_hazard_input(s, activity_ids) for s in batch])
        except LandReleaseError as exc:
            raise _refusal(exc, batch, "hazard") from exc
        for item, outcome in zip(batch, recorded, strict=True):
            tally.add("recorded", item.hazard_class or "", outcome.area_m2)
        advance(len(batch))
    marked = 0
    for item in staged:
        if item.marked_date or item.fenced_date:
            try:
                ledger.mark(item.hazard_id, marked=item.marked_date, fenced=item.fenced_date)
            except LandReleaseError as exc:
                raise _single(exc, item) from exc
            marked += 1
            if item.action == Action.MARK:
                advance(1)
    classes = dict(checked.classes)
    pending: list[Staged] = []
    moves = sorted(
        (s for s in staged if s.action in RELEASE_KIND or s.action == Action.CONFIRM),
        key=lambda s: (s.date or dt.date.min, s.index),
    )
    for item in moves:
        if item.action == Action.CONFIRM:
            advance(_release(ledger, checked, pending, activity_ids, classes, tally))
            pending = []
            try:
                confirmed = ledger.confirm(
                    item.hazard_id,
                    item.clean.geom if item.clean else None,
                    crs=4326,
                    effective_date=item.date,  # type: ignore[arg-type]
                    cha_national_id=item.cha_id,
                    activity_id=activity_ids.get(item.activity_reference or ""),
                )
            except LandReleaseError as exc:
                raise _single(exc, item) from exc
            tally.add("confirmed", HazardClass.SHA.value, confirmed.area_m2)
            if confirmed.cha_national_id == item.hazard_id:
                classes[item.hazard_id] = HazardClass.CHA.value
            advance(1)
        else:
            pending.append(item)
    advance(_release(ledger, checked, pending, activity_ids, classes, tally))
    return tally.changes(), len(activity_ids), marked


def _release(
    ledger: Ledger,
    checked: Checked,
    items: Sequence[Staged],
    activity_ids: dict[str, int],
    classes: dict[str, str],
    tally: _Tally,
) -> int:
    for batch in _batches(items):
        requests = [
            ReleaseRequest(
                national_id=s.hazard_id,
                method=RELEASE_KIND[s.action],
                geometry=s.clean,  # type: ignore[arg-type]  # checked already
                crs=4326,
                effective_date=s.date,  # type: ignore[arg-type]
                activity_id=activity_ids.get(s.activity_reference or ""),
            )
            for s in batch
        ]
        try:
            released = ledger.release_many(requests)
        except LandReleaseError as exc:
            raise _refusal(exc, batch, "release") from exc
        for item, outcome in zip(batch, released, strict=True):
            tally.add(outcome.method.value, classes.get(item.hazard_id, ""), outcome.area_m2)
            _note_beyond_hazard(checked, item, outcome.area_m2)
    return len(items)


def _note_beyond_hazard(checked: Checked, item: Staged, released_m2: float) -> None:
    """Warn when much of a release polygon lay outside what remained of its hazard."""
    drawn = item.clean.area_m2 if item.clean else 0.0
    beyond = drawn - released_m2
    if drawn <= 0 or beyond < SLIVER_M2 or beyond <= BEYOND_HAZARD_SHARE * drawn:
        return
    checked.note(
        item.index,
        item.hazard_id,
        "release_beyond_hazard",
        f"{label_of(item.index, item.hazard_id)}: of the {format_area(drawn)} drawn, "
        f"{format_area(released_m2)} lay in what remained of hazard {item.hazard_id} and was "
        f"released; the other {format_area(beyond)} ({beyond / drawn:.0%}) lies outside it "
        "(released before, or never part of it): check that the result names the right hazard",
        WARNING,
    )


def _hazard_input(staged: Staged, activity_ids: dict[str, int]) -> HazardInput:
    return HazardInput(
        national_id=staged.hazard_id,
        hazard_class=HazardClass(staged.hazard_class),
        geometry=staged.clean,  # type: ignore[arg-type]  # checked already
        crs=4326,
        recorded_date=staged.date,  # type: ignore[arg-type]
        contamination=Contamination(staged.contamination or UNSTATED_CONTAMINATION.value),
        organisation=staged.organisation,
        name=staged.name,
        activity_id=activity_ids.get(staged.activity_reference or ""),
    )


def _new_hazard(staged: Staged) -> HazardInput:
    """A hazard recorded ahead: its file records new hazards only, so it has no activity."""
    return _hazard_input(staged, {})


def _create_activities(ledger: Ledger, staged: Sequence[Staged]) -> dict[str, int]:
    """One activity per reference: its dates span its features, its items are their sum.

    Each is checked on its own first, so a refusal names the feature that brought it; then all
    are recorded in one statement.
    """
    groups: dict[str, list[Staged]] = defaultdict(list)
    for item in staged:
        if item.activity_reference and item.action != Action.RECORD:
            groups[item.activity_reference].append(item)
    activities: list[ActivityInput] = []
    for reference, members in groups.items():
        first = members[0]
        items = activity_items(members)
        starts = [m.start_date for m in members if m.start_date]
        ends = [m.end_date for m in members if m.end_date]
        activity = ActivityInput(
            ACTIVITY_KIND[first.action],
            reference=reference,
            organisation=first.organisation,
            start_date=min(starts) if starts else None,
            end_date=max(ends) if ends else None,
            items=items,
        )
        try:
            ledger.check_activity(activity)
        except LandReleaseError as exc:
            raise _single(exc, first) from exc
        activities.append(activity)
    return dict(zip(groups, ledger.add_activities(activities), strict=True))
