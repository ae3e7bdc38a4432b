"""View stores: eventsourcing tracking recorders that also hold a projection's tables.

`apply` writes a batch of row operations and the tracking position in one transaction,
so a view never holds an event twice or misses one, whatever crashes. The SQL is plain
enough to run unchanged on SQLite and PostgreSQL; only the placeholder differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from operator import itemgetter
from typing import Any

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from projections.rows import Delete, Fold, Patch, Put, Row, RowOp, Table
from services.settings import Settings
from services.sqlite_store import pragmas

REBUILD_CACHE_KIB = 32 * 1024


@lru_cache(maxsize=1024)
def _sql(kind: str, table: str, key: tuple[str, ...], columns: tuple[str, ...], p: str) -> str:
    where = " AND ".join(f"{k} = {p}" for k in key)
    if kind == "put":
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        on_conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(p for _ in columns)}) "
            f"ON CONFLICT ({', '.join(key)}) {on_conflict}"
        )
    if kind == "delete":
        return f"DELETE FROM {table} WHERE {where}"
    sets = ", ".join(f"{c} = {p}" for c in columns)
    return f"UPDATE {table} SET {sets} WHERE {where}"


@lru_cache(maxsize=256)
def _row_getter(table: str, columns: tuple[str, ...]) -> Callable[[Row], tuple[Any, ...]]:
    """A row's values in column order (a KeyError names a column a Put left out)."""
    get = itemgetter(*columns)
    if len(columns) == 1:
        return lambda row: (get(row),)
    return get


class ViewStore(TrackingRecorder):
    """What the runner and the queries need of a store, on any database."""

    placeholder = "?"
    tables: tuple[Table, ...] = ()
    # Per table: the SQL of a Put and how to read a row's values in column order.
    _put_plans: dict[str, tuple[str, Callable[[Row], tuple[Any, ...]]]]

    # --- provided by the database-specific subclasses ----------------------------

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _tracking_table(self) -> str:
        raise NotImplementedError

    # --- schema --------------------------------------------------------------------

    def install(self, tables: Sequence[Table]) -> None:
        self.tables = tuple(tables)
        self._put_plans = {}
        with self._transaction(commit=True) as c:
            for table in self.tables:
                columns = ", ".join(
                    f"{col} {table.types.get(col, 'TEXT')}" for col in table.columns
                )
                key = ", ".join(table.key)
                c.execute(
                    f"CREATE TABLE IF NOT EXISTS {table.name} ({columns}, PRIMARY KEY ({key}))"
                )
        self.create_indexes()

    def _indexes(self) -> list[tuple[str, Table, tuple[str, ...]]]:
        return [
            (f"{table.name}_{'_'.join(index)}_idx", table, index)
            for table in self.tables
            for index in table.indexes
        ]

    def create_indexes(self) -> None:
        with self._transaction(commit=True) as c:
            for name, table, index in self._indexes():
                c.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table.name} ({', '.join(index)})")

    def rebuilding(self) -> AbstractContextManager[Any]:
        """Around a rebuild: the store may trade durability for speed, since a view
        can always be folded again."""
        return nullcontext()

    def drop_indexes(self) -> None:
        """For a rebuild: building an index once at the end is cheaper than keeping it
        up to date row by row. `install` (run at every start) puts them back anyway."""
        with self._transaction(commit=True) as c:
            for name, _, _ in self._indexes():
                c.execute(f"DROP INDEX IF EXISTS {name}")

    # --- writing -------------------------------------------------------------------

    def apply(self, ops: Sequence[RowOp], tracking: Tracking, *, after: int) -> None:
        """Write the rows and move the position from `after` to the tracking's, together,
        or neither. The move is a compare-and-set: when the view is no longer at
        `after` (another runner moved it on, or a rebuild emptied it meanwhile), this
        raises IntegrityError and writes nothing, and the caller reads the position
        again. (eventsourcing's own tracking only refuses a position that goes back,
        so a runner that missed a reset would have moved the view past rows it never
        wrote.)"""
        with self._transaction(commit=True) as c:
            for sql, params in self._batches(ops):
                c.executemany(sql, params)
            self._move(c, tracking, after)

    def _move(self, c: Any, tracking: Tracking, after: int) -> None:
        p, table = self.placeholder, self._tracking_table()
        name, position = tracking.application_name, tracking.notification_id
        if after == 0:
            # A view never written has no row; an emptied one has its row at 0.
            c.execute(
                f"INSERT INTO {table} (application_name, notification_id) VALUES ({p}, {p}) "
                "ON CONFLICT (application_name) DO UPDATE SET notification_id = "
                f"excluded.notification_id WHERE {table}.notification_id = 0 "
                "RETURNING notification_id",
                (name, position),
            )
        else:
            c.execute(
                f"UPDATE {table} SET notification_id = {p} "
                f"WHERE application_name = {p} AND notification_id = {p} "
                "RETURNING notification_id",
                (position, name, after),
            )
        if c.fetchone() is None:
            raise IntegrityError(f"the view is no longer at position {after} of {name}")

    def _batches(self, ops: Sequence[RowOp]) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """The operations as few executemany calls as keep their meaning, which is what
        makes a rebuild fast. Consecutive operations with equal SQL share one call. The
        operations of one table keep their order (a Patch follows the Put it patches);
        those of different tables commute, because no table refers to another, so each
        table's operations are batched apart: otherwise a fold that interleaves two
        tables (a goal's Patch, then its change's Put) would go one row at a time."""
        runs: dict[str, list[tuple[str, list[tuple[Any, ...]]]]] = {}
        p = self.placeholder
        plans = self._put_plans
        for op in ops:
            table = op.table
            if type(op) is Put:
                # A Put holds the whole row, so its SQL depends on the table alone.
                plan = plans.get(table.name)
                if plan is None:
                    sql = _sql("put", table.name, table.key, table.columns, p)
                    plan = plans[table.name] = (sql, _row_getter(table.name, table.columns))
                sql = plan[0]
                params: tuple[Any, ...] = plan[1](op.row)
            elif type(op) is Delete:
                sql, params = _sql("delete", table.name, table.key, (), p), op.key
            else:
                assert isinstance(op, Patch)
                sql = _sql("patch", table.name, table.key, tuple(op.values), p)
                params = (*op.values.values(), *op.key)
            run = runs.get(table.name)
            if run is None:
                run = runs[table.name] = []
            if run and run[-1][0] is sql:
                run[-1][1].append(params)
            else:
                run.append((sql, [params]))
        return [batch for run in runs.values() for batch in run]

    def reset(self, application_name: str) -> None:
        """Empty the view and forget its position, so it can be rebuilt from the log."""
        with self._transaction(commit=True) as c:
            for table in self.tables:
                c.execute(f"DELETE FROM {table.name}")
            # The position goes back to 0 rather than away: a runner elsewhere that
            # still believes the view further on then fails its next move (see `apply`).
            tracking, p = self._tracking_table(), self.placeholder
            c.execute(
                f"INSERT INTO {tracking} (application_name, notification_id) VALUES ({p}, 0) "
                "ON CONFLICT (application_name) DO UPDATE SET notification_id = 0",
                (application_name,),
            )

    # --- reading -------------------------------------------------------------------

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query written with `?` placeholders."""
        if self.placeholder != "?":
            sql = sql.replace("?", self.placeholder)
        with self._transaction(commit=False) as c:
            c.execute(sql, tuple(params))
            return [dict(row) for row in c.fetchall()]

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table, in key order: for comparing two builds."""
        return {
            t.name: self.select(f"SELECT * FROM {t.name} ORDER BY {', '.join(t.key)}")
            for t in self.tables
        }

    def close(self) -> None:
        raise NotImplementedError

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0

    def wait_until(self, application_name: str, position: int, timeout: float) -> bool:
        """Poll for read-your-writes; works when the runner is in another process."""
        deadline = time.monotonic() + timeout
        pause = 0.002
        while self.position(application_name) < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)
        return True


class SQLiteViewStore(ViewStore, SQLiteTrackingRecorder):
    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)

    def rebuilding(self) -> AbstractContextManager[Any]:
        # No waiting for the disk at each commit: a rebuild that a power cut interrupts
        # is started again (see services/sqlite_store.py). A bigger page cache, since a
        # rebuild writes rows all over each table: 32 MiB instead of 2.
        return pragmas(self.datastore, synchronous="OFF", cache_size=str(-REBUILD_CACHE_KIB))

    def _tracking_table(self) -> str:
        return "tracking"

    def close(self) -> None:
        self.datastore.close()


class PostgresViewStore(ViewStore, PostgresTrackingRecorder):
    placeholder = "%s"

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)

    def _tracking_table(self) -> str:
        return self.tracking_table_name

    def close(self) -> None:
        self.datastore.close()


def open_view_store(settings: Settings, projection: Fold) -> ViewStore:
    """The store for one projection: its own SQLite file, or its own tables in PostgreSQL."""
    # A view can always be folded again from the log: it need not wait for the disk.
    env = Environment(projection.name, settings.eventsourcing_env(projection.name, "NORMAL"))
    factory = InfrastructureFactory[TrackingRecorder].construct(env=env)
    store_class = SQLiteViewStore if settings.store == "sqlite" else PostgresViewStore
    store = factory.tracking_recorder(store_class)
    assert isinstance(store, ViewStore)
    store.install(projection.tables)
    return store
