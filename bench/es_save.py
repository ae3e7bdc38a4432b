"""Figure (a): eventsourcing's own save-one-event rate, the floor under every command.

A trivial aggregate and a plain `Application` on a SQLite file, with eventsourcing's
defaults: each save is one event in one transaction, as each Keel command is. Keel
cannot save faster than this, so it tells how much of Keel's time is the store's.
"""

from __future__ import annotations

import time
from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


def save_rate(data_dir: Path, seconds: float) -> float:
    """Events saved per second, one event per save, for `seconds`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    app = Application[UUID](
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(data_dir / "plain.db"),
        }
    )
    try:
        counter = Counter()
        app.save(counter)
        saved = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            counter.increment()
            app.save(counter)
            saved += 1
        return saved / (time.perf_counter() - started)
    finally:
        app.close()
