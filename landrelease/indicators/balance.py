"""The national stock-flow balance per hazard class, computed from the ledger.

Flows are sums of the areas stored on ledger events; the remaining stock is the area of the
hazards' geometry. The two are computed independently, so the gap column is a real check:
recorded + confirmed in + reopened ± corrections − confirmed out − cancelled − reduced −
cleared − remaining should be zero, and a row that does not balance is shown with its gap.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import Connection, text

#: Tolerance of the balance: 0.01 m² plus 1e-9 of the recorded area (see DESIGN.md).
ABS_TOLERANCE_M2 = 0.01
REL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ClassBalance:
    """Stock and flows of one hazard class since the ledger began, in m²."""

    hazard_class: str
    active_hazards: int
    recorded: float
    confirmed_in: float
    reopened: float
    corrected: float
    confirmed_out: float
    cancelled: float
    reduced: float
    cleared: float
    remaining: float

    @property
    def released(self) -> float:
        return self.cancelled + self.reduced + self.cleared

    @property
    def gap(self) -> float:
        """Flows minus stock: zero when the row balances."""
        flows = (
            self.recorded
            + self.confirmed_in
            + self.reopened
            + self.corrected
            - self.confirmed_out
            - self.released
        )
        return flows - self.remaining

    @property
    def balances(self) -> bool:
        scale = self.recorded + self.confirmed_in + self.reopened
        return abs(self.gap) <= ABS_TOLERANCE_M2 + REL_TOLERANCE * scale


_FLOWS = text(
    """
    SELECT hazard_class, kind, sign, sum(area_m2) AS area
    FROM ledger_events GROUP BY hazard_class, kind, sign
    """
)

_STOCK = text(
    """
    SELECT hazard_class, count(*) AS n, sum(area_m2) AS area
    FROM hazards WHERE status = 'active' GROUP BY hazard_class
    """
)

_FLOW_FIELDS = {
    ("recorded", 1): "recorded",
    ("confirmed", 1): "confirmed_in",
    ("reopened", 1): "reopened",
    ("corrected", 1): "corrected",
    ("corrected", -1): "corrected",
    ("confirmed", -1): "confirmed_out",
    ("cancelled", -1): "cancelled",
    ("reduced", -1): "reduced",
    ("cleared", -1): "cleared",
}


def national_balance(connection: Connection) -> list[ClassBalance]:
    """One balance row per hazard class (SHA, CHA), for the whole ledger up to now."""
    values: dict[str, dict[str, float]] = {
        cls: {f.name: 0.0 for f in fields(ClassBalance) if f.name != "hazard_class"}
        for cls in ("SHA", "CHA")
    }
    for row in connection.execute(_FLOWS):
        name = _FLOW_FIELDS[(row.kind, row.sign)]
        # Corrections are net: land added counts +, land removed counts -.
        signed = row.area * row.sign if row.kind == "corrected" else row.area
        values[row.hazard_class][name] += signed
    for row in connection.execute(_STOCK):
        values[row.hazard_class]["active_hazards"] = row.n
        values[row.hazard_class]["remaining"] = row.area
    return [
        ClassBalance(
            hazard_class=cls,
            **{k: (int(v) if k == "active_hazards" else v) for k, v in vals.items()},
        )
        for cls, vals in values.items()
    ]


def items_destroyed(connection: Connection) -> dict[str, int]:
    """Explosive items destroyed, by type, over all activities."""
    rows = connection.execute(
        text("SELECT item_type, sum(destroyed) FROM activity_items GROUP BY item_type ORDER BY 1")
    ).all()
    return {item_type: int(total) for item_type, total in rows}
