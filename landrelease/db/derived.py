"""The tables derived from the ledger, brought up to date within a transaction on demand.

Ledger events are measured into ``event_regions``, ``event_overlaps`` and ``stock_spans`` once
per transaction, just before it commits (migration 0004): one set-based pass over a whole
import instead of one per statement. Until then, the transaction that wrote the events reads
derived tables that lag behind its own ledger. Every reader of derived tables calls
:func:`settle` first, so a report computed in the same transaction as the writes is right.
"""

from __future__ import annotations

from sqlalchemy import Connection, text


def settle(connection: Connection) -> None:
    """Measure this transaction's pending ledger events now (nothing when none are pending).

    Setting the deferred trigger IMMEDIATE fires what it has queued; setting it back to
    DEFERRED keeps later writes of the transaction measured once, at commit.
    """
    connection.execute(text("SET CONSTRAINTS derived_flushed IMMEDIATE"))
    connection.execute(text("SET CONSTRAINTS derived_flushed DEFERRED"))
