"""The relay: follows an application's notification log and publishes to NATS JetStream.

Each notification becomes one message or none (services/outbound.py decides). Every
message carries the header `Nats-Msg-Id: <application>:<position>`, so JetStream drops a
message published twice. The relay keeps its own position in an eventsourcing tracking
recorder and moves it only once JetStream has acknowledged every message up to there:
a crash or an outage means publishing again, never skipping.

When NATS is down the relay retries with backoff, from where it was. After every
(re)connection it reads the last message of its stream: a message of its own further on
than its position was acknowledged before the connection dropped, so it moves on to
there. With the duplicate window as a second guard, a message reaches the stream once.

nats-py is asyncio: each relay runs its own event loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import nats
import nats.errors
import nats.js.errors
from eventsourcing.application import Application
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Mapper,
    Notification,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import Environment
from nats.js import JetStreamContext
from nats.js.api import PubAck, StorageType

from domain.alert import Alert
from services.alerting import Alerts
from services.keel import Keel
from services.outbound import Outbound, alert_message, event_message
from services.settings import Settings

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
# JetStream's own default. The check after each reconnection covers longer outages.
DUPLICATE_WINDOW_SECONDS = 120.0

Route = Callable[[Any, int], Outbound | None]


@dataclass(frozen=True)
class Stream:
    name: str
    subjects: tuple[str, ...]


def msg_id(application: str, position: int) -> str:
    return f"{application}:{position}"


def parse_msg_id(value: str | None) -> tuple[str, int] | None:
    application, _, position = (value or "").rpartition(":")
    if not application or not position.isdigit():
        return None
    return application, int(position)


# --- routes: from a notification's event to a message ---------------------------------


class EventRoute:
    """Every domain event of the Keel application, to `<prefix>.events.…`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, event: Any, position: int) -> Outbound | None:
        return event_message(event, position, self.prefix)


class AlertRoute:
    """Alert events, to `<prefix>.alerts.<team_id>.<rule>`. An acknowledgement or a
    clearance does not name its team and rule: they come from the alert's first event,
    read from the recorder and kept in a small cache."""

    def __init__(self, app: Application[UUID], mapper: Mapper[UUID], prefix: str) -> None:
        self.app = app
        self.mapper = mapper
        self.prefix = prefix
        self._raised: OrderedDict[UUID, Alert.AlertRaised] = OrderedDict()
        self.cache_size = 10_000

    def __call__(self, event: Any, position: int) -> Outbound | None:
        if isinstance(event, Alert.AlertRaised):
            self._remember(event)
            raised = event
        elif isinstance(event, Alert.AlertAcknowledged | Alert.AlertCleared):
            raised = self._first_event(event.originator_id)
        else:
            return None
        return alert_message(event, raised, position, self.prefix)

    def _remember(self, raised: Alert.AlertRaised) -> None:
        self._raised[raised.originator_id] = raised
        self._raised.move_to_end(raised.originator_id)
        while len(self._raised) > self.cache_size:
            self._raised.popitem(last=False)

    def _first_event(self, alert_id: UUID) -> Alert.AlertRaised:
        raised = self._raised.get(alert_id)
        if raised is None:
            stored = self.app.recorder.select_events(alert_id, limit=1)
            first = self.mapper.to_domain_event(stored[0]) if stored else None
            if not isinstance(first, Alert.AlertRaised):
                raise LookupError(f"alert {alert_id} has no AlertRaised event")
            raised = first
            self._remember(raised)
        return raised


# --- the relay's position --------------------------------------------------------------


class RelayStore:
    """Where relays keep their positions: an eventsourcing tracking recorder, in its own
    SQLite file (relay.db) or its own table in PostgreSQL (relay_tracking). One row per
    application, which only moves forward."""

    name = "Relay"

    def __init__(self, settings: Settings) -> None:
        # Losing the last positions in a power cut only means publishing again, which
        # JetStream de-duplicates: no need to wait for the disk on every commit.
        env = Environment(self.name, settings.eventsourcing_env(self.name, "NORMAL"))
        factory = InfrastructureFactory[TrackingRecorder].construct(env=env)
        self.recorder = factory.tracking_recorder()

    def position(self, application: str) -> int:
        return self.recorder.max_tracking_id(application) or 0

    def record(self, application: str, position: int) -> int:
        """Move the position on; answer where it stands (another relay may be ahead)."""
        try:
            self.recorder.insert_tracking(Tracking(application, position))
        except IntegrityError:
            return self.position(application)
        return position

    def close(self) -> None:
        datastore = getattr(self.recorder, "datastore", None)
        if datastore is not None:
            datastore.close()


# --- the relay ------------------------------------------------------------------------


class Relay:
    def __init__(
        self,
        app: Application[UUID],
        route: Route,
        store: RelayStore,
        *,
        nats_url: str,
        stream: Stream,
        mapper: Mapper[UUID] | None = None,
        batch_size: int = 500,
        poll_interval: float = 0.05,
        ack_timeout: float = 5.0,
        backoff: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        self.app = app
        self.application = app.name
        self.route = route
        self.store = store
        self.nats_url = nats_url
        self.stream = stream
        # Read with eventsourcing's own mapper: personal fields stay sealed, so even a
        # mistake in the whitelist could only leak ciphertext (see personal_data.py).
        self.mapper = mapper or Mapper(app.mapper.transcoder)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.ack_timeout = ack_timeout
        self.min_backoff, self.max_backoff = backoff

        self.published = 0  # messages JetStream stored
        self.duplicates = 0  # messages JetStream had already (a republish)
        self.failures = 0  # connections or batches that failed and were retried
        self.last_error: str | None = None

        self._position = store.position(self.application)
        self._progress = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None  # set by a nudge, or to stop
        self._halt: asyncio.Event | None = None  # set to stop only

    @property
    def name(self) -> str:
        return f"{self.application} -> {self.stream.name}"

    @property
    def position(self) -> int:
        """The last notification whose message (if any) JetStream has acknowledged."""
        return self._position

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def status(self) -> str:
        line = (
            f"{self.name}: position {self._position} of {self.head()}, "
            f"{self.published} published, {self.duplicates} duplicates dropped"
        )
        return line + (f", failing: {self.last_error}" if self.last_error else "")

    # --- control, from any thread ------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"relay-{self.application}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        loop, halt = self._loop, self._halt
        if loop is not None and halt is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(halt.set)
        self.nudge()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def nudge(self, _position: int | None = None) -> None:
        """Something was saved: look at the log now rather than at the next poll."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(wake.set)

    def wait_until(self, position: int, timeout: float) -> bool:
        """Wait until everything up to `position` is published (for tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(remaining)
        return True

    # --- the loop ----------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        halt = self._halt = asyncio.Event()
        backoff = self.min_backoff
        try:
            while not self._stopping.is_set():
                try:
                    await self._connected_session(wake)
                    backoff = self.min_backoff
                except Exception as error:
                    self.failures += 1
                    message = f"{type(error).__name__}: {error}"
                    # Once per kind of failure, not once per retry of a long outage.
                    level = logging.DEBUG if message == self.last_error else logging.WARNING
                    self.last_error = message
                    log.log(
                        level,
                        "relay %s at position %s: %s; retrying in %.1fs",
                        self.name,
                        self._position,
                        message,
                        backoff,
                    )
                    # Only stopping cuts a backoff short: new events cannot help.
                    await self._idle(halt, backoff)
                    backoff = min(backoff * 2, self.max_backoff)
        finally:
            self._loop = None

    async def _connected_session(self, wake: asyncio.Event) -> None:
        """Connect, make sure of the stream, and publish until stopped or failed."""
        lost = asyncio.Event()

        async def connection_lost() -> None:
            lost.set()

        async def error(exc: Exception) -> None:
            log.debug("relay %s: NATS reported %s", self.name, exc)

        # The relay reconnects itself, from its recorded position: nothing buffered by
        # the client for a dead connection is ever sent later, out of order. nats-py
        # retries a first connection on its own (max_reconnect_attempts times, 0 being
        # forever); once, at once, is enough here, since the relay backs off itself.
        nc = await nats.connect(
            self.nats_url,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            connect_timeout=2,
            name=f"keel-relay-{self.application.lower()}",
            error_cb=error,
            disconnected_cb=connection_lost,
            closed_cb=connection_lost,
        )
        try:
            js = nc.jetstream(timeout=self.ack_timeout)
            await self._ensure_stream(js)
            await self._catch_up_with_stream(js)
            if self.last_error is not None:
                log.info("relay %s connected again at position %s", self.name, self._position)
                self.last_error = None
            await self._follow(js, wake, lost)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), timeout=2)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(self.stream.name)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                name=self.stream.name,
                subjects=list(self.stream.subjects),
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
            log.info("relay %s created stream %s", self.name, self.stream.name)

    async def _catch_up_with_stream(self, js: JetStreamContext) -> None:
        """Move on past what the stream already holds from us (acknowledged, but the
        acknowledgement was lost with the connection, or another relay sent it)."""
        self._set_position(await asyncio.to_thread(self.store.position, self.application))
        info = await js.stream_info(self.stream.name)
        if not info.state.last_seq:
            return
        try:
            last = await js.get_msg(self.stream.name, info.state.last_seq)
        except nats.js.errors.NotFoundError:
            return
        parsed = parse_msg_id((last.headers or {}).get(MSG_ID))
        if parsed is None or parsed[0] != self.application or parsed[1] <= self._position:
            return
        head = await asyncio.to_thread(self.head)
        if parsed[1] > head:
            # Beyond this log's head: the stream was filled from another store (one that
            # was wiped, say). Skipping would skip real events; publish as usual.
            log.warning(
                "relay %s: the stream's last message %s is beyond this log's head %s",
                self.name,
                parsed[1],
                head,
            )
            return
        log.info("relay %s: the stream already holds up to %s", self.name, parsed[1])
        await self._record(parsed[1])

    async def _follow(self, js: JetStreamContext, wake: asyncio.Event, lost: asyncio.Event) -> None:
        while not self._stopping.is_set():
            if lost.is_set():
                raise ConnectionError("the connection to NATS was lost")
            # Clear before reading, so a nudge that lands mid-batch is not lost.
            wake.clear()
            last, messages = await asyncio.to_thread(self._next_batch)
            if last == self._position:
                await self._idle(wake, self.poll_interval)
                continue
            if messages:
                acks = await self._publish(js, messages, lost)
                self.published += sum(1 for ack in acks if not ack.duplicate)
                self.duplicates += sum(1 for ack in acks if ack.duplicate)
                log.debug("relay %s published %s up to %s", self.name, len(acks), last)
            await self._record(last)

    def _next_batch(self) -> tuple[int, list[tuple[int, Outbound]]]:
        """The next notifications as messages, and the position of the last one read."""
        notifications: Sequence[Notification] = self.app.recorder.select_notifications(
            start=self._position + 1, limit=self.batch_size
        )
        messages = []
        for notification in notifications:
            message = self.route(self.mapper.to_domain_event(notification), notification.id)
            if message is not None:
                messages.append((notification.id, message))
        last = notifications[-1].id if notifications else self._position
        return last, messages

    async def _publish(
        self, js: JetStreamContext, messages: list[tuple[int, Outbound]], lost: asyncio.Event
    ) -> list[PubAck]:
        """Publish a batch in order without waiting in between; wait for every ack."""
        futures = []
        try:
            for position, message in messages:
                futures.append(
                    await js.publish_async(
                        message.subject,
                        message.data(),
                        headers={MSG_ID: msg_id(self.application, position)},
                    )
                )
            acked: asyncio.Future[list[PubAck]] = asyncio.gather(*futures)
            dropped: asyncio.Future[Any] = asyncio.ensure_future(lost.wait())
            done, _ = await asyncio.wait(
                {acked, dropped}, timeout=self.ack_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            dropped.cancel()
            if acked not in done:
                acked.cancel()
                reason = "was lost" if dropped in done else f"gave no ack in {self.ack_timeout}s"
                raise ConnectionError(f"the connection to NATS {reason}")
            return list(acked.result())
        finally:
            for future in futures:
                future.cancel()  # no-op on those acknowledged

    async def _record(self, position: int) -> None:
        recorded = await asyncio.to_thread(self.store.record, self.application, position)
        self._set_position(recorded)

    def _set_position(self, position: int) -> None:
        with self._progress:
            self._position = position
            self._progress.notify_all()

    async def _idle(self, until: asyncio.Event, seconds: float) -> None:
        if self._stopping.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), timeout=seconds)


# --- the relays of a process -----------------------------------------------------------


class Relays:
    """Keel's domain events to the events stream and, when the Alerts application is
    there, its alerts to the alerts stream; with the store of their positions."""

    def __init__(self, relays: Sequence[Relay], store: RelayStore) -> None:
        self.relays = list(relays)
        self.store = store

    def __iter__(self) -> Any:
        return iter(self.relays)

    def status(self) -> list[str]:
        return [relay.status() for relay in self.relays]

    def for_application(self, name: str) -> Relay:
        return next(relay for relay in self.relays if relay.application == name)

    def start(self) -> None:
        for relay in self.relays:
            relay.start()

    def nudge(self, _position: int | None = None) -> None:
        for relay in self.relays:
            relay.nudge()

    def close(self) -> None:
        for relay in self.relays:
            relay.stop()
        self.store.close()


def event_relay(settings: Settings, keel: Application[UUID], store: RelayStore) -> Relay:
    """Keel's domain events to the events stream."""
    prefix = settings.nats_subject_prefix
    assert settings.nats_url is not None
    return Relay(
        keel,
        EventRoute(prefix),
        store,
        nats_url=settings.nats_url,
        stream=Stream(settings.nats_events_stream, (f"{prefix}.events.>",)),
        poll_interval=settings.relay_poll_interval_seconds,
    )


def alert_relay(settings: Settings, alerts: Application[UUID], store: RelayStore) -> Relay:
    """The Alerts application's events to the alerts stream."""
    prefix = settings.nats_subject_prefix
    assert settings.nats_url is not None
    mapper: Mapper[UUID] = Mapper(alerts.mapper.transcoder)
    return Relay(
        alerts,
        AlertRoute(alerts, mapper, prefix),
        store,
        nats_url=settings.nats_url,
        stream=Stream(settings.nats_alerts_stream, (f"{prefix}.alerts.>",)),
        mapper=mapper,
        poll_interval=settings.relay_poll_interval_seconds,
    )


def open_relays(
    settings: Settings, keel: Application[UUID], alerts: Application[UUID] | None = None
) -> Relays:
    if settings.nats_url is None:
        raise ValueError("KEEL_NATS_URL is not set: there is nowhere to publish")
    store = RelayStore(settings)
    relays = [event_relay(settings, keel, store)]
    if alerts is not None:
        relays.append(alert_relay(settings, alerts, store))
    return Relays(relays, store)


def start_relays(settings: Settings, keel: Keel, alerts: Alerts) -> Relays | None:
    """The relays inside `keel serve`, when a NATS URL is set and `run_relay` is on;
    saves in this process nudge them."""
    if settings.nats_url is None or not settings.run_relay:
        return None
    relays = open_relays(settings, keel, alerts)
    keel.on_recorded.append(relays.nudge)
    alerts.on_recorded.append(relays.nudge)
    relays.start()
    return relays


def run_relays(
    settings: Settings, stopping: threading.Event, report: Callable[[str], None], every: float
) -> None:
    """`keel relay`: the relays as a process of their own, until `stopping` is set,
    reporting each relay's progress every `every` seconds. They poll the logs."""
    keel = Keel(env=settings.eventsourcing_env(Keel.name))
    alerts = Alerts(env=settings.eventsourcing_env(Alerts.name))
    relays = open_relays(settings, keel, alerts)
    relays.start()
    try:
        while not stopping.wait(every):
            for line in relays.status():
                report(line)
    finally:
        relays.close()
        for line in relays.status():
            report(line)
        alerts.close()
        keel.close()
