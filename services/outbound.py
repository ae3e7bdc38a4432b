"""What Keel publishes on NATS: a subject and a JSON payload for each event, or nothing.

Payloads are built from a whitelist. Each published field has a converter that only lets
through what it names (an id, a number, a date, a boolean, or a code from a fixed set),
so no free text, name, note, reason, title, message or actor can reach NATS, even when
an event grows a new text field. Texts stay behind the access rules of the API.

Left out on purpose:
- A person's mood: the API shows mood only for groups of at least `min_group` people;
  a stream of each person's daily mood would undo that.
- Actors: they are people's names until authentication lands.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.alert import Alert, AlertState, Rule, Severity
from domain.goal import ConcernKind, Goal
from domain.journal import Journal
from domain.recognition import Recognition
from domain.team import DepartureReason, Team

Converter = Callable[[Any], Any]
log = logging.getLogger(__name__)

# Codes and names that may stand in a subject or a payload key: no spaces, no dots.
_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class NotPublishable(ValueError):
    """A value that a whitelisted field refused: the event is malformed, or the
    whitelist names the wrong converter. Never published as it stands."""


@dataclass(frozen=True)
class Outbound:
    subject: str
    payload: dict[str, Any]

    def data(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


# --- converters ------------------------------------------------------------------------


def as_id(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(value if isinstance(value, UUID) else UUID(str(value)))
    except ValueError:
        raise NotPublishable(f"not an id: {type(value).__name__}") from None


def required_id(value: Any) -> str:
    converted = as_id(value)
    if converted is None:
        raise NotPublishable("a required id is missing")
    return converted


def as_day(value: Any) -> str:
    if not isinstance(value, date):
        raise NotPublishable(f"not a date: {type(value).__name__}")
    return value.isoformat()


def as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        raise NotPublishable("not a number: bool")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON has no NaN or infinity
    raise NotPublishable(f"not a number: {type(value).__name__}")


def as_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise NotPublishable(f"not a boolean: {type(value).__name__}")
    return value


def as_code(codes: type[StrEnum]) -> Converter:
    def convert(value: Any) -> str:
        try:
            return codes(value).value
        except ValueError:
            raise NotPublishable(f"not a {codes.__name__}") from None

    return convert


def as_ids(value: Any) -> list[str | None]:
    """A list of ids, or of check-in items ({"id", "text"}) reduced to their ids."""
    if not isinstance(value, list):
        raise NotPublishable(f"not a list: {type(value).__name__}")
    return [as_id(item["id"] if isinstance(item, dict) else item) for item in value]


def as_numbers(value: Any) -> dict[str, float | int | None]:
    """Named numbers, such as a rule's parameters or an alert's figures."""
    if not isinstance(value, Mapping):
        raise NotPublishable(f"not a mapping: {type(value).__name__}")
    numbers = {}
    for name, number in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            # A name is a key, so it could carry text: only identifiers go out.
            log.warning("left out a number whose name is not a plain identifier")
            continue
        numbers[name] = as_number(number)
    return numbers


def as_evidence(value: Any) -> list[dict[str, Any]]:
    """An alert's evidence: [{position, event, id}], the events behind it."""
    if not isinstance(value, list):
        raise NotPublishable(f"not a list: {type(value).__name__}")
    evidence = []
    for item in value:
        if not isinstance(item, Mapping):
            raise NotPublishable("an evidence item is not a mapping")
        event = item.get("event")
        if not isinstance(event, str) or not _TOKEN.match(event):
            raise NotPublishable("an evidence item's event is not an event name")
        position = item.get("position")
        evidence.append(
            {
                "position": as_number(position) if position is not None else None,
                "event": event,
                "id": as_id(item.get("id")),
            }
        )
    return evidence


# --- KEEL_EVENTS ------------------------------------------------------------------------

# Event class -> {payload field: (event attribute, converter)}. Every domain event class
# is listed, even with no field of its own: tests/test_outbound.py checks that.
_ID, _DAY, _NUM = as_id, as_day, as_number
EVENT_FIELDS: dict[type, dict[str, tuple[str, Converter]]] = {
    Team.TeamFormed: {"occurred_on": ("occurred_on", _DAY)},
    Team.MemberJoined: {"member_id": ("member_id", _ID), "occurred_on": ("occurred_on", _DAY)},
    Team.MemberLeft: {
        "member_id": ("member_id", _ID),
        "reason": ("reason", as_code(DepartureReason)),
        "occurred_on": ("occurred_on", _DAY),
    },
    Team.ManagerAssigned: {"occurred_on": ("occurred_on", _DAY)},
    Team.MinimumGroupSet: {"min_group": ("min_group", _NUM), "occurred_on": ("occurred_on", _DAY)},
    Team.AlertRuleTuned: {
        "rule": ("rule", as_code(Rule)),
        "parameters": ("parameters", as_numbers),
        "occurred_on": ("occurred_on", _DAY),
    },
    Team.PersonalDataErased: {
        "member_id": ("member_id", _ID),
        "occurred_on": ("occurred_on", _DAY),
    },
    Goal.GoalSet: {
        "team_id": ("team_id", _ID),
        "target": ("target", _NUM),
        "due": ("due", _DAY),
        "occurred_on": ("occurred_on", _DAY),
    },
    Goal.TargetChanged: {
        "old": ("old", _NUM),
        "new": ("new", _NUM),
        "occurred_on": ("occurred_on", _DAY),
    },
    Goal.DueDateChanged: {
        "old": ("old", _DAY),
        "new": ("new", _DAY),
        "occurred_on": ("occurred_on", _DAY),
    },
    Goal.GoalRedefined: {"occurred_on": ("occurred_on", _DAY)},
    Goal.ProgressRecorded: {"value": ("value", _NUM), "occurred_on": ("occurred_on", _DAY)},
    Goal.ConcernRaised: {
        "concern_id": ("concern_id", _ID),
        "kind": ("kind", as_code(ConcernKind)),
        "occurred_on": ("occurred_on", _DAY),
    },
    Goal.ConcernAnswered: {
        "concern_id": ("concern_id", _ID),
        "occurred_on": ("occurred_on", _DAY),
    },
    Goal.GoalAchieved: {"occurred_on": ("occurred_on", _DAY)},
    Goal.GoalAbandoned: {"occurred_on": ("occurred_on", _DAY)},
    Journal.JournalOpened: {
        "member_id": ("member_id", _ID),
        "team_id": ("team_id", _ID),
        "occurred_on": ("occurred_on", _DAY),
    },
    Journal.CheckedIn: {
        "day": ("occurred_on", _DAY),
        "win_ids": ("wins", as_ids),
        "blocker_ids": ("blockers", as_ids),
    },
    Journal.CheckInCorrected: {
        "day": ("occurred_on", _DAY),
        "win_ids": ("wins", as_ids),
        "blocker_ids": ("blockers", as_ids),
        "withdrawn_win_ids": ("withdrawn_win_ids", as_ids),
        "withdrawn_blocker_ids": ("withdrawn_blocker_ids", as_ids),
    },
    Journal.BlockerCleared: {
        "blocker_id": ("blocker_id", _ID),
        "occurred_on": ("occurred_on", _DAY),
    },
    Journal.SuccessDefined: {"occurred_on": ("occurred_on", _DAY)},
    Journal.PersonalDataErased: {"occurred_on": ("occurred_on", _DAY)},
    Recognition.RecognitionGiven: {
        "team_id": ("team_id", _ID),
        "from_member_id": ("from_member_id", _ID),
        "to_member_id": ("to_member_id", _ID),
        "win_id": ("win_id", _ID),
        "from_manager": ("from_manager", as_flag),
        "occurred_on": ("occurred_on", _DAY),
    },
}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def aggregate_and_event(event: Any) -> tuple[str, str]:
    """`("goal", "target_changed")` for a Goal.TargetChanged."""
    qualified = type(event).__qualname__.split(".")
    aggregate = qualified[-2] if len(qualified) > 1 else "unknown"
    return snake(aggregate), snake(qualified[-1])


def _envelope(event: Any, position: int) -> dict[str, Any]:
    aggregate, name = aggregate_and_event(event)
    timestamp = event.timestamp
    return {
        "aggregate": aggregate,
        "aggregate_id": as_id(event.originator_id),
        "event": name,
        "version": event.originator_version,
        "position": position,
        "recorded_at": timestamp.isoformat() if isinstance(timestamp, datetime) else None,
    }


def _fields(event: Any, fields: Mapping[str, tuple[str, Converter]]) -> dict[str, Any]:
    return {name: convert(getattr(event, attr)) for name, (attr, convert) in fields.items()}


def event_message(event: Any, position: int, prefix: str) -> Outbound:
    """The KEEL_EVENTS message of a domain event, on `<prefix>.events.<aggregate>.<event>`.

    An event class missing from the whitelist still goes out, with its envelope only
    (ids, version, position, time), so consumers see that something happened.
    """
    payload = _envelope(event, position)
    payload.update(_fields(event, EVENT_FIELDS.get(type(event), {})))
    return Outbound(f"{prefix}.events.{payload['aggregate']}.{payload['event']}", payload)


# --- KEEL_ALERTS ------------------------------------------------------------------------

_ALERT_EVENTS: dict[type, tuple[str, AlertState]] = {
    Alert.AlertRaised: ("raised", AlertState.OPEN),
    Alert.AlertAcknowledged: ("acknowledged", AlertState.ACKNOWLEDGED),
    Alert.AlertCleared: ("cleared", AlertState.CLEARED),
}


class ClearedReason(StrEnum):
    RECOVERED = "recovered"  # the signal went away by itself
    RESOLVED = "resolved"  # a person closed it


def alert_links(team_id: str, alert_id: str) -> dict[str, str]:
    """Where the team's alerts are listed, and where its manager acts on this one."""
    return {
        "team_alerts": f"/v1/teams/{team_id}/alerts",
        "acknowledgement": f"/v1/alerts/{alert_id}/acknowledgement",
        "resolution": f"/v1/alerts/{alert_id}/resolution",
    }


def alert_message(
    event: Any, raised: Alert.AlertRaised, position: int, prefix: str
) -> Outbound | None:
    """The KEEL_ALERTS message of an alert event, on `<prefix>.alerts.<team_id>.<rule>`.

    `raised` is the alert's first event: acknowledgements and clearances do not repeat
    the team and rule. Never the acknowledgement's note, nor who acknowledged or cleared.
    """
    kind = _ALERT_EVENTS.get(type(event))
    if kind is None:
        return None
    name, state = kind
    alert_id, team_id = required_id(event.originator_id), required_id(raised.team_id)
    rule = as_code(Rule)(raised.rule)
    payload: dict[str, Any] = {
        "alert_id": alert_id,
        "event": name,
        "state": state.value,
        "team_id": team_id,
        "rule": rule,
        "severity": as_code(Severity)(raised.severity),
        "subject_id": as_id(raised.subject_id),
        "numbers": as_numbers(raised.numbers),
        "evidence": as_evidence(raised.evidence),
        "raised_on": as_day(raised.raised_on),
        "version": event.originator_version,
        "position": position,
        "links": alert_links(team_id, alert_id),
    }
    if not isinstance(event, Alert.AlertRaised):
        payload["occurred_on"] = as_day(event.occurred_on)
    if isinstance(event, Alert.AlertCleared):
        # A code when it is one of the known reasons; anything else stays out.
        known = {reason.value for reason in ClearedReason}
        payload["reason"] = event.reason if event.reason in known else None
    return Outbound(f"{prefix}.alerts.{team_id}.{rule}", payload)
