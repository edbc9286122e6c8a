"""Recording a file's new hazards while the rest of it is still being checked.

Checking a large file of new hazards (a national baseline, a survey of a new area) keeps
Python busy with polygons for about as long as the database then spends writing them, and the
two ran one after the other. When every feature of a file records a new hazard, the hazards
accepted so far are recorded on the import's transaction by a second thread, batch by batch,
while later batches are still being checked. Their derived rows are measured once, at commit,
as every transaction's are (migration 0004): measuring them batch by batch costs more in all.

Nothing about all-or-nothing changes. The early records sit in a savepoint of the import's one
transaction: a refusal anywhere in the file rolls the whole transaction back as before, and a
feature recorded early that the later checks skip (already in the database) rolls the savepoint
back, after which the file is applied the ordinary way. The checks that need the database run on
a second connection meanwhile, which sees what is committed: exactly what the import's own
transaction saw before it wrote anything.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import NestedTransaction

from landrelease.ingest.findings import Action, Checked, Progress, Staged
from landrelease.release import HazardInput, Ledger, Recorded

#: Files with fewer features are checked, then applied: there is nothing to overlap.
AHEAD_MIN = 4000

#: Batches checked but not yet recorded; beyond this the checks wait for the writer.
QUEUE_DEPTH = 4


class RecordAhead:
    """A writer thread recording new hazards on ``ledger`` as batches pass their checks."""

    def __init__(
        self,
        ledger: Ledger,
        to_input: Callable[[Staged], HazardInput],
        progress: Progress | None = None,
    ) -> None:
        self.ledger = ledger
        self.to_input = to_input
        self.progress = progress
        self.total = 0
        self.recorded: dict[int, Recorded] = {}
        self.failed: BaseException | None = None
        self.started = False
        self.declined = False
        self._queue: queue.Queue[Sequence[Staged] | None] = queue.Queue(QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._write, name="record-ahead", daemon=True)
        self._savepoint: NestedTransaction | None = None

    @property
    def busy(self) -> bool:
        """Whether the import's connection belongs to the writer thread (until :meth:`finish`)."""
        return self.started

    def offer(self, checked: Checked, batch: Sequence[Staged]) -> None:
        """Hand over a batch whose polygons are checked; ignored once anything is refused, or
        when the file does more than record new hazards."""
        if self.declined or not batch:
            return
        if not self.started:
            if any(s.action != Action.RECORD for s in checked.staged.values()):
                self.declined = True
                return
            self._savepoint = self.ledger.connection.begin_nested()
            self.total = len(checked.staged)
            self.started = True
            self._thread.start()
        if checked.ok and self.failed is None:
            self._queue.put(batch)

    def _write(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self.failed is not None:
                continue  # drain: the savepoint goes back at the end
            try:
                outcomes = self.ledger.record_many([self.to_input(s) for s in batch])
            except Exception as exc:  # the ordinary path meets it again, and reports it
                self.failed = exc
                continue
            self.recorded.update(zip((s.index for s in batch), outcomes, strict=True))
            if self.progress:  # from this thread: the checks report their own stages meanwhile
                self.progress("apply", len(self.recorded), max(self.total, len(self.recorded)))

    def stop(self) -> None:
        """Let the writer finish what it was given; the connection is the caller's again."""
        if self.started and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def finish(self, checked: Checked) -> dict[int, Recorded]:
        """The hazards recorded early, by feature index, if every one is still to be applied
        as it was; otherwise nothing (and their savepoint is rolled back)."""
        self.stop()
        if not self.started or self._savepoint is None:
            return {}
        self.started = False
        keep = self.failed is None and all(
            index in checked.staged and checked.staged[index].action == Action.RECORD
            for index in self.recorded
        )
        if not keep:
            self._savepoint.rollback()
            return {}
        self._savepoint.commit()
        return self.recorded


@contextmanager
def recording_ahead(
    ledger: Ledger,
    features: int,
    to_input: Callable[[Staged], HazardInput],
    progress: Progress | None = None,
) -> Iterator[RecordAhead | None]:
    """A :class:`RecordAhead` for a file of ``features`` features, or None when it is too
    small to gain anything. The writer is always stopped on the way out, error or not, so the
    connection is never used by two threads."""
    if features < AHEAD_MIN:
        yield None
        return
    ahead = RecordAhead(ledger, to_input, progress)
    try:
        yield ahead
    finally:
        ahead.stop()
