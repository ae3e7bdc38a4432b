"""Goal churn: how often what a team is asked for moves, computed from audit rows.

Definitions (documented in the README):
- A *change* is a target change, a due-date change or a redefinition.
- `changes` counts the changes whose business date lies in the window: the
  `window_days` days that end today, today included.
- A goal is *flagged* when, inside the window, some span of `goal_window_days` days
  holds `goal_changes` or more of its changes; a team when some span of
  `team_window_days` days holds `team_changes` or more changes across its goals.
  "In 60 days" means at most 60 days apart.
- A target's *lifetime* is the number of days from when it was set to when it was
  replaced; the median is over the targets replaced inside the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from projections.goal_audit import CHURN_KINDS


@dataclass(frozen=True)
class ChurnThresholds:
    goal_changes: int = 2
    goal_window_days: int = 60
    team_changes: int = 3
    team_window_days: int = 90


@dataclass(frozen=True)
class AuditEntry:
    """The part of a goal_changes row that churn needs."""

    goal_id: str
    kind: str
    occurred_on: date
    position: int


@dataclass(frozen=True)
class GoalChurn:
    goal_id: str
    title: str
    changes: int
    flagged: bool
    median_target_lifetime_days: float | None


@dataclass(frozen=True)
class TeamChurn:
    window_days: int
    changes: int
    flagged: bool
    goals: list[GoalChurn]


def most_within(days: Sequence[date], span_days: int) -> int:
    """The largest number of the sorted `days` that lie at most `span_days` apart."""
    best, start = 0, 0
    for end, day in enumerate(days):
        while (day - days[start]).days > span_days:
            start += 1
        best = max(best, end - start + 1)
    return best


def target_lifetimes(
    entries: Sequence[AuditEntry], since: date, until: date | None = None
) -> list[int]:
    """Days each replaced target lived, for replacements from `since` to `until`.

    `entries` are one goal's audit rows in business-date order. A target whose start is
    unknown (no earlier goal_set or target_changed) is not measured.
    """
    lifetimes: list[int] = []
    target_set_on: date | None = None
    for entry in entries:
        if until is not None and entry.occurred_on > until:
            break
        if entry.kind not in ("goal_set", "target_changed"):
            continue
        if (
            entry.kind == "target_changed"
            and target_set_on is not None
            and entry.occurred_on >= since
        ):
            lifetimes.append((entry.occurred_on - target_set_on).days)
        target_set_on = entry.occurred_on
    return lifetimes


def team_churn(
    goal_titles: dict[str, str],
    entries: Iterable[AuditEntry],
    *,
    today: date,
    window_days: int,
    thresholds: ChurnThresholds,
) -> TeamChurn:
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, not {window_days}")
    since = today - timedelta(days=window_days - 1)
    by_goal: dict[str, list[AuditEntry]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: (e.occurred_on, e.position)):
        by_goal[entry.goal_id].append(entry)

    goals: list[GoalChurn] = []
    team_days: list[date] = []
    for goal_id, title in goal_titles.items():
        history = by_goal.get(goal_id, [])
        days = [
            e.occurred_on
            for e in history
            if e.kind in CHURN_KINDS and since <= e.occurred_on <= today
        ]
        team_days.extend(days)
        lifetimes = target_lifetimes(history, since, today)
        goals.append(
            GoalChurn(
                goal_id=goal_id,
                title=title,
                changes=len(days),
                flagged=most_within(days, thresholds.goal_window_days) >= thresholds.goal_changes,
                median_target_lifetime_days=float(median(lifetimes)) if lifetimes else None,
            )
        )
    team_days.sort()
    goals.sort(key=lambda g: (-g.changes, g.title))
    return TeamChurn(
        window_days=window_days,
        changes=len(team_days),
        flagged=most_within(team_days, thresholds.team_window_days) >= thresholds.team_changes,
        goals=goals,
    )
