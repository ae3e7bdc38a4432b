"""The runner's read of the log gives what eventsourcing's `select_notifications` gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import Notification
from eventsourcing.sqlite import SQLiteApplicationRecorder

from services.bootstrap import Container, bootstrap
from services.log_pages import Logged, LoggedEvent, page_reader, sqlite_pages
from services.settings import Settings
from tests.test_runner import populate


@pytest.fixture
def sqlite_container(sqlite_settings: Settings) -> Iterator[Container]:
    built = bootstrap(sqlite_settings)
    try:
        populate(built.keel)
        yield built
    finally:
        built.close()


def _fields(page: Any) -> list[tuple[Any, ...]]:
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in page]


def _pages(read: Any, start: int, limit: int) -> list[list[Logged]]:
    pages = []
    while page := read(start, limit):
        pages.append(page)
        start = page[-1].id + 1
    return pages


def test_on_sqlite_each_page_holds_what_eventsourcing_selects(
    sqlite_container: Container,
) -> None:
    recorder = sqlite_container.keel.recorder
    read = page_reader(recorder)
    head = recorder.max_notification_id()
    assert head is not None
    assert head > 10

    for start in (1, 2, head - 1, head, head + 1):
        for limit in (1, 3, 1000):
            expected = recorder.select_notifications(start=start, limit=limit)
            got = read(start, limit)
            assert {type(n) for n in got} <= {LoggedEvent}
            assert _fields(got) == _fields(expected)
    # Page after page, the whole log, in order and once.
    assert [n.id for page in _pages(read, 1, 4) for n in page] == list(range(1, head + 1))


def test_on_sqlite_each_id_becomes_one_uuid_a_page(sqlite_container: Container) -> None:
    recorder = sqlite_container.keel.recorder
    assert isinstance(recorder, SQLiteApplicationRecorder)

    page = sqlite_pages(recorder)(1, 1000)

    by_text: dict[str, set[int]] = {}
    for n in page:
        by_text.setdefault(str(n.originator_id), set()).add(id(n.originator_id))
    assert any(len([n for n in page if str(n.originator_id) == t]) > 1 for t in by_text)
    assert all(len(objects) == 1 for objects in by_text.values())


@pytest.mark.postgres
def test_postgresql_is_read_with_eventsourcings_own_select(postgres_settings: Settings) -> None:
    container = bootstrap(postgres_settings)
    try:
        populate(container.keel)
        page = page_reader(container.keel.recorder)(1, 1000)
    finally:
        container.close()

    assert len(page) > 10
    assert {type(n) for n in page} == {Notification}
