"""What validation finds in a file, and what it hands on: problems, and features staged.

Each finding is a :class:`Problem`: the feature's position and source ID, a stable code, a
sentence for the officer, and the action taken (refused, repaired, skipped as already imported,
a warning, or "accepted" for a fact worth seeing about an accepted feature, such as its
traverse's misclosure). A feature that passes is :class:`Staged` in ledger terms; the checks
(:mod:`landrelease.ingest.validate`, :mod:`landrelease.ingest.overlaps`,
:mod:`landrelease.ingest.in_database`) all write to one :class:`Checked`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from landrelease.geometry import CleanPolygon
from landrelease.ingest.profiles import Profile
from landrelease.ingest.read import Features
from landrelease.vocabulary import ActivityKind, EventKind, ItemType

#: Called as validation advances: (stage, done, total). While a large file of new hazards is
#: checked, its "apply" stage advances too, from the thread recording them (ingest.ahead).
Progress = Callable[[str, int, int], None]

#: Called with each batch of features whose polygons passed their checks, as it passes.
Accepted = Callable[["Checked", list["Staged"]], None]

REFUSED, REPAIRED, SKIPPED, WARNING = "refused", "repaired", "skipped", "warning"
#: An informational finding on an accepted feature (how well its traverse closed).
ACCEPTED = "accepted"


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


#: Control characters (C0 and DEL): line breaks, escapes and NUL have no place in a name or an
#: ID; they break the report's lines or, NUL, are cut off by the database without a word.
#: C1 controls (U+0080-U+009F) are the mark of a wrong encoding, reported as mojibake.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(text: str, limit: int = 40) -> str:
    """``text`` as a message shows it: control characters escaped, a long text cut short."""
    escaped = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def label_of(index: int, hazard_id: str | None, origin: str = "") -> str:
    """How messages name a feature: its position, its ID, and where it sits in the file."""
    where = f", {origin}" if origin else ""
    return f"feature {index}" + (f" ({shown(hazard_id)})" if hazard_id else "") + where


def activity_items(members: Iterable[Staged]) -> dict[ItemType, tuple[int, int]]:
    """The items of one activity: found and destroyed by type, summed over its features."""
    items: dict[ItemType, tuple[int, int]] = {}
    for member in members:
        for item_type, (found, destroyed) in member.items.items():
            before = items.get(item_type, (0, 0))
            items[item_type] = (before[0] + found, before[1] + destroyed)
    return items


def refused_features(problems: Iterable[Problem]) -> list[int]:
    """Indices of refused features, in order."""
    return sorted({p.index for p in problems if p.action == REFUSED and p.index is not None})
