"""The tables derived from the ledger, brought up to date within a transaction on demand.

Ledger events are measured into ``event_regions``, ``event_overlaps`` and ``stock_spans`` once
per transaction, just before it commits (migration 0004): one set-based pass over a whole
import instead of one per statement. Until then, the transaction that wrote the events reads
derived tables that lag behind its own ledger. Every reader of derived tables calls
:func:`settle` first, so a report computed in the same transaction as the writes is right.
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg.errors import Diagnostic
from sqlalchemy import Connection, text

#: The notice the flush raises after each step, followed by the share done in percent
#: (migration 0011), when the session's ``landrelease.progress`` is ``on``.
MEASURED = "landrelease measured "


def settle(connection: Connection, progress: Callable[[int], None] | None = None) -> None:
    """Measure this transaction's pending ledger events now (nothing when none are pending).

    Setting the deferred trigger IMMEDIATE fires what it has queued; setting it back to
    DEFERRED keeps later writes of the transaction measured once, at commit. ``progress`` is
    called with the share done, in percent, as each step of the measuring ends (the notices
    arrive while the statement is still running), and last with 100 in any case, once: with
    nothing pending there are no steps, and the caller is still told it is done.
    """
    if progress is None:
        _fire(connection)
        return
    driver = connection.connection.driver_connection
    assert driver is not None

    reached = [0]

    def heard(notice: Diagnostic) -> None:
        message = notice.message_primary or ""
        if message.startswith(MEASURED):
            reached.append(int(message.removeprefix(MEASURED)))
            progress(reached[-1])

    connection.execute(text("SET LOCAL landrelease.progress = 'on'"))
    driver.add_notice_handler(heard)
    try:
        _fire(connection)
    finally:
        driver.remove_notice_handler(heard)
        connection.execute(text("SET LOCAL landrelease.progress = 'off'"))
    if reached[-1] < 100:
        progress(100)


def _fire(connection: Connection) -> None:
    connection.execute(text("SET CONSTRAINTS derived_flushed IMMEDIATE"))
    connection.execute(text("SET CONSTRAINTS derived_flushed DEFERRED"))
