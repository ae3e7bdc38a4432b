"""A realistic event log for the rebuild figure, written through Keel's own commands.

Teams form, members join and leave, goals are set, moved, redefined, progressed,
questioned and ended, with business dates spread evenly over the past year. Every
event goes through the service layer, so the log is exactly what production writes.
The mix is seeded, so two runs of the same size write the same kinds of events.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from domain import calendar
from domain.goal import ConcernKind, Goal
from domain.journal import CheckIn
from domain.team import DepartureReason
from services.keel import Keel

# How often each command is chosen; a command whose precondition does not hold (no
# open concern, no current member) falls back to a target change, the common case.
WEIGHTS = {
    "form_team": 2,
    "add_member": 30,
    "record_departure": 8,
    "check_in": 250,
    "set_goal": 30,
    "change_target": 250,
    "change_due_date": 60,
    "redefine": 40,
    "record_progress": 200,
    "raise_concern": 60,
    "answer_concern": 40,
    "achieve": 6,
    "abandon": 4,
}
ACTOR = "bench"


@dataclass
class _Goal:
    id: UUID
    target: float
    due: date
    title: str
    revision: int = 0


@dataclass
class _World:
    """What the generator must remember to issue only commands the domain accepts."""

    teams: list[UUID] = field(default_factory=list)
    members: dict[UUID, list[UUID]] = field(default_factory=dict)
    goals: list[_Goal] = field(default_factory=list)
    concerns: list[tuple[UUID, UUID]] = field(default_factory=list)
    checked_in_on: dict[UUID, date] = field(default_factory=dict)


class LogGenerator:
    def __init__(self, keel: Keel, events: int, seed: int = 7) -> None:
        self.keel = keel
        self.events = events
        self.rng = random.Random(seed)
        self.world = _World()
        self.first_day = calendar.today() - timedelta(days=365)
        self.day = self.first_day

    def run(self, progress: Callable[[int], None]) -> int:
        """Write `events` events; call `progress(1)` after each. Return the log's head."""
        kinds = list(WEIGHTS)
        weights = list(WEIGHTS.values())
        for i in range(self.events):
            # Business dates only move forward, so no command predates what it changes.
            self.day = self.first_day + timedelta(days=i * 365 // self.events)
            if not self.world.goals:
                kind = "form_team" if not self.world.teams else "set_goal"
            else:
                kind = self.rng.choices(kinds, weights)[0]
            getattr(self, f"_{kind}")()
            progress(1)
        return self.keel.head()

    # --- teams --------------------------------------------------------------------

    def _form_team(self) -> None:
        n = len(self.world.teams) + 1
        recorded = self.keel.form_team(
            name=f"Team {n}", manager=f"Manager {n}", actor=ACTOR, occurred_on=self.day
        )
        self.world.teams.append(recorded.id)
        self.world.members[recorded.id] = []

    def _add_member(self) -> None:
        team = self.rng.choice(self.world.teams)
        recorded = self.keel.add_member(
            team,
            name=f"Member {self.rng.randrange(10**6)}",
            role="engineer",
            actor=ACTOR,
            occurred_on=self.day,
        )
        self.world.members[team].append(recorded.id)

    def _record_departure(self) -> None:
        team = self.rng.choice(self.world.teams)
        current = self.world.members[team]
        if not current:
            return self._change_target()
        member = current.pop(self.rng.randrange(len(current)))
        reason = self.rng.choice(list(DepartureReason))
        self.keel.record_departure(
            team, member, reason=reason, note="moving on", actor=ACTOR, occurred_on=self.day
        )
        return None

    def _check_in(self) -> None:
        # A member checks in at most once a day; pick one who has not yet today.
        team = self.rng.choice(self.world.teams)
        ready = [m for m in self.world.members[team] if self.world.checked_in_on.get(m) != self.day]
        if not ready:
            return self._change_target()
        member = self.rng.choice(ready)
        report = CheckIn(
            day=self.day,
            mood=self.rng.randint(1, 5),
            progress=["shipped a fix"],
            setbacks=["flaky build"] if self.rng.random() < 0.3 else [],
            wins=["happy customer"] if self.rng.random() < 0.2 else [],
            blockers=["waiting on review"] if self.rng.random() < 0.2 else [],
        )
        self.keel.check_in(team, member, report, actor=ACTOR)
        self.world.checked_in_on[member] = self.day
        return None

    # --- goals --------------------------------------------------------------------

    def _set_goal(self) -> None:
        title = f"Goal {len(self.world.goals) + 1}"
        due = self.day + timedelta(days=self.rng.randint(120, 400))
        target = float(self.rng.randint(10, 1000))
        recorded = self.keel.set_goal(
            self.rng.choice(self.world.teams),
            title=title,
            metric="count",
            target=target,
            unit="items",
            due=due,
            why="because",
            actor=ACTOR,
            occurred_on=self.day,
        )
        self.world.goals.append(_Goal(recorded.id, target, due, title))

    def _goal(self) -> _Goal:
        return self.rng.choice(self.world.goals)

    def _change(self, goal: _Goal, command: Callable[[Goal], object]) -> UUID:
        return self.keel.change_goal(goal.id, None, command).id

    def _change_target(self) -> None:
        goal = self._goal()
        # Always a real change: the same target again is refused with 422.
        goal.target += self.rng.randint(1, 50)
        target, day = goal.target, self.day
        self._change(
            goal,
            lambda g: g.change_target(
                target=target, reason="rescoped", actor=ACTOR, occurred_on=day
            ),
        )

    def _change_due_date(self) -> None:
        goal = self._goal()
        goal.due += timedelta(days=self.rng.randint(1, 60))
        due, day = goal.due, self.day
        self._change(
            goal,
            lambda g: g.change_due_date(due=due, reason="slipped", actor=ACTOR, occurred_on=day),
        )

    def _redefine(self) -> None:
        goal = self._goal()
        goal.revision += 1
        title, day = f"{goal.title} (rev {goal.revision})", self.day
        self._change(
            goal,
            lambda g: g.redefine(
                title=title, metric=None, reason="clarified", actor=ACTOR, occurred_on=day
            ),
        )

    def _record_progress(self) -> None:
        goal, value, day = self._goal(), float(self.rng.randint(0, 1000)), self.day
        self._change(
            goal, lambda g: g.record_progress(value=value, note=None, actor=ACTOR, occurred_on=day)
        )

    def _raise_concern(self) -> None:
        goal, day = self._goal(), self.day
        kind = self.rng.choice(list(ConcernKind))
        concern = self._change(
            goal,
            lambda g: g.raise_concern(
                kind=kind, text="is this right?", actor=ACTOR, occurred_on=day
            ),
        )
        self.world.concerns.append((goal.id, concern))

    def _answer_concern(self) -> None:
        if not self.world.concerns:
            return self._change_target()
        goal_id, concern = self.world.concerns.pop(self.rng.randrange(len(self.world.concerns)))
        self.keel.answer_concern(goal_id, concern, text="yes", actor=ACTOR, occurred_on=self.day)
        return None

    def _end(self, achieved: bool) -> None:
        # Keep enough goals open that changes spread over many aggregates.
        if len(self.world.goals) < 20:
            return self._change_target()
        goal = self.world.goals.pop(self.rng.randrange(len(self.world.goals)))
        self.world.concerns = [c for c in self.world.concerns if c[0] != goal.id]
        day = self.day
        if achieved:
            self._change(goal, lambda g: g.achieve(reason="done", actor=ACTOR, occurred_on=day))
        else:
            self._change(goal, lambda g: g.abandon(reason="dropped", actor=ACTOR, occurred_on=day))
        return None

    def _achieve(self) -> None:
        self._end(achieved=True)

    def _abandon(self) -> None:
        self._end(achieved=False)
