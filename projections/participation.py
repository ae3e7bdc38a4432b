"""Participation: the share of a team's members who checked in each ISO week, and who
has gone quiet. Silence is a signal. A week counts only the people who were on the
team during it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

SILENT_AFTER_DAYS = 14


@dataclass(frozen=True)
class Membership:
    member_id: str
    joined_on: date
    left_on: date | None

    def on_team_during(self, start: date, end: date) -> bool:
        return self.joined_on <= end and (self.left_on is None or self.left_on >= start)


@dataclass(frozen=True)
class Week:
    week_start: date
    members: int
    checked_in: int
    share: float | None


@dataclass(frozen=True)
class Silence:
    member_id: str
    last_check_in: date | None
    days_silent: int


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_participation(
    memberships: Sequence[Membership],
    check_ins: Iterable[tuple[str, date]],
    *,
    since: date,
    until: date,
) -> list[Week]:
    checked: dict[date, set[str]] = {}
    for member_id, day in check_ins:
        checked.setdefault(week_of(day), set()).add(member_id)
    weeks: list[Week] = []
    start = week_of(since)
    while start <= until:
        end = start + timedelta(days=6)
        on_team = {m.member_id for m in memberships if m.on_team_during(start, end)}
        if on_team:
            count = len(checked.get(start, set()) & on_team)
            weeks.append(Week(start, len(on_team), count, round(count / len(on_team), 4)))
        start += timedelta(days=7)
    return weeks


def silent_members(
    memberships: Sequence[Membership], last_check_ins: dict[str, date], *, today: date
) -> list[Silence]:
    """Current members who have not checked in for SILENT_AFTER_DAYS days or more
    (counting from when they joined, if they never have)."""
    silent = []
    for m in memberships:
        if m.left_on is not None and m.left_on < today:
            continue
        last = last_check_ins.get(m.member_id)
        days = (today - (last or m.joined_on)).days
        if days >= SILENT_AFTER_DAYS:
            silent.append(Silence(m.member_id, last, days))
    return sorted(silent, key=lambda s: (-s.days_silent, s.member_id))
