"""Alerting: the Alerts application, and the process that raises alerts from Keel's log.

The process follows Keel's notification log with its own tracking position. For each
page it asks the rules (projections/alert_rules.py) what to raise and clear, and records
the Alert events and the new position in ONE transaction of the Alerts application's
process recorder: after a crash, a page is either wholly recorded or not at all, so no
alert is lost or raised twice. Alert ids are derived from the log, and the event store
refuses a second AlertRaised for an id, which makes "none twice" hold even for a
rebuild from an empty Alerts store.

The rules keep their state in memory. On start the process folds Keel's log up to its
tracking position into them again, discarding the decisions (they were recorded), and
carries on from there: the rules are deterministic, so this is the state it had.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    ProcessRecorder,
    Recording,
    Tracking,
)

from domain.alert import Alert, Rule
from projections.alert_rules import AlertRules, Clear, Decision, Raise
from services.errors import NotFound, VersionMismatch
from services.event_decoding import FastMapper
from services.following import LogFollower
from services.keel import DateAsISO, Keel, Recorded
from services.log_pages import page_reader

log = logging.getLogger(__name__)

# After replaying this many events on start, freeze what the process holds (see _ready).
FREEZE_AFTER = 10_000


class Alerts(Application[UUID]):
    """Where alerts live: their own event log, beside Keel's, with its own positions
    (the relay's `Nats-Msg-Id` is `Alerts:<position>`)."""

    name = "Alerts"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_recorded: list[Callable[[int], None]] = []

    def construct_recorder(self) -> ProcessRecorder:
        # A process recorder stores new events and a tracking position atomically.
        return self.factory.process_recorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def record(self, aggregates: Sequence[Alert], tracking: Tracking) -> list[Recording[UUID]]:
        """Save the alerts' new events and the position they follow from, together."""
        processing = ProcessingEvent[UUID](tracking=tracking)
        processing.collect_events(*aggregates)
        recordings = self._record(processing)
        self._notify(recordings)
        if recordings:
            self._recorded(recordings[-1].notification.id)
        return recordings

    def tracked(self, application_name: str) -> int:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder.max_tracking_id(application_name) or 0

    def alert(self, alert_id: UUID) -> Alert:
        try:
            alert: object = self.repository.get(alert_id)
        except AggregateNotFoundError:
            raise NotFound("alert", alert_id) from None
        if not isinstance(alert, Alert):
            raise NotFound("alert", alert_id)
        return alert

    def acknowledge(
        self, alert_id: UUID, *, by: str, note: str | None, occurred_on: date
    ) -> Recorded:
        alert = self.alert(alert_id)
        alert.acknowledge(by=by, note=note, occurred_on=occurred_on)
        return self._commit(alert)

    def resolve(self, alert_id: UUID, *, by: str, occurred_on: date) -> Recorded:
        alert = self.alert(alert_id)
        alert.clear(reason="resolved", by=by, occurred_on=occurred_on)
        return self._commit(alert)

    def _commit(self, alert: Alert) -> Recorded:
        loaded = alert.version - len(alert.pending_events)
        try:
            recordings = self.save(alert)
        except IntegrityError:
            raise VersionMismatch(loaded, None) from None
        position = recordings[-1].notification.id
        self._recorded(position)
        return Recorded(alert.id, alert.version, position)

    def _recorded(self, position: int) -> None:
        for listener in self.on_recorded:
            listener(position)


class AlertProcess(LogFollower):
    thread_name = "keel-alerts"

    def __init__(
        self,
        keel: Keel,
        alerts: Alerts,
        rules: Callable[[], AlertRules],
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.2,
    ) -> None:
        super().__init__(poll_interval)
        self.keel = keel
        self.alerts = alerts
        self._new_rules = rules
        self.rules: AlertRules | None = None
        self.batch_size = batch_size
        # Folds read no personal text, so events are read with their texts sealed
        # (services/event_decoding.py: eventsourcing's decoding, faster).
        self.mapper = FastMapper(keel.mapper.transcoder)
        self.read_page = page_reader(keel.recorder)
        self.position = 0
        self.failure: str | None = None

    # --- reading Keel's log -------------------------------------------------------------

    def pages(self, start: int, stop: int | None = None) -> Iterator[tuple[list[object], int]]:
        """Keel's events after `start` (up to `stop`), a page at a time, with the
        position of the page's last event."""
        position = start
        while stop is None or position < stop:
            limit = self.batch_size if stop is None else min(self.batch_size, stop - position)
            notifications = self.read_page(position + 1, limit)
            if not notifications:
                return
            position = notifications[-1].id
            yield [(self.mapper.to_domain_event(n), n.id) for n in notifications], position

    def _ready(self) -> AlertRules:
        """The rules, brought up to the recorded position (see the module docstring)."""
        if self.rules is None:
            rules = self._new_rules()
            tracked = self.alerts.tracked(self.keel.name)
            for events, _ in self.pages(0, tracked):
                rules.observe_all(events)  # type: ignore[arg-type]
            if tracked >= FREEZE_AFTER:
                # The rules' state is long-lived and has no reference cycles: leave it
                # out of the cyclic collector's full passes, which otherwise stop the
                # whole process for longer the larger it is (refcounting still frees
                # what the rules drop).
                gc.freeze()
            self.rules, self.position = rules, tracked
        return self.rules

    # --- processing -------------------------------------------------------------------

    def process_page(self) -> int:
        """Evaluate the next page of Keel's log and record what it decided; return how
        many events the page held."""
        rules = self._ready()
        page = next(self.pages(self.position), None)
        if page is None:
            return 0
        events, last = page
        decisions = rules.observe_all(events)  # type: ignore[arg-type]
        self._record(decisions, last)
        self.position = last
        return len(events)

    def _record(self, decisions: list[Decision], last: int) -> None:
        for attempt in range(5):
            try:
                self.alerts.record(self._apply(decisions), Tracking(self.keel.name, last))
            except IntegrityError:
                # A manager acknowledged or resolved an alert this page also clears,
                # between our read and our write: read it again and retry.
                if attempt == 4:
                    raise
                continue
            return

    def _apply(self, decisions: list[Decision]) -> list[Alert]:
        """The alerts these decisions change, with their new events pending."""
        changed: dict[UUID, Alert] = {}
        for decision in decisions:
            if isinstance(decision, Raise):
                changed[decision.alert_id] = Alert.raise_(
                    team_id=decision.team_id,
                    rule=decision.rule,
                    severity=decision.severity,
                    subject_id=decision.subject_id,
                    episode=decision.episode,
                    numbers=decision.numbers,
                    evidence=[e.as_dict() for e in decision.evidence],
                    raised_on=decision.raised_on,
                )
                continue
            alert = changed.get(decision.alert_id) or self._load(decision)
            if alert is None or alert.state == "cleared":
                continue  # a manager resolved it already
            alert.clear(reason="recovered", by=None, occurred_on=decision.occurred_on)
            changed[alert.id] = alert
        return list(changed.values())

    def _load(self, decision: Clear) -> Alert | None:
        try:
            return self.alerts.alert(decision.alert_id)
        except NotFound:
            log.warning("no alert %s to clear", decision.alert_id)
            return None

    def catch_up(self, progress: Callable[[int], None] | None = None) -> None:
        head = self.keel.head()
        self._ready()
        while self.position < head:
            count = self.process_page()
            if progress is not None:
                progress(count)
            if count == 0:
                break

    # --- following (services/following.py) ----------------------------------------------

    def page_processed(self) -> None:
        self.failure = None

    def page_failed(self, error: Exception) -> None:
        log.exception("alert process failed; retrying from its recorded position")
        self.failure = f"{type(error).__name__}: {error}"
        self.rules = None  # start again from what was recorded


# --- back-testing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    """When a rule would have fired, and when (if ever) it would have cleared."""

    raised: Raise
    cleared_on: date | None


def backtest(
    process: AlertProcess,
    rules: AlertRules,
    *,
    rule: Rule,
    team_id: UUID | None,
    since: date,
    until: date,
    progress: Callable[[int], None] | None = None,
) -> list[Firing]:
    """Replay the whole log through `rules`, recording nothing, and return the alerts
    of `rule` (for `team_id`, if given) raised between `since` and `until`."""
    raised: dict[UUID, Raise] = {}
    cleared: dict[UUID, date] = {}
    for events, _ in process.pages(0):
        for decision in rules.observe_all(events):  # type: ignore[arg-type]
            if decision.rule is not rule or (team_id is not None and decision.team_id != team_id):
                continue
            if isinstance(decision, Raise):
                raised[decision.alert_id] = decision
            else:
                cleared.setdefault(decision.alert_id, decision.occurred_on)
        if progress is not None:
            progress(len(events))
    return [
        Firing(r, cleared.get(alert_id))
        for alert_id, r in raised.items()
        if since <= r.raised_on <= until
    ]
