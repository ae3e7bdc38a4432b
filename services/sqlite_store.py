"""eventsourcing's SQLite factory, with a say in how hard each commit waits for disk.

SQLite in WAL mode is atomic and survives a crashed or killed process at any
`synchronous` level; the level decides what a power cut may take. FULL syncs the log on
every commit (about 200 us here); NORMAL syncs at checkpoints, so a power cut can lose
the last commits, never corrupt the file. Views use NORMAL: a lost tail is folded again
from the log, because a view's rows and position commit together. The event store's
level is the KEEL_SQLITE_SYNCHRONOUS setting.
"""

from __future__ import annotations

from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory
from eventsourcing.utils import Environment, EnvType

LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


class _Pool(SQLiteConnectionPool):
    def __init__(self, *, db_name: str, lock_timeout: int | None, synchronous: str) -> None:
        super().__init__(db_name=db_name, lock_timeout=lock_timeout)
        self.synchronous = synchronous

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection._sqlite_conn.execute(f"PRAGMA synchronous={self.synchronous}")
        return connection


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
