"""Blockers: what stands in people's way, how long it has, and who cleared it (the
manager as catalyst). Ages are in working days, Monday to Friday."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


def working_days_between(start: date, end: date) -> int:
    """Weekdays after `start` up to and including `end` (0 when end <= start)."""
    if end <= start:
        return 0
    days = (end - start).days
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    weekday = start.weekday()
    for offset in range(1, rest + 1):
        if (weekday + offset) % 7 < 5:
            count += 1
    return count


@dataclass(frozen=True)
class BlockerRow:
    blocker_id: str
    member_id: str
    day: date
    cleared_on: date | None
    cleared_by: str | None


@dataclass(frozen=True)
class OpenBlocker:
    blocker_id: str
    member_id: str
    day: date
    age_working_days: int


@dataclass(frozen=True)
class ClearedBlocker:
    blocker_id: str
    member_id: str
    day: date
    cleared_on: date
    cleared_by: str
    working_days_open: int


def blocker_report(
    rows: Iterable[BlockerRow], *, today: date
) -> tuple[list[OpenBlocker], list[ClearedBlocker]]:
    still_open: list[OpenBlocker] = []
    cleared: list[ClearedBlocker] = []
    for row in rows:
        if row.cleared_on is None or row.cleared_by is None:
            age = working_days_between(row.day, today)
            still_open.append(OpenBlocker(row.blocker_id, row.member_id, row.day, age))
        else:
            took = working_days_between(row.day, row.cleared_on)
            cleared.append(
                ClearedBlocker(
                    row.blocker_id, row.member_id, row.day, row.cleared_on, row.cleared_by, took
                )
            )
    still_open.sort(key=lambda b: (-b.age_working_days, b.blocker_id))
    cleared.sort(key=lambda b: (b.cleared_on, b.blocker_id), reverse=True)
    return still_open, cleared
