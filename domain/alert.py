"""Alerts: the rules Keel watches, their parameters, and the Alert aggregate.

An alert is an event like any other, so it can be replayed, acknowledged and
back-tested. Its id is derived from what raised it (team, rule, subject and the log
position of the event that tipped it), so evaluating the same log twice raises the same
alerts with the same ids, and the event store refuses a second AlertRaised for one id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.calendar import parse_choice
from domain.errors import Conflict, InvalidCommand

# Fixed forever: alert ids are uuid5 names in this namespace.
ALERT_NAMESPACE = UUID("5d0b7a1e-6c1f-4f2e-9a57-0c6a1e4b2d10")


class Rule(StrEnum):
    MORALE_DROP = "morale_drop"
    TARGET_CHURN = "target_churn"
    CHURN_THEN_DROP = "churn_then_drop"
    UNRECOGNISED_WINS = "unrecognised_wins"
    PARTICIPATION_DROP = "participation_drop"
    SETBACK_STREAK = "setback_streak"
    BLOCKER_AGING = "blocker_aging"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


# Each rule's parameters and their documented defaults (../shared/design.md). An
# installation overrides them with the KEEL_ALERT_RULES setting, a team with
# POST /v1/teams/{id}/alert-rules/{rule}, and a back-test with --set name=value.
DEFAULTS: dict[Rule, dict[str, float]] = {
    Rule.MORALE_DROP: {
        "ewma_lambda": 0.2,  # Lucas & Saccucci 1990
        "ewma_l": 3.0,
        "cusum_k": 0.5,  # in standard deviations of the day's mean
        "cusum_h": 5.0,
        "baseline_days": 20,  # qualifying days that set the team's normal mood
        "sd_floor": 0.5,  # a team that always answers 4 still has some noise
    },
    Rule.TARGET_CHURN: {
        "goal_changes": 2,
        "goal_window_days": 60,
        "team_changes": 3,
        "team_window_days": 90,
    },
    Rule.CHURN_THEN_DROP: {"window_days": 21},
    Rule.UNRECOGNISED_WINS: {
        "window_days": 30,
        "grace_days": 7,
        "share": 0.5,  # "most" of the wins
        "min_wins": 3,
    },
    Rule.PARTICIPATION_DROP: {"drop_points": 30, "baseline_weeks": 4},
    Rule.SETBACK_STREAK: {"streak": 3},
    Rule.BLOCKER_AGING: {"working_days": 5},
}

# Parameters that count things (days, weeks, events) must be whole numbers.
_WHOLE = {
    "baseline_days",
    "goal_changes",
    "goal_window_days",
    "team_changes",
    "team_window_days",
    "window_days",
    "grace_days",
    "min_wins",
    "baseline_weeks",
    "streak",
    "working_days",
}
# Bounds that keep a rule meaningful: (low, high), inclusive.
_BOUNDS: dict[str, tuple[float, float]] = {
    "ewma_lambda": (0.01, 1.0),
    "share": (0.0, 1.0),
    "drop_points": (1.0, 100.0),
}


def parse_rule(value: str, field: str = "rule") -> Rule:
    return parse_choice(Rule, value, field)


def check_parameters(
    rule: Rule, values: Mapping[str, Any], field: str = "parameters"
) -> dict[str, float]:
    """Validate overrides of `rule`'s parameters; return them as numbers."""
    known = DEFAULTS[rule]
    checked: dict[str, float] = {}
    for name, raw in values.items():
        where = f"{field}.{name}"
        if name not in known:
            allowed = ", ".join(sorted(known))
            raise InvalidCommand(where, f"{rule} has no parameter {name!r}; it has {allowed}")
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise InvalidCommand(where, f"must be a number, not {raw!r}")
        number = float(raw)
        if not math.isfinite(number):
            raise InvalidCommand(where, f"must be a finite number, not {raw}")
        low, high = _BOUNDS.get(name, (0.0, math.inf))
        if number <= 0 and low == 0.0 and name not in _BOUNDS:
            raise InvalidCommand(where, "must be greater than 0")
        if not low <= number <= high:
            raise InvalidCommand(where, f"must be between {low:g} and {high:g}")
        if name in _WHOLE and not number.is_integer():
            raise InvalidCommand(where, f"must be a whole number, not {raw}")
        checked[name] = number
    return checked


def alert_id(team_id: UUID, rule: Rule, subject: UUID | None, episode: int) -> UUID:
    """The id of the alert raised for this team, rule and subject (a goal, a member, a
    blocker, or None for the team) by the event at log position `episode`."""
    return uuid5(ALERT_NAMESPACE, f"{team_id}/{rule}/{subject or '-'}/{episode}")


class Alert(Aggregate):
    class AlertRaised(Aggregate.Created):
        team_id: UUID
        rule: str
        severity: str
        subject_id: UUID | None
        numbers: dict[str, float]
        # [{"position": int, "event": str, "id": str}]: the events behind the alert.
        evidence: list[dict[str, Any]]
        raised_on: date

    class AlertAcknowledged(Aggregate.Event):
        by: str
        note: str | None
        occurred_on: date

    class AlertCleared(Aggregate.Event):
        # "recovered": the signal went away by itself; "resolved": a person closed it.
        reason: str
        by: str | None
        occurred_on: date

    @classmethod
    def raise_(
        cls,
        *,
        team_id: UUID,
        rule: Rule,
        severity: Severity,
        subject_id: UUID | None,
        episode: int,
        numbers: Mapping[str, float],
        evidence: list[dict[str, Any]],
        raised_on: date,
    ) -> Alert:
        alert: Alert = cls._create(
            cls.AlertRaised,
            id=alert_id(team_id, rule, subject_id, episode),
            team_id=team_id,
            rule=rule.value,
            severity=severity.value,
            subject_id=subject_id,
            numbers=dict(numbers),
            evidence=evidence,
            raised_on=raised_on,
        )
        return alert

    @event(AlertRaised)
    def __init__(
        self,
        *,
        team_id: UUID,
        rule: str,
        severity: str,
        subject_id: UUID | None,
        numbers: dict[str, float],
        evidence: list[dict[str, Any]],
        raised_on: date,
    ) -> None:
        self.team_id = team_id
        self.rule = Rule(rule)
        self.severity = Severity(severity)
        self.subject_id = subject_id
        self.numbers = numbers
        self.evidence = evidence
        self.raised_on = raised_on
        self.state = AlertState.OPEN
        self.acknowledged_by: str | None = None

    def acknowledge(self, *, by: str, note: str | None, occurred_on: date) -> None:
        if self.state is AlertState.CLEARED:
            raise Conflict(f"alert {self.id} was already cleared")
        if self.state is AlertState.ACKNOWLEDGED:
            raise Conflict(f"alert {self.id} was already acknowledged by {self.acknowledged_by}")
        if note is not None and not note.strip():
            raise InvalidCommand("note", "must not be empty when given")
        self._acknowledged(by=by, note=note, occurred_on=occurred_on)

    @event(AlertAcknowledged)
    def _acknowledged(self, *, by: str, note: str | None, occurred_on: date) -> None:
        self.state = AlertState.ACKNOWLEDGED
        self.acknowledged_by = by

    def clear(self, *, reason: str, by: str | None, occurred_on: date) -> None:
        if self.state is AlertState.CLEARED:
            raise Conflict(f"alert {self.id} was already cleared")
        self._cleared(reason=reason, by=by, occurred_on=occurred_on)

    @event(AlertCleared)
    def _cleared(self, *, reason: str, by: str | None, occurred_on: date) -> None:
        self.state = AlertState.CLEARED
