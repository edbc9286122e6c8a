"""The commit-time flush says how far it has got, to a session that asks.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

Measuring a national baseline's events into the derived tables is one statement of 13-20 s,
half of the import, and the officer saw only its elapsed time. After each of its three steps
the flush now raises a notice with the share of the work done, ``landrelease measured 50``,
measured on 100,000 new hazards: the areas in regions about half, the overlap probes an eighth,
the stock spans the rest. Only a session that set ``landrelease.progress`` to ``on`` gets them
(:func:`landrelease.db.derived.settle`, which reads them): any other transaction, and psql,
commits in silence as before.
"""

from collections.abc import Sequence

from alembic import op

from landrelease.db.revisions import load_revision

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Share of the flush done after each step, in percent.
_DONE = {"regions": 50, "overlaps": 62, "spans": 100}


def _notice(step: str) -> str:
    """The statement run after ``step``: a notice for a session that asked for them."""
    return (
        "IF current_setting('landrelease.progress', true) = 'on' THEN "
        f"RAISE NOTICE 'landrelease measured %', {_DONE[step]}; END IF"
    )


def _flush(done: bool) -> str:
    """0008's flush, with the notices (``done``) or without."""
    m0008 = load_revision("0008_measure_by_region_parts.py")
    return m0008._flush(m0008._MEASURE_PENDING, done=_notice if done else None)


def upgrade() -> None:
    op.execute(_flush(done=True))


def downgrade() -> None:
    op.execute(_flush(done=False))
