"""The words of land release as enumerations: hazard classes, contamination, statuses, field
activities, explosive items and ledger events.

Kept apart from the database models (``landrelease.models``), which use them, so that code
which only speaks the vocabulary - validation, the ledger's inputs, the command line's options -
does not load the ORM and GeoAlchemy to do so.
"""

from __future__ import annotations

from enum import Enum


class HazardClass(str, Enum):
    """SHA: indirect evidence of explosive ordnance; CHA: direct evidence."""

    SHA = "SHA"
    CHA = "CHA"


class Contamination(str, Enum):
    """What is suspected or confirmed in a hazard."""

    CMR = "CMR"  # cluster munition remnants
    AP_MINE = "AP_MINE"
    AT_MINE = "AT_MINE"
    ERW = "ERW"  # unexploded / abandoned ordnance
    IED = "IED"
    MIXED = "MIXED"


class HazardStatus(str, Enum):
    """Active while some area remains; released once nothing (above the sliver tolerance) does."""

    ACTIVE = "active"
    RELEASED = "released"


class ActivityKind(str, Enum):
    """The field activity behind an event."""

    NTS = "NTS"
    TS = "TS"
    CLEARANCE = "CLEARANCE"
    MARKING = "MARKING"
    FENCING = "FENCING"
    OTHER = "OTHER"


class ItemType(str, Enum):
    """Explosive items found and destroyed, by type, as Article 7 reports count them."""

    SUBMUNITION = "SUBMUNITION"
    CLUSTER_BOMB = "CLUSTER_BOMB"
    AP_MINE = "AP_MINE"
    AT_MINE = "AT_MINE"
    UXO = "UXO"
    AXO = "AXO"
    IED = "IED"
    OTHER = "OTHER"


class EventKind(str, Enum):
    """Kinds of ledger event.

    Each event adds (+1) or removes (-1) a piece of geometry from one hazard, and counts under
    the hazard class it had then, so the remaining area per class is the signed sum of events.
    """

    RECORDED = "recorded"  # +: a new hazard
    CONFIRMED = "confirmed"  # -: SHA piece moved out; +: the same piece counted as CHA
    CANCELLED = "cancelled"  # -: no evidence found by non-technical survey
    REDUCED = "reduced"  # -: found free by technical survey
    CLEARED = "cleared"  # -: cleared of ordnance
    REOPENED = "reopened"  # +: residual contamination found in released land
    CORRECTED = "corrected"  # +/-: an explicit correction, with a reason


RELEASE_KINDS = (EventKind.CANCELLED, EventKind.REDUCED, EventKind.CLEARED)
