"""Group commit: concurrent commands share one transaction, and so one disk sync.

On SQLite, syncing the log to disk at each commit costs about as much as a whole HTTP
request. The HTTP endpoints that take most of the traffic hand their command to one
writer thread instead: it runs the commands that arrived together one after another,
then saves everything they recorded in one transaction. While it
waits for the disk, the next requests queue up, so the busier the server, the more
commands share a commit. A caller hears back only after that commit: a 201 is exactly
as durable as one saved alone.

Commands are the Keel methods, unchanged: inside a batch `Keel._commit` hands its
aggregates to the batch instead of saving them (see `Keel.deferring`). Two commands of
one batch never change the same aggregate: the second waits for the next batch, where
it sees the first one's events. If the batch's transaction is refused because another
writer (another process) got there first, each command is run again on its own, so
one conflict fails only the command that lost the race.

Loading an aggregate normally costs a read of the store, to catch up a cached copy
with events other processes wrote since. In the writer, one read per batch does that
job for every aggregate at once (see `Freshness`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

if TYPE_CHECKING:
    from services.keel import Keel, Recorded

log = logging.getLogger(__name__)

T = TypeVar("T")
# Called once with the command's result or its exception.
Settle = Callable[[Any, BaseException | None], None]


@dataclass
class _Deferred:
    recorded: Recorded
    aggregates: list[Aggregate]
    events: int


class Freshness:
    """Which of the cached aggregates are known to be up to date with the log.

    eventsourcing reads the store on every load, in case another process saved events
    of the aggregate since it was cached. The writer instead reads the log once per
    batch, from where it last read: an aggregate that appears there with a version its
    cached copy has not reached is stale, and is loaded the usual way. The others are
    taken from the cache as they are. A batch starts after its commands' requests have
    arrived, so whatever any writer had committed by then is seen; the version check
    at save still refuses anything decided on a stale copy of what is written.
    """

    PAGE = 500
    MAX_PAGES = 4  # further behind than that, forget everything and start afresh
    MAX_KNOWN = 100_000

    def __init__(self, keel: Keel) -> None:
        self._keel = keel
        self._versions: dict[UUID | str, int] = {}
        self._seen = keel.head()

    def catch_up(self) -> None:
        """Read what was saved since the last call; forget what it made stale."""
        recorder = self._keel.recorder
        for _ in range(self.MAX_PAGES):
            page = recorder.select_notifications(start=self._seen + 1, limit=self.PAGE)
            for notification in page:
                known = self._versions.get(notification.originator_id)
                if known is not None and notification.originator_version > known:
                    del self._versions[notification.originator_id]
            if page:
                self._seen = page[-1].id
            if len(page) < self.PAGE:
                return
        self.forget()
        self._seen = self._keel.head()

    def forget(self) -> None:
        self._versions.clear()

    def saved(self, positions: Sequence[int]) -> None:
        """This writer saved events at `positions` (in order), and what it saved is
        current. When they follow the last read with no gap, nobody else saved
        anything since, and the next read can start after them: re-reading its own
        writes cost the writer a query per batch."""
        if not positions or positions[0] != self._seen + 1:
            return
        if positions[-1] - positions[0] + 1 == len(positions):  # no one else's among them
            self._seen = positions[-1]

    def cached(self, id_: UUID, *, copy_it: bool) -> Aggregate | None:
        """The cached aggregate if it is known to be current, else None."""
        version = self._versions.get(id_)
        cache = self._keel.repository.cache
        if version is None or cache is None:
            return None
        try:
            aggregate = cast(Aggregate, cache.get(id_))
        except KeyError:
            return None
        if aggregate.version != version:
            return None
        return copy.deepcopy(aggregate) if copy_it else aggregate

    def current(self, aggregate: Aggregate) -> None:
        """`aggregate` was just loaded from the store, or saved: it is current."""
        if len(self._versions) >= self.MAX_KNOWN:
            self.forget()
        self._versions[aggregate.id] = aggregate.version


@dataclass
class Batch:
    """What the commands of one batch recorded, in order, until it is saved."""

    freshness: Freshness | None = None
    deferred: list[_Deferred] = field(default_factory=list)

    def defer(self, recorded: Recorded, aggregates: Sequence[Aggregate]) -> Recorded:
        """Keep `aggregates` for the batch's save; `recorded` gets its position then."""
        events = sum(len(a.pending_events) for a in aggregates)
        self.deferred.append(_Deferred(recorded, list(aggregates), events))
        return recorded

    def mark(self) -> int:
        return len(self.deferred)

    def forget_since(self, mark: int) -> None:
        del self.deferred[mark:]

    def ids_since(self, mark: int) -> set[UUID]:
        return {a.id for d in self.deferred[mark:] for a in d.aggregates}

    def save(self, keel: Keel) -> int:
        """Save every deferred aggregate in one transaction; return the last position."""
        aggregates = [a for d in self.deferred for a in d.aggregates]
        if keel.snapshots is None:
            # What `keel.save` does when there are no snapshots to take, without its
            # runtime protocol checks, which cost about 50 us an aggregate.
            events = [event for a in aggregates for event in a.collect_events()]
            recordings = keel.events.put(events)
        else:
            recordings = keel.save(*aggregates)
        last = 0
        for d in self.deferred:
            last += d.events
            # The command returned this Recorded before its position existed. Nobody
            # outside the writer has seen it yet: its caller is answered after this.
            object.__setattr__(d.recorded, "position", recordings[last - 1].notification.id)
        if self.freshness is not None:
            self.freshness.saved([r.notification.id for r in recordings])
        cache = keel.repository.cache
        if cache is not None:
            # These copies are the state just saved: caching them spares the next
            # command on each of them reading back and decoding what it just wrote.
            for aggregate in aggregates:
                cache.put(aggregate.id, aggregate)
                if self.freshness is not None:
                    self.freshness.current(aggregate)
        return recordings[-1].notification.id if recordings else 0


@dataclass
class _Job(Generic[T]):
    command: Callable[[], T]
    settle: Settle | None = None  # for callers in a thread
    future: asyncio.Future[T] | None = None  # for callers on an event loop


# A job's outcome: its result, or the exception it raised.
_Outcome = tuple[_Job[Any], Any, BaseException | None]


class GroupCommit:
    """One writer thread per application; started on first use, stopped by `close`."""

    def __init__(self, keel: Keel, *, max_batch: int = 256) -> None:
        self._keel = keel
        self.max_batch = max_batch
        self._jobs: deque[_Job[Any]] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._freshness: Freshness | None = None
        # How many batches and commands were saved: the mean batch size shows how
        # much sharing a load produced.
        self.batches = 0
        self.commands = 0

    async def run(self, command: Callable[[], T]) -> T:
        """Run `command` in the writer; return (or raise) once it is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(_Job(command, future=future))
        return await future

    def submit(self, command: Callable[[], Any], settle: Settle) -> None:
        """Run `command` in the writer; `settle` hears the outcome, from the writer."""
        self._enqueue(_Job(command, settle=settle))

    def _enqueue(self, job: _Job[Any]) -> None:
        with self._ready:
            if self._closed:
                raise RuntimeError("the application is closed")
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="keel-group-commit", daemon=True
                )
                self._thread.start()
            self._ready.notify()

    def close(self) -> None:
        """Finish the commands already submitted, then stop the writer."""
        with self._ready:
            self._closed = True
            self._ready.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def execute(self, commands: Sequence[tuple[Callable[[], Any], Settle]]) -> None:
        """Run `commands` in the calling thread instead of the writer's, in as few
        batches as they allow; each `settle` hears its command's outcome. For a
        process whose one thread does nothing else (services/writer_process.py)."""
        jobs = [_Job(command, settle=settle) for command, settle in commands]
        while jobs:
            jobs = self._batch(jobs[: self.max_batch]) + jobs[self.max_batch :]

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._jobs:
                    if self._closed:
                        return
                    self._ready.wait()
                count = min(self.max_batch, len(self._jobs))
                jobs = [self._jobs.popleft() for _ in range(count)]
            later = self._batch(jobs)
            if later:
                with self._ready:
                    self._jobs.extendleft(reversed(later))

    def _batch(self, jobs: list[_Job[Any]]) -> list[_Job[Any]]:
        """Run `jobs` as one batch; return those that must wait for the next one."""
        try:
            return self._execute(jobs)
        except Exception as error:
            # Say, the store could not be read: these callers hear of it, and the
            # writer goes on with the next batch.
            log.exception("a batch of %d commands failed", len(jobs))
            self._freshness = None
            _deliver([(job, None, error) for job in jobs])
            return []

    def _execute(self, jobs: list[_Job[Any]]) -> list[_Job[Any]]:
        if self._freshness is None:
            self._freshness = Freshness(self._keel)
        self._freshness.catch_up()
        batch = Batch(self._freshness)
        done: list[tuple[_Job[Any], Any]] = []
        later: list[_Job[Any]] = []
        failed: list[_Outcome] = []
        changed: set[UUID] = set()
        with self._keel.deferring(batch):
            for job in jobs:
                mark = batch.mark()
                try:
                    result = job.command()
                except Exception as error:
                    batch.forget_since(mark)
                    failed.append((job, None, error))
                    continue
                mine = batch.ids_since(mark)
                if mine & changed:
                    # It worked on a state that an earlier command of this batch has
                    # changed but not saved yet: run it again once that is saved.
                    batch.forget_since(mark)
                    later.append(job)
                    continue
                changed |= mine
                done.append((job, result))
        _deliver(failed + self._save(batch, done))
        return later

    def _save(self, batch: Batch, done: list[tuple[_Job[Any], Any]]) -> list[_Outcome]:
        if not batch.deferred:  # nothing to save (the commands only read)
            return [(job, result, None) for job, result in done]
        assert self._freshness is not None
        try:
            position = batch.save(self._keel)
        except IntegrityError:
            # Another writer saved one of these aggregates first. Nothing of the batch
            # was saved; each command runs again alone, and only the loser fails.
            self._freshness.forget()
            return [_run_alone(job) for job, _ in done]
        except Exception as error:
            self._freshness.forget()
            return [(job, None, error) for job, _ in done]
        self.batches += 1
        self.commands += len(done)
        tell(self._keel.on_recorded, position)
        return [(job, result, None) for job, result in done]


def tell(listeners: Sequence[Callable[[int], None]], position: int) -> None:
    """Tell each listener (the followers' nudges) that `position` is saved. A listener
    that fails is logged and passed over: the commands are committed, and their
    callers must hear so."""
    for listener in listeners:
        try:
            listener(position)
        except Exception:
            log.exception("a listener failed at position %d", position)


def _run_alone(job: _Job[Any]) -> _Outcome:
    try:
        return job, job.command(), None
    except Exception as error:
        return job, None, error


def _deliver(outcomes: list[_Outcome]) -> None:
    """Tell each caller; those on an event loop with one wake-up of the loop per batch,
    since each wake-up is a system call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for job, result, error in outcomes:
        if job.future is not None:
            by_loop.setdefault(job.future.get_loop(), []).append((job, result, error))
        elif job.settle is not None:
            job.settle(result, error)
    for loop, theirs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop has nobody left to tell
            loop.call_soon_threadsafe(_settle_futures, theirs)


def _settle_futures(outcomes: list[_Outcome]) -> None:
    for job, result, error in outcomes:
        future = job.future
        if future is None or future.done():  # the caller went away (a cancelled request)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
