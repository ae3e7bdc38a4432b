"""Stories told through the Keel application's commands, shared by the alerting tests
and the alert benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from domain.goal import Goal
from domain.journal import CheckIn
from services.keel import Keel

# Every day's mean is exactly 4: the detectors see z = 0 until the drop.
STABLE = (3, 4, 5, 4, 3, 5)
LOW = (2, 3, 2, 3, 2, 2)


@dataclass
class ChurnThenDrop:
    team_id: UUID
    goal_id: UUID
    members: list[UUID]
    change_positions: list[int] = field(default_factory=list)
    drop_day: date | None = None


def weekdays(start: date, end: date) -> list[date]:
    days = (end - start).days
    return [d for d in (start + timedelta(i) for i in range(days)) if d.weekday() < 5]


def churn_then_drop(keel: Keel, today: date) -> ChurnThenDrop:
    """A team of six has 8 stable weeks; its goal's target changes twice, two weeks
    apart; two days after the second change its mood drops, and stays down."""
    start = today - timedelta(days=today.weekday()) - timedelta(weeks=12)  # a Monday
    team_id = keel.form_team(name="Platform", manager="Mia", actor="Mia", occurred_on=start).id
    members = [
        keel.add_member(team_id, name=f"Person {i}", role="dev", actor="Mia", occurred_on=start).id
        for i in range(len(STABLE))
    ]
    goal_id = keel.set_goal(
        team_id,
        title="Ship the API",
        metric="endpoints",
        target=10,
        unit="endpoints",
        due=today + timedelta(days=180),
        why=None,
        actor="owner",
        occurred_on=start,
    ).id
    story = ChurnThenDrop(team_id, goal_id, members)
    changes = {start + timedelta(weeks=8): 14.0, start + timedelta(weeks=10): 18.0}
    drop_from = start + timedelta(weeks=10, days=2)
    for index, day in enumerate(weekdays(start, today)):
        if day in changes:
            target = changes[day]

            def change(goal: Goal, target: float = target, day: date = day) -> None:
                goal.change_target(
                    target=target, reason="the board wants more", actor="owner", occurred_on=day
                )

            recorded = keel.change_goal(goal_id, None, change)
            story.change_positions.append(recorded.position)
        moods = LOW if day >= drop_from else STABLE[index % 6 :] + STABLE[: index % 6]
        if day >= drop_from and story.drop_day is None:
            story.drop_day = day
        for member_id, mood in zip(members, moods, strict=True):
            report = CheckIn(day=day, mood=mood, progress=["worked on it"])
            keel.check_in(team_id, member_id, report, actor=str(member_id))
    return story
