"""Reading the notification log a page at a time, for the runner that folds the views.

On SQLite, eventsourcing's `select_notifications` makes each notification a frozen
dataclass from a `sqlite3.Row`, looking every column up by name, and turns the
originator's id from text into a UUID every time. A rebuild reads the whole log that
way in every process that folds a share of the views, and that was about a fifth of
each one's time. `sqlite_pages` runs the same SELECT with rows as plain tuples, makes
each `LoggedEvent` a tuple, and turns each distinct id text of a page into a UUID once
(a page of check-ins names the same journals over and over): the same events in less
than half the time (bench/README.md, figure e).

On PostgreSQL the runner reads with the recorder's own `select_notifications`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder


class Logged(Protocol):
    """What the runner reads of a notification: eventsourcing's `Notification` or a
    `LoggedEvent`."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


class LoggedEvent(NamedTuple):
    """A notification as a tuple: the fields of eventsourcing's `Notification`."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


# The next `limit` notifications from `start` (inclusive), in log order.
PageReader = Callable[[int, int], Sequence[Logged]]


def page_reader(recorder: ApplicationRecorder) -> PageReader:
    if (
        isinstance(recorder, SQLiteApplicationRecorder)
        and recorder.datastore.originator_id_type == "uuid"  # as Keel's always are
    ):
        return sqlite_pages(recorder)

    def select(start: int, limit: int) -> Sequence[Logged]:
        return recorder.select_notifications(start=start, limit=limit)

    return select


def sqlite_pages(recorder: SQLiteApplicationRecorder) -> PageReader:
    """eventsourcing's own SELECT (sqlite.py, `select_notifications`), read faster."""
    statement = (
        "SELECT rowid, originator_id, originator_version, topic, state "
        f"FROM {recorder.events_table_name} WHERE rowid>=? ORDER BY rowid LIMIT ?"
    )

    def select(start: int, limit: int) -> Sequence[Logged]:
        with recorder.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None  # tuples, not sqlite3.Row
            c.execute(statement, (start, limit))
            rows: list[tuple[int, str, int, str, bytes]] = c.fetchall()
        ids: dict[str, UUID] = {}
        page: list[Logged] = []
        append = page.append
        for position, text, version, topic, state in rows:
            originator_id = ids.get(text)
            if originator_id is None:
                originator_id = ids[text] = UUID(text)
            append(LoggedEvent(position, originator_id, version, topic, state))
        return page

    return select
