"""Progress ledger: how often people report progress, setbacks and wins.

A *check-in day* is a day a member checked in. The shares are the fraction of
check-in days with at least one item of that kind. The balance weighs a setback day
`setback_weight` times a progress day (Amabile & Kramer: a setback weighs about twice
as much as a step forward): balance = progress days - weight * setback days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class DayCounts:
    member_id: str
    progress: int
    setbacks: int
    wins: int


@dataclass(frozen=True)
class LedgerLine:
    check_in_days: int
    progress_days: int
    setback_days: int
    win_days: int
    progress_share: float | None
    setback_share: float | None
    win_share: float | None
    balance: float


def ledger_line(days: Iterable[DayCounts], setback_weight: float) -> LedgerLine:
    total = progress = setbacks = wins = 0
    for day in days:
        total += 1
        progress += day.progress > 0
        setbacks += day.setbacks > 0
        wins += day.wins > 0

    def share(count: int) -> float | None:
        return round(count / total, 4) if total else None

    return LedgerLine(
        check_in_days=total,
        progress_days=progress,
        setback_days=setbacks,
        win_days=wins,
        progress_share=share(progress),
        setback_share=share(setbacks),
        win_share=share(wins),
        balance=progress - setback_weight * setbacks,
    )


def ledger_by_member(days: Iterable[DayCounts], setback_weight: float) -> dict[str, LedgerLine]:
    per_member: dict[str, list[DayCounts]] = defaultdict(list)
    for day in days:
        per_member[day.member_id].append(day)
    return {m: ledger_line(d, setback_weight) for m, d in sorted(per_member.items())}
