"""The alerts view: every alert with its current state, and every alert event in log
order (for the server-sent event stream). Folded from the Alerts application's log."""

from __future__ import annotations

import json
from datetime import date
from functools import singledispatchmethod

from domain.alert import Alert, AlertState
from projections.rows import Patch, Put, RowOp, Table

ALERTS = Table(
    "alerts",
    (
        "alert_id",
        "team_id",
        "rule",
        "severity",
        "state",
        "subject_id",
        "raised_on",
        "raised_at",
        "numbers",
        "evidence",
        "acknowledged_by",
        "acknowledged_on",
        "acknowledgement_note",
        "cleared_on",
        "cleared_reason",
        "cleared_by",
    ),
    key=("alert_id",),
    indexes=(("team_id", "state"),),
)
ALERT_EVENTS = Table(
    "alert_events",
    ("position", "alert_id", "kind", "occurred_on"),
    key=("position",),
    indexes=(("alert_id",),),
    types={"position": "BIGINT"},
)


class AlertsView:
    name = "alerts_view"
    tables: tuple[Table, ...] = (ALERTS, ALERT_EVENTS)

    @singledispatchmethod
    def fold(self, event: object, position: int) -> list[RowOp]:
        return []

    @fold.register
    def _(self, event: Alert.AlertRaised, position: int) -> list[RowOp]:
        alert_id = str(event.originator_id)
        row = {
            "alert_id": alert_id,
            "team_id": str(event.team_id),
            "rule": event.rule,
            "severity": event.severity,
            "state": AlertState.OPEN.value,
            "subject_id": str(event.subject_id) if event.subject_id else None,
            "raised_on": event.raised_on.isoformat(),
            "raised_at": event.timestamp.isoformat(),
            "numbers": json.dumps(event.numbers, sort_keys=True),
            "evidence": json.dumps(event.evidence),
            "acknowledged_by": None,
            "acknowledged_on": None,
            "acknowledgement_note": None,
            "cleared_on": None,
            "cleared_reason": None,
            "cleared_by": None,
        }
        return [Put(ALERTS, row), self._event(position, alert_id, "raised", event.raised_on)]

    @fold.register
    def _(self, event: Alert.AlertAcknowledged, position: int) -> list[RowOp]:
        alert_id = str(event.originator_id)
        values = {
            "state": AlertState.ACKNOWLEDGED.value,
            "acknowledged_by": event.by,
            "acknowledged_on": event.occurred_on.isoformat(),
            "acknowledgement_note": event.note,
        }
        return [
            Patch(ALERTS, (alert_id,), values),
            self._event(position, alert_id, "acknowledged", event.occurred_on),
        ]

    @fold.register
    def _(self, event: Alert.AlertCleared, position: int) -> list[RowOp]:
        alert_id = str(event.originator_id)
        values = {
            "state": AlertState.CLEARED.value,
            "cleared_on": event.occurred_on.isoformat(),
            "cleared_reason": event.reason,
            "cleared_by": event.by,
        }
        return [
            Patch(ALERTS, (alert_id,), values),
            self._event(position, alert_id, "cleared", event.occurred_on),
        ]

    @staticmethod
    def _event(position: int, alert_id: str, kind: str, day: date) -> Put:
        row = {
            "position": position,
            "alert_id": alert_id,
            "kind": kind,
            "occurred_on": day.isoformat(),
        }
        return Put(ALERT_EVENTS, row)
