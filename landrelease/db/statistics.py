"""Planner statistics of the ledger's tables, refreshed right after a large write.

PostgreSQL plans every query from statistics that autovacuum gathers on its own schedule, a
minute or more after a write. A baseline of thousands of hazards imported into a new database
leaves the ledger's tables with no statistics at all until then, and the planner takes them for
nearly empty: on the shipped boundaries, the map of 20,000 freshly imported hazards took 94 s to
read, and 1.5 s once the tables were analyzed. So a write that large analyzes the tables it
wrote before it returns, the way a bulk load is finished anywhere: about a second for 100,000
hazards, since ANALYZE reads a sample of fixed size.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

#: The tables a large write fills: the ledger, the tables derived from it at commit, and the
#: regions with their parts (loading boundaries measures the ledger into them).
LEDGER_TABLES = (
    "hazards",
    "ledger_events",
    "activities",
    "event_regions",
    "stock_spans",
    "event_overlaps",
    "regions",
    "region_parts",
)

#: Writes of fewer features than this leave the statistics to autovacuum: a monthly file of a
#: few hundred features barely moves them, and analyzing would double its import time.
ANALYZE_AFTER = 1000


def refresh_statistics(engine: Engine) -> None:
    """ANALYZE the ledger's tables (committed work only: call it after the write commits)."""
    with engine.connect() as connection:
        for table in LEDGER_TABLES:  # constants of this module, never user input
            connection.execute(text(f"ANALYZE {table}"))
        connection.commit()
