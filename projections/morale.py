"""Morale: a team's mood per day or ISO week, and a member's own trend.

Privacy rule for team figures (documented in the README). Walking the periods in
order, a period's mean and distribution are shown only if
- at least `min_group` people responded, and
- its set of respondents equals the last shown period's, or differs from it by at
  least `min_group` people.
Otherwise comparing two neighbouring figures could single out the few people who
joined, left or stayed silent in between. Suppression is decided over the team's whole
history, before any date filter, so choosing a different `from`/`to` never reveals more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import fmean
from typing import Literal

Granularity = Literal["day", "week"]


@dataclass(frozen=True)
class Mood:
    """One check-in's mood, as the morale view reads it."""

    member_id: str
    day: date
    mood: int


@dataclass(frozen=True)
class MoralePoint:
    period_start: date
    respondents: int
    mean: float | None
    distribution: dict[int, int] | None
    suppressed: bool


@dataclass(frozen=True)
class TrendPoint:
    period_start: date
    check_ins: int
    mean: float


def period_start(day: date, granularity: Granularity) -> date:
    return day if granularity == "day" else day - timedelta(days=day.weekday())


def _by_period(moods: Iterable[Mood], granularity: Granularity) -> dict[date, list[Mood]]:
    periods: dict[date, list[Mood]] = defaultdict(list)
    for mood in moods:
        periods[period_start(mood.day, granularity)].append(mood)
    return dict(sorted(periods.items()))


def team_morale(
    moods: Iterable[Mood], granularity: Granularity, min_group: int
) -> list[MoralePoint]:
    """Team mood per period. In a week, each respondent counts once, with the mean
    of their own check-ins, so someone who checks in daily does not outweigh others."""
    points: list[MoralePoint] = []
    last_shown: frozenset[str] | None = None
    for start, period in _by_period(moods, granularity).items():
        per_member: dict[str, list[int]] = defaultdict(list)
        for mood in period:
            per_member[mood.member_id].append(mood.mood)
        respondents = frozenset(per_member)
        changed = 0 if last_shown is None else len(respondents ^ last_shown)
        suppressed = len(respondents) < min_group or 0 < changed < min_group
        if suppressed:
            points.append(MoralePoint(start, len(respondents), None, None, True))
            continue
        last_shown = respondents
        distribution = dict.fromkeys(range(1, 6), 0)
        for mood in period:
            distribution[mood.mood] += 1
        mean = fmean(fmean(scores) for scores in per_member.values())
        points.append(MoralePoint(start, len(respondents), round(mean, 3), distribution, False))
    return points


def member_trend(moods: Iterable[Mood], granularity: Granularity) -> list[TrendPoint]:
    """One member's own mood per period: shown to them and their manager only."""
    return [
        TrendPoint(start, len(period), round(fmean(m.mood for m in period), 3))
        for start, period in _by_period(moods, granularity).items()
    ]
