"""The runner: follows the application's notification log and feeds each view.

It reads a page of the log once, gives every event to every projection whose view has
not seen it, and writes each view's rows with its new position in one transaction.
On SQLite there is no subscription, so it polls; a save in the same process nudges it.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import resolve_topic

from projections.rows import Fold, RowOp
from services.event_decoding import FastMapper
from services.following import LogFollower
from services.log_pages import page_reader
from services.views import ViewStore

log = logging.getLogger(__name__)


Handler = Callable[[object, int], list[RowOp]]


@dataclass
class View:
    projection: Fold
    store: ViewStore
    _handlers: dict[type, Handler | None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.projection.name

    def wants(self, event_type: type) -> bool:
        """Whether the fold does anything with events of this type."""
        return self.handler(event_type) is not None

    def handler(self, event_type: type) -> Handler | None:
        """What folds an event of this type: None when the fold ignores it. Most events
        concern one view only, and asking is much cheaper than calling a fold that
        returns []. For a fold that is a singledispatchmethod, this is the registered
        function itself, bound once: calling the fold would look it up again and bind
        it anew for every event, which costs more than most folds."""
        try:
            return self._handlers[event_type]
        except KeyError:
            pass
        dispatcher = getattr(type(self.projection).__dict__.get("fold"), "dispatcher", None)
        handler: Handler | None
        if dispatcher is None:
            handler = self.projection.fold
        else:
            function = dispatcher.dispatch(event_type)
            wanted = function is not dispatcher.dispatch(object)
            handler = function.__get__(self.projection) if wanted else None
        self._handlers[event_type] = handler
        return handler


class ViewsFailed(RuntimeError):
    """Views whose rows could not be written, again and again: view name -> why."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = dict(failures)
        super().__init__("; ".join(f"{view}: {why}" for view, why in failures.items()))


class Runner(LogFollower):
    thread_name = "keel-runner"

    def __init__(
        self,
        app: Application[UUID],
        views: Sequence[View],
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.2,
        mapper: FastMapper | None = None,
        rebuild_batch_size: int = 25_000,
    ) -> None:
        self.app = app
        # Folds need no personal text: they count items. A mapper that does not open
        # those fields (not Keel's, services/personal_data.py) is faster and keeps
        # plain text out of every view; FastMapper decodes as eventsourcing's does, faster.
        self.mapper = mapper or FastMapper(app.mapper.transcoder)
        self.read_page = page_reader(app.recorder)
        self.views = list(views)
        self.batch_size = batch_size
        # A rebuild reads bigger pages: fewer, larger transactions write the views'
        # tables much faster. Memory grows with it (see bench/README.md).
        self.rebuild_batch_size = max(batch_size, rebuild_batch_size)
        self._positions = {v.name: v.store.position(app.name) for v in self.views}
        super().__init__(poll_interval)
        self.failures: dict[str, str] = {}
        self._wanted: dict[str, bool] = {}  # topic -> whether any view folds its events
        # The view whose fold raised last, and at which position (None: none has).
        self.fold_failure: tuple[str, int] | None = None

    # --- positions -------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        """Each view's position as its store records it."""
        return {v.name: v.store.position(self.app.name) for v in self.views}

    def reload_positions(self) -> None:
        """Read each view's position from its store again: after something other than
        this runner moved them (a rebuild in other processes, services/rebuilding.py)."""
        self._positions = self.positions()

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    # --- processing ------------------------------------------------------------------

    def process_page(self, limit: int | None = None) -> int:
        """Process the next page of the log; return how many notifications it held."""
        start = min(self._positions.values(), default=0) + 1
        notifications = self.read_page(start, limit or self.batch_size)
        if not notifications:
            return 0
        # An event no view of this runner folds is not decoded at all: a rebuild that
        # splits the views among processes (services/rebuilding.py) skips many.
        wanted = self._wanted
        for topic in {n.topic for n in notifications} - wanted.keys():
            wanted[topic] = any(view.wants(resolve_topic(topic)) for view in self.views)
        to_event = self.mapper.to_domain_event
        events = [(to_event(n), n.id) for n in notifications if wanted[n.topic]]
        types = {type(event) for event, _ in events}
        last = notifications[-1].id
        for view in self.views:
            seen = self._positions[view.name]
            if seen >= last:
                continue
            handlers = {t: view.handler(t) for t in types}
            ops: list[RowOp] = []
            try:
                for event, position in events:
                    handler = handlers[type(event)]
                    if handler is not None and position > seen:
                        ops += handler(event, position)
            except Exception as error:
                # The same error goes on up (a rebuild stops; a follower logs it and
                # tries the page again), saying whose fold raised, and where.
                error.add_note(f"in the fold of view {view.name}, at position {position}")
                self.fold_failure = (view.name, position)
                raise
            try:
                view.store.apply(ops, Tracking(self.app.name, last), after=seen)
            except IntegrityError:
                # Another runner (a second process) moved this view on first, or a
                # rebuild emptied it: ours was rolled back. Resume from where it is.
                log.info("view %s was advanced elsewhere; resuming", view.name)
                self._positions[view.name] = view.store.position(self.app.name)
                continue
            except Exception as error:
                # One view failing must not hold the others back. This one stays where
                # it was (nothing was written) and is retried on the next page; the
                # failure shows in `failures`, /readyz and `keel projections status`.
                log.exception("view %s failed at positions %s..%s", view.name, seen + 1, last)
                self.failures[view.name] = f"{type(error).__name__}: {error}"
                continue
            self.failures.pop(view.name, None)
            self._positions[view.name] = last
        return len(notifications)

    def catch_up(
        self, progress: Callable[[int], None] | None = None, *, limit: int | None = None
    ) -> None:
        """Process until every view has reached the head of the log as it was on entry."""
        head = self.head()
        while min(self._positions.values(), default=head) < head:
            before = dict(self._positions)
            count = self.process_page(limit)
            if progress is not None:
                progress(count)
            if count == 0:
                break
            if self.failures and self._positions == before:
                # Every view still behind failed this page: trying it again at once
                # would go on for ever (a follower tries again after its poll interval).
                raise ViewsFailed(self.failures)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> None:
        """Empty every view and fold the whole log again, in this process.

        services/rebuilding.py splits the views among processes of their own, each
        running this over its share."""
        for view in self.views:
            view.store.reset(self.app.name)
            view.store.drop_indexes()
            self._positions[view.name] = 0
        # A rebuild keeps a page of events and rows alive at a time, which sets off the
        # cyclic garbage collector over and over, though folds make no reference
        # cycles: refcounting frees everything. Pausing it makes a rebuild ~15% faster;
        # peak memory is unchanged (see bench/README.md).
        collecting = gc.isenabled()
        gc.disable()
        try:
            with ExitStack() as rebuilding:
                for view in self.views:
                    rebuilding.enter_context(view.store.rebuilding())
                self.catch_up(progress, limit=self.rebuild_batch_size)
        finally:
            if collecting:
                gc.enable()
            for view in self.views:
                view.store.create_indexes()
