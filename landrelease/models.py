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

from landrelease.vocabulary import (
    ActivityKind,
    Contamination,
    EventKind,
    HazardClass,
    HazardStatus,
    ItemType,
)


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
    admin_level: Mapped[int] = mapped_column(
        SmallInteger, index=True, comment="0 = country, 1, 2, 3 ..."
    )
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
    # Checked per statement, not by a foreign key (migration 0009).
    organisation_id: Mapped[int | None] = mapped_column(BigInteger)
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
    # Checked per statement, not by foreign keys (migrations 0007, 0009): hazards are never
    # deleted, nor are activities while events name them.
    hazard_id: Mapped[int] = mapped_column(BigInteger, index=True)
    activity_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # as hazard_id (0009)
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


# -- indicators: figures derived from the ledger (migration 0002) ------------------------------

from sqlalchemy import Index, UniqueConstraint  # noqa: E402
from sqlalchemy.dialects.postgresql import JSONB  # noqa: E402


class ReleaseMethod(str, Enum):
    """How land was released: the ledger's release kinds, as work plans name them."""

    CANCELLED = EventKind.CANCELLED.value
    REDUCED = EventKind.REDUCED.value
    CLEARED = EventKind.CLEARED.value


class CheckMethod(str, Enum):
    """How an annual table's closing stock was computed, independently of its flows."""

    GEOMETRY = "geometry"  # snapshot geometry as of the date, intersected with the regions
    LEDGER = "ledger"  # a separate per-hazard sum over the ledger


class RegionPart(Base):
    """A region cut into parts of at most 64 vertices (``ST_Subdivide``), kept by triggers.

    A hazard across a boundary is intersected with the few small parts its box touches instead
    of the whole boundary: about 30 times faster with national boundaries of thousands of
    vertices. Parts tile their region; the bits of a hazard in several parts are united before
    they are measured (see ``lr_area_in_parts_m2``).
    """

    __tablename__ = "region_parts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"), index=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)


class EventRegion(Base):
    """The part of one ledger event's piece that lies in one region, measured once.

    Written by a trigger when the event (or the region) is inserted, so reports sum stored
    areas instead of intersecting and measuring geography for every table. The event's kind,
    sign, class, date and hazard and the region's level are copied here: the ledger is
    append-only, so the copies never go stale, and a report reads this one table.
    """

    __tablename__ = "event_regions"

    # No foreign keys (migrations 0004, 0006): the row is made from its event, at its commit,
    # and a trigger on regions deletes it with its region.
    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    region_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    admin_level: Mapped[int] = mapped_column(SmallInteger, comment="The region's admin level")
    hazard_id: Mapped[int] = mapped_column(BigInteger, index=True, comment="The event's hazard")
    hazard_class: Mapped[str] = mapped_column(Text, comment="The event's class")
    kind: Mapped[str] = mapped_column(Text, comment="The event's kind")
    sign: Mapped[int] = mapped_column(SmallInteger, comment="The event's sign")
    effective_date: Mapped[dt.date] = mapped_column(Date, comment="The event's effective date")
    area_m2: Mapped[float] = mapped_column(
        Double, comment="Geodesic area of the piece within the region, m²"
    )

    __table_args__ = (
        CheckConstraint("area_m2 > 0", name="event_region_area_positive"),
        Index("ix_event_regions_level_date", "admin_level", "effective_date"),
    )


class StockSpan(Base):
    """A hazard's remaining area in one region (or in all), constant over a span of dates.

    The step function of each hazard's signed sum of pieces, per region and class, rewritten by
    the ledger trigger for every hazard an insert touches (a back-dated event changes the spans
    after it). Reports read open hazards and remaining area on any date from here in one scan,
    instead of grouping the whole ledger by hazard; zero-area spans are not stored.
    """

    __tablename__ = "stock_spans"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # No foreign keys (migrations 0004, 0006): the row is made from the hazard's events, the
    # unique key below leads with hazard_id, and a trigger on regions deletes regional spans.
    hazard_id: Mapped[int] = mapped_column(BigInteger)
    region_id: Mapped[int | None] = mapped_column(
        BigInteger, comment="NULL: the whole hazard, wherever it lies"
    )
    admin_level: Mapped[int | None] = mapped_column(
        SmallInteger, comment="The region's admin level; NULL with region_id"
    )
    hazard_class: Mapped[str] = mapped_column(Text, comment="Class the area counts under")
    valid_from: Mapped[dt.date] = mapped_column(Date, comment="First day the area holds")
    valid_until: Mapped[dt.date | None] = mapped_column(
        Date, comment="Day of the next change (exclusive); NULL while it lasts"
    )
    area_m2: Mapped[float] = mapped_column(Double, comment="Remaining area over the span, m²")

    __table_args__ = (
        UniqueConstraint(
            "hazard_id",
            "region_id",
            "hazard_class",
            "valid_from",
            name="stock_span_once",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint(
            "valid_until IS NULL OR valid_from < valid_until", name="stock_span_not_empty"
        ),
        CheckConstraint("(region_id IS NULL) = (admin_level IS NULL)", name="stock_span_level"),
        Index("ix_stock_spans_level", "admin_level"),
    )


class EventOverlap(Base):
    """Two ledger pieces of different hazards whose interiors overlap, and by how much.

    Written by the ledger trigger. A hazard's land on any date is the signed sum of its pieces,
    so the overlap of two hazards on a date is the signed sum of their pieces' overlaps; reports
    use it to find, without a spatial self-join, the few hazards that may count a m² twice.
    """

    __tablename__ = "event_overlaps"

    event_id: Mapped[int] = mapped_column(ForeignKey("ledger_events.id"), primary_key=True)
    other_event_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_events.id"), primary_key=True, index=True
    )
    area_m2: Mapped[float] = mapped_column(
        Double, comment="Geodesic area of the intersection of the two pieces, m²"
    )

    __table_args__ = (
        CheckConstraint("event_id < other_event_id", name="event_overlap_ordered"),
        CheckConstraint("area_m2 > 0", name="event_overlap_area_positive"),
    )


class WorkPlan(Base):
    """A work plan (Lausanne Action Plan, Action 19): annual targets up to a deadline."""

    __tablename__ = "work_plans"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True, comment="e.g. 'Article 4 extension 2023'")
    deadline: Mapped[dt.date] = mapped_column(
        Date, comment="Article 4 (or Article 5) clearance deadline"
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    note: Mapped[str | None] = mapped_column(Text)


class WorkPlanTarget(Base):
    """Area a plan means to address in one year, in one region (or the country), by a method."""

    __tablename__ = "work_plan_targets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("work_plans.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int] = mapped_column(SmallInteger, comment="Calendar year of the target")
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="CASCADE"), comment="NULL: the whole country"
    )
    method: Mapped[str | None] = mapped_column(
        Text, comment="cancelled, reduced or cleared; NULL: any method"
    )
    target_m2: Mapped[float] = mapped_column(Double, comment="Area to release, m²")
    entered_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        UniqueConstraint(
            "plan_id",
            "year",
            "region_id",
            "method",
            name="work_plan_target_once",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint(
            f"method IS NULL OR method IN ({_values(ReleaseMethod)})", name="target_method_known"
        ),
        CheckConstraint("target_m2 >= 0", name="target_not_negative"),
        CheckConstraint("year BETWEEN 1990 AND 2100", name="target_year_plausible"),
    )


class PublishedReport(Base):
    """An annual table as filed: later back-dated changes show as restatements of it."""

    __tablename__ = "published_reports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(SmallInteger, comment="Reporting year")
    admin_level: Mapped[int] = mapped_column(SmallInteger, comment="Admin level of the rows")
    published_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_event_id: Mapped[int | None] = mapped_column(
        BigInteger, comment="Highest ledger event id when the report was frozen"
    )
    check_method: Mapped[str] = mapped_column(Text, comment="How the closing stock was checked")
    figures: Mapped[list[dict[str, object]]] = mapped_column(
        JSONB, comment="The frozen rows of the annual table"
    )
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("year", "admin_level", name="published_once_per_year_and_level"),
        CheckConstraint(f"check_method IN ({_values(CheckMethod)})", name="check_method_known"),
        CheckConstraint("admin_level BETWEEN 0 AND 9", name="published_level_range"),
        CheckConstraint("year BETWEEN 1990 AND 2100", name="published_year_plausible"),
    )


# -- imports: field files applied (migration 0003) ---------------------------------------------

from sqlalchemy.dialects.postgresql import ARRAY  # noqa: E402


class Import(Base):
    """A field file applied to the ledger, recognised by its bytes when it comes again."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(Text, comment="SHA-256 of the file's bytes, hex")
    file_name: Mapped[str] = mapped_column(Text, comment="Name of the file as received")
    layers: Mapped[str] = mapped_column(
        Text,
        server_default="",
        comment="Layers read, comma-separated (a GeoPackage is imported layer by layer)",
    )
    profile: Mapped[str] = mapped_column(Text, comment="Import profile used")
    imported_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    features: Mapped[int] = mapped_column(Integer, comment="Features read from the file")
    applied: Mapped[int] = mapped_column(
        Integer, comment="Features applied (the rest were already in the database)"
    )
    activity_references: Mapped[list[str]] = mapped_column(
        ARRAY(Text),
        server_default="{}",
        comment="References of the activities the file created",
    )
    summary: Mapped[dict[str, object]] = mapped_column(
        JSONB, comment="Counts and m² by kind and class"
    )
    problems: Mapped[list[dict[str, object]] | None] = mapped_column(
        JSONB,
        comment="Problems found in the file (feature, source ID, code, action, message); "
        "NULL for a file applied before they were kept",
    )

    __table_args__ = (
        UniqueConstraint("sha256", "layers", name="imported_once"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("applied >= 0 AND applied <= features", name="applied_within_features"),
    )


class DerivedPending(Base):
    """A ledger event of the current transaction whose derived rows are not yet written.

    Filled by the statement trigger on ``ledger_events`` and emptied by the deferred trigger on
    :class:`DerivedFlush` just before commit (migration 0004): never seen outside a transaction.
    """

    __tablename__ = "derived_pending"
    __table_args__ = (
        {"comment": "Ledger events of the current transaction not yet in the derived tables"},
    )

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class DerivedFlush(Base):
    """One row per transaction with pending events; its deferred trigger measures them."""

    __tablename__ = "derived_flush"
    __table_args__ = (
        {"comment": "One row per transaction with pending events; its trigger measures them"},
    )

    xact: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
