"""The database schema as SQLAlchemy 2 typed models.

Geometry is stored in EPSG:4326 as MultiPolygon (a difference often yields several parts) and
every area is geodesic m² on the WGS84 ellipsoid, computed once when the row is written. The
ledger (:class:`LedgerEvent`) is append-only: a trigger in the database refuses UPDATE and DELETE,
so history cannot be rewritten by the application, only corrected by new events.

Enumerations are plain text columns with CHECK constraints, so that adding a value is a one-line
migration and the database refuses what the application does not know.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


def _values(enum: type[Enum]) -> str:
    """SQL list of an enumeration's values for a CHECK constraint."""
    return ", ".join(f"'{member.value}'" for member in enum)


class Base(DeclarativeBase):
    """Declarative base of every landrelease table."""


class Region(Base):
    """An administrative unit; reports group hazards by the regions their geometry falls in."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(Text, unique=True, comment="Stable key, e.g. a P-code")
    name: Mapped[str] = mapped_column(Text)
    admin_level: Mapped[int] = mapped_column(SmallInteger, comment="0 = country, 1, 2, 3 ...")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    area_m2: Mapped[float] = mapped_column(Double, comment="Geodesic area on WGS84, m²")

    __table_args__ = (CheckConstraint("admin_level BETWEEN 0 AND 9", name="admin_level_range"),)


class Organisation(Base):
    """An operator or authority that records hazards or carries out activities."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)


class Hazard(Base):
    """A hazardous area: its current geometry and class are the result of its ledger events."""

    __tablename__ = "hazards"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    national_id: Mapped[str] = mapped_column(Text, unique=True, comment="National hazard ID")
    name: Mapped[str | None] = mapped_column(Text)
    hazard_class: Mapped[str] = mapped_column(Text, comment="SHA or CHA")
    contamination: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=HazardStatus.ACTIVE.value)
    geom = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True),
        nullable=True,
        comment="What remains; NULL once released",
    )
    area_m2: Mapped[float] = mapped_column(Double, comment="Remaining geodesic area, m²")
    recorded_date: Mapped[dt.date] = mapped_column(Date)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazards.id"), index=True, comment="Confirmed or reopened from"
    )
    marked_date: Mapped[dt.date | None] = mapped_column(Date, comment="Perimeter marked on")
    fenced_date: Mapped[dt.date | None] = mapped_column(Date, comment="Fenced on")
    version: Mapped[int] = mapped_column(
        Integer, server_default="1", comment="Incremented by every transition"
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(f"hazard_class IN ({_values(HazardClass)})", name="hazard_class_known"),
        CheckConstraint(f"contamination IN ({_values(Contamination)})", name="contamination_known"),
        CheckConstraint(f"status IN ({_values(HazardStatus)})", name="status_known"),
        CheckConstraint("area_m2 >= 0", name="area_not_negative"),
        CheckConstraint("(status = 'active') = (geom IS NOT NULL)", name="active_iff_geometry"),
    )


class Activity(Base):
    """A survey, clearance or marking task whose results move land in the ledger."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(
        Text, unique=True, comment="Report or task number; makes re-imports idempotent"
    )
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(ActivityKind)})", name="activity_kind_known"),
        CheckConstraint(
            "start_date IS NULL OR end_date IS NULL OR start_date <= end_date",
            name="dates_in_order",
        ),
    )


class ActivityItem(Base):
    """Explosive items of one type found and destroyed during an activity."""

    __tablename__ = "activity_items"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), primary_key=True)
    item_type: Mapped[str] = mapped_column(Text, primary_key=True)
    found: Mapped[int] = mapped_column(Integer, server_default="0")
    destroyed: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        CheckConstraint(f"item_type IN ({_values(ItemType)})", name="item_type_known"),
        CheckConstraint("found >= 0 AND destroyed >= 0", name="counts_not_negative"),
    )


class LedgerEvent(Base):
    """One append-only change to one hazard: the piece of geometry it moved and its area."""

    __tablename__ = "ledger_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    sign: Mapped[int] = mapped_column(SmallInteger, comment="+1 adds the piece, -1 removes it")
    hazard_class: Mapped[str] = mapped_column(Text, comment="Class the area counts under")
    piece = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    area_m2: Mapped[float] = mapped_column(Double, comment="Geodesic area of the piece, m²")
    effective_date: Mapped[dt.date] = mapped_column(Date, index=True, comment="In the field")
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), comment="Entered in landrelease"
    )
    related_hazard_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazards.id"), comment="The other hazard of a confirmation or reopening"
    )
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(EventKind)})", name="event_kind_known"),
        CheckConstraint(f"hazard_class IN ({_values(HazardClass)})", name="event_class_known"),
        CheckConstraint("area_m2 >= 0", name="event_area_not_negative"),
        CheckConstraint(
            "(kind IN ('recorded', 'reopened') AND sign = 1)"
            " OR (kind IN ('cancelled', 'reduced', 'cleared') AND sign = -1)"
            " OR (kind = 'confirmed' AND ((sign = -1 AND hazard_class = 'SHA')"
            " OR (sign = 1 AND hazard_class = 'CHA')))"
            " OR (kind = 'corrected' AND sign IN (-1, 1) AND note IS NOT NULL)",
            name="event_sign_fits_kind",
        ),
    )
