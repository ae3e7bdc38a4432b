"""The vocabulary a fold speaks: tables, and the row operations an event turns into.

A fold never touches a database. It returns `Put`, `Patch` and `Delete` operations, which a store
applies (with its tracking position, in one transaction) and which `apply_in_memory`
applies to plain dicts, so folds can be tested without infrastructure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

Row = dict[str, Any]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    # SQL column types, where TEXT is not right; both SQLite and PostgreSQL read these.
    types: Mapping[str, str] = field(default_factory=dict)

    def key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[k] for k in self.key)


@dataclass(frozen=True, slots=True)
class Put:
    """Insert the whole row, or replace the row with the same key."""

    table: Table
    row: Row


@dataclass(frozen=True, slots=True)
class Patch:
    """Set some columns of an existing row; a row that is not there is left alone."""

    table: Table
    key: tuple[Any, ...]
    values: Row


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove the row with this key, if it is there."""

    table: Table
    key: tuple[Any, ...]


RowOp = Put | Patch | Delete


# Folds turn the same few ids (teams, members, journals) and days into text over and
# over: for every check-in, its journal's and its day. Making each text once makes
# the work-life fold a fifth faster in a rebuild. Unique ids (a win's, a
# recognition's) are not worth keeping.
@lru_cache(maxsize=65_536)
def id_text(id_: UUID) -> str:
    return str(id_)


@lru_cache(maxsize=65_536)
def day_text(day: date) -> str:
    return day.isoformat()


class Fold(Protocol):
    """A projection: its name, its tables, and a pure function of one event."""

    name: str
    tables: tuple[Table, ...]

    def fold(self, event: object, position: int) -> list[RowOp]: ...


Tables = dict[str, dict[tuple[Any, ...], Row]]


def apply_in_memory(tables: Tables, ops: Iterable[RowOp]) -> Tables:
    """The meaning of the row operations, on dicts: what every store must reproduce."""
    for op in ops:
        rows = tables.setdefault(op.table.name, {})
        if isinstance(op, Put):
            rows[op.table.key_of(op.row)] = dict(op.row)
        elif isinstance(op, Delete):
            rows.pop(op.key, None)
        elif op.key in rows:
            rows[op.key].update(op.values)
    return tables


def fold_all(projection: Fold, events: Iterable[tuple[object, int]]) -> Tables:
    tables: Tables = {t.name: {} for t in projection.tables}
    for event, position in events:
        apply_in_memory(tables, projection.fold(event, position))
    return tables
