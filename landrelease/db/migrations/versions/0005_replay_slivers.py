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

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPLAY = """
CREATE OR REPLACE FUNCTION lr_hazard_geom_as_of(hid bigint, as_of date) RETURNS geometry
LANGUAGE plpgsql STABLE AS
$$
DECLARE
    g geometry;
    e record;
BEGIN
    FOR e IN
        SELECT sign, piece FROM ledger_events
        WHERE hazard_id = hid AND effective_date <= as_of
        ORDER BY effective_date, id
    LOOP
        IF e.sign > 0 THEN
            g := CASE WHEN g IS NULL THEN e.piece ELSE ST_Union(g, e.piece) END;
        ELSIF g IS NOT NULL THEN
            g := ST_Difference(g, e.piece);
            IF lr_area_m2(g) < {sliver} THEN
                g := NULL;
            END IF;
        END IF;
    END LOOP;
    IF g IS NULL OR ST_IsEmpty(g) THEN
        RETURN NULL;
    END IF;
    RETURN ST_Multi(ST_CollectionExtract(g, 3));
END
$$
"""


def upgrade() -> None:
    op.execute(_REPLAY.format(sliver="1.0"))


def downgrade() -> None:
    op.execute(_REPLAY.format(sliver="0.0"))
