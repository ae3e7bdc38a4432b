"""Business dates: what day an event describes, as opposed to when it was recorded."""

import math
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from eventsourcing.domain import Aggregate

from domain.errors import InvalidCommand

# The easternmost time zone is UTC+14: a date is only "in the future" once it has
# not begun anywhere on Earth, so nobody's honest "today" is ever refused.
_EARLIEST_OFFSET = timedelta(hours=14)


def today() -> date:
    """The default business date of a command: today in UTC."""
    return datetime.now(UTC).date()


def check_occurred_on(
    occurred_on: date, *, not_before: date | None = None, field: str = "occurred_on"
) -> None:
    latest = (datetime.now(UTC) + _EARLIEST_OFFSET).date()
    if occurred_on > latest:
        raise InvalidCommand(field, f"{occurred_on} is in the future")
    if not_before is not None and occurred_on < not_before:
        raise InvalidCommand(field, f"{occurred_on} is before {not_before}, when this began")


def check_reason(reason: str, field: str = "reason") -> str:
    """Changes must say why: that is the point of the audit."""
    stripped = reason.strip()
    if not stripped:
        raise InvalidCommand(field, "must not be empty")
    return stripped


def check_finite(number: float, field: str = "target") -> None:
    if not math.isfinite(number):
        raise InvalidCommand(field, f"must be a finite number, not {number}")


E = TypeVar("E", bound=StrEnum)


def parse_choice(choices: type[E], value: str, field: str) -> E:
    try:
        return choices(value)
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        raise InvalidCommand(field, f"{value!r} is not one of {allowed}") from None


class BusinessEvent(Aggregate.Event):
    """Every change says who acted and which business day it describes; the
    recorded time is the event's own `timestamp`."""

    actor: str
    occurred_on: date
