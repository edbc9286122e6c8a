"""The as-of replay closes a hazard on a sliver, as the live transition does.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

A release whose remainder would fall under 1 m² (``release.SLIVER_M2``) takes the sliver with
its piece and closes the hazard. Replaying the ledger subtracts the pieces one by one, and the
differences can leave a residue of a fraction of a square metre where the live cut left none:
the replay then showed the hazard open on dates it was closed. The replay now applies the same
rule after each piece taken out.
"""

from collections.abc import Sequence

from alembic import op

from landrelease.db.revisions import function_statement, load_revision, replaceable

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# After each piece taken out, a remainder under the sliver closes the hazard (release.SLIVER_M2).
_DIFFERENCE = "g := ST_Difference(g, e.piece);"
_SLIVER_RULE = _DIFFERENCE + " IF lr_area_m2(g) < {sliver} THEN g := NULL; END IF;"


def _replay(sliver: float | None) -> str:
    """0001's replay function, with the sliver rule added (None: as 0001 wrote it)."""
    statement = function_statement(load_revision("0001_ledger_schema.py"), "lr_hazard_geom_as_of")
    assert _DIFFERENCE in statement
    if sliver is not None:
        statement = statement.replace(_DIFFERENCE, _SLIVER_RULE.format(sliver=sliver))
    return replaceable(statement)


def upgrade() -> None:
    op.execute(_replay(1.0))


def downgrade() -> None:
    op.execute(_replay(None))
