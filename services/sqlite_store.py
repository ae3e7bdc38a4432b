"""eventsourcing's SQLite factory, with a say in how hard each commit waits for disk.

SQLite in WAL mode is atomic and survives a crashed or killed process at any
`synchronous` level; the level decides what a power cut may take. FULL syncs the log on
every commit (about 200 us here); NORMAL syncs at checkpoints, so a power cut can lose
the last commits, never corrupt the file. Views use NORMAL: a lost tail is folded again
from the log, because a view's rows and position commit together. The event store's
level is the KEEL_SQLITE_SYNCHRONOUS setting. A rebuild writes its views at OFF (see
`pragmas`): after a power cut during a rebuild, delete the views' files and rebuild.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


class _Pool(SQLiteConnectionPool):
    def __init__(self, *, db_name: str, lock_timeout: int | None, synchronous: str) -> None:
        super().__init__(db_name=db_name, lock_timeout=lock_timeout)
        # Pragmas for every connection. Changing them applies to each connection the
        # next time it is handed out, which is always between transactions.
        self.pragmas = {"synchronous": synchronous}
        self._applied: dict[int, dict[str, str]] = {}

    def get_connection(
        self, timeout: float | None = None, *, is_writer: bool | None = None
    ) -> SQLiteConnection:
        connection = super().get_connection(timeout, is_writer=is_writer)
        self._apply(connection)
        return connection

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        self._apply(connection)
        return connection

    def _apply(self, connection: SQLiteConnection) -> None:
        applied = self._applied.setdefault(id(connection), {})
        for name, value in self.pragmas.items():
            if applied.get(name) != value:
                connection._sqlite_conn.execute(f"PRAGMA {name}={value}")
                applied[name] = value


@contextmanager
def pragmas(datastore: SQLiteDatastore, **values: str) -> Iterator[None]:
    """Use these pragmas within the block, then the ones before. At the end, a
    checkpoint (at the usual `synchronous` level) puts what was written on disk."""
    pool = datastore.pool
    if not isinstance(pool, _Pool):
        yield
        return
    before = dict(pool.pragmas)
    with datastore.transaction(commit=False) as c:
        for name in values.keys() - before.keys():
            c.execute(f"PRAGMA {name}")
            before[name] = str(c.fetchone()[0])
    pool.pragmas.update(values)
    try:
        yield
    finally:
        pool.pragmas = before
        with datastore.transaction(commit=False) as c:
            c.execute("PRAGMA wal_checkpoint(FULL)")


class Factory(SQLiteFactory):
    SQLITE_SYNCHRONOUS = "SQLITE_SYNCHRONOUS"

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        level = (self.env.get(self.SQLITE_SYNCHRONOUS) or "FULL").upper()
        if level not in LEVELS:
            msg = f"{self.SQLITE_SYNCHRONOUS} must be one of {', '.join(LEVELS)}, not {level!r}"
            raise OSError(msg)
        old = self.datastore.pool
        self.datastore.pool = _Pool(
            db_name=old.db_name, lock_timeout=old.lock_timeout, synchronous=level
        )
        old.close()
