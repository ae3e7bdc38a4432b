"""Morale: a team's mood per day or ISO week, and a member's own trend.

Privacy rule for team figures (documented in the README). Walking the periods in
order, a period's mean and distribution are shown only if
- at least `min_group` people responded, and
- its set of respondents equals the last shown period's, or differs from it by at
  least `min_group` people, or equals the set of the period just before it.
Otherwise comparing two neighbouring figures could single out the few people who
joined, left or stayed silent in between. The last clause lets a team whose
membership changed be seen again: the first period with the new set is hidden, and
from the second on, a comparison with the last shown figure mixes the newcomer's mood
with a period or more of everyone's, instead of giving it away. A day is also hidden
when another day of its week is (see `team_morale`). Suppression is decided over the team's whole
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
    of their own check-ins, so someone who checks in daily does not outweigh others.

    Days and weeks are both served. If a week were shown beside some but not all of
    its days, the week minus the shown days would give the hidden days away. So a day
    is shown only when every day of its week with check-ins is shown; weeks follow
    their own rule. Hiding a day can change which day is "last shown" for the next,
    so the daily series is recomputed until nothing more needs hiding.
    """
    moods = list(moods)
    if granularity == "week":
        return _series(_by_period(moods, "week"), min_group, forced=set())
    days = _by_period(moods, "day")
    forced: set[date] = set()
    while True:
        points = _series(days, min_group, forced)
        partly_hidden = {period_start(p.period_start, "week") for p in points if p.suppressed}
        more = {d for d in days if period_start(d, "week") in partly_hidden} - forced
        if not more:
            return points
        forced |= more


def _series(
    periods: dict[date, list[Mood]], min_group: int, forced: set[date]
) -> list[MoralePoint]:
    """The mood of each period, hidden by the rule in the module docstring, or because
    it is in `forced`."""
    points: list[MoralePoint] = []
    last_shown: frozenset[str] | None = None
    previous: frozenset[str] | None = None
    for start, period in periods.items():
        per_member: dict[str, list[int]] = defaultdict(list)
        for mood in period:
            per_member[mood.member_id].append(mood.mood)
        respondents = frozenset(per_member)
        changed = 0 if last_shown is None else len(respondents ^ last_shown)
        settled = respondents == previous
        previous = respondents
        too_few = len(respondents) < min_group or (0 < changed < min_group and not settled)
        if too_few or start in forced:
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
