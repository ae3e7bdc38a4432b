"""Figure (c): a full projection rebuild against eventsourcing's raw read of the same log.

The raw side is the least any rebuild must do: page through the notification log and
decode every event. A rebuild adds folding each event into rows and writing them, with
the tracking position, in each view's store; the ratio says what that adds.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import Mapper

from bench.loggen import LogGenerator
from services import rebuilding
from services.bootstrap import Container, bootstrap
from services.event_decoding import FastMapper
from services.log_pages import Logged, page_reader
from services.settings import Settings

PAGE = 1000
T = TypeVar("T")
N = TypeVar("N", bound=Logged)  # a notification, as eventsourcing or the runner reads it


def _settings(data_dir: Path) -> Settings:
    return Settings(store="sqlite", data_dir=data_dir)


def write_log(data_dir: Path, events: int, progress: Callable[[int], None]) -> int:
    """Write a log of about `events` events through Keel; return its head."""
    container = bootstrap(_settings(data_dir))
    try:
        return LogGenerator(container.keel, events).run(progress)
    finally:
        container.close()


def measure(
    data_dir: Path, repeats: int, say: Callable[[str], None]
) -> tuple[list[float], list[float]]:
    """Raw read and rebuild rates (events/s), alternated `repeats` times.

    Both run on a container opened afresh, as `keel projections rebuild` opens one:
    the writer's aggregate cache and generator state would otherwise stay on the heap,
    and every garbage collection during the rebuild would walk them too.
    """
    gc.collect()
    container = bootstrap(_settings(data_dir))
    raw_rates: list[float] = []
    rebuild_rates: list[float] = []
    try:
        for i in range(repeats):
            count, seconds = raw_read(container)
            raw_rates.append(count / seconds)
            count, seconds = rebuild(container)
            rebuild_rates.append(count / seconds)
            say(
                f"repeat {i + 1}/{repeats}: raw {raw_rates[-1]:,.0f}/s, "
                f"rebuild {rebuild_rates[-1]:,.0f}/s"
            )
    finally:
        container.close()
    return raw_rates, rebuild_rates


def raw_read(container: Container, *, keels_mapper: bool = False) -> tuple[int, float]:
    """Read and decode the whole log a page at a time; return (events, seconds).

    It reads with eventsourcing's `select_notifications` and decodes with its own Mapper
    over Keel's transcoder: the baseline of issue 3's rebuild target. It leaves personal
    fields sealed, as the views read them. With `keels_mapper`, it reads and decodes as
    the runner does (services/log_pages.py, services/event_decoding.py), which shows how
    much of a rebuild's advantage is the faster reading and decoding."""
    recorder = container.keel.recorder
    transcoder = container.keel.mapper.transcoder
    started = time.perf_counter()
    if keels_mapper:
        count = _decode_all(page_reader(recorder), FastMapper(transcoder).to_domain_event)
    else:
        count = _decode_all(
            lambda start, limit: recorder.select_notifications(start, limit=limit),
            Mapper[UUID](transcoder).to_domain_event,
        )
    return count, time.perf_counter() - started


def _decode_all(read_page: Callable[[int, int], Sequence[N]], decode: Callable[[N], object]) -> int:
    """Read the whole log a page at a time and decode every event; return how many."""
    count, start = 0, 1
    while page := read_page(start, PAGE):
        for notification in page:
            decode(notification)
        count += len(page)
        start = page[-1].id + 1
    return count


def rebuild(container: Container) -> tuple[int, float]:
    """Empty every view and fold the whole log again; return (events, seconds)."""
    head, seconds, _ = _timed_to_head(container, container.runner.rebuild)
    return head, seconds


def rebuild_parallel(
    container: Container, jobs: int | None = None
) -> tuple[int, float, list[rebuilding.Child]]:
    """The same, the views shared out among `jobs` processes (services/rebuilding.py);
    return (events, seconds, what each child process reported)."""
    runner, settings = container.runner, container.settings
    return _timed_to_head(container, lambda: rebuilding.rebuild(runner, settings, jobs=jobs))


def _timed_to_head(container: Container, rebuild_views: Callable[[], T]) -> tuple[int, float, T]:
    """Time `rebuild_views`; return (the log's head, seconds, what it returned)."""
    head = container.runner.head()
    started = time.perf_counter()
    result = rebuild_views()
    seconds = time.perf_counter() - started
    # A rebuild that stopped short would look fast; make sure every view reached the head.
    positions = container.runner.positions()
    if any(position != head for position in positions.values()):
        raise RuntimeError(f"rebuild stopped short of {head}: {positions}")
    return head, seconds, result
