"""One team's two years of inner work life, built in memory with the domain.

A team of ten (one of them its manager, by name and by role) checks in on most
workdays: a mood that drifts with the team's weather, a few short texts, now and then
a private note. Blockers get cleared a few days later, people recognise each other's
wins, and the team's goals are set each quarter and moved while they run.

Nothing here touches a store: `team_history` returns the aggregates with their
pending events, and the caller saves them through Keel (so its mapper seals the
personal texts exactly as in production). A team's history depends only on the seed
and the team's number, so team 3 is the same team in a small log and in a big one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from domain.goal import Goal
from domain.journal import CheckIn, Journal
from domain.recognition import Recognition
from domain.team import DepartureReason, Team

DAYS = 730  # about two years of history, ending today
MEMBERS = 10
ACTOR = "bench"

PROGRESS = ["shipped the fix", "paired on review", "wrote the tests", "closed two tickets",
            "drafted the design", "demoed to the client", "cleaned up the backlog"]  # fmt: skip
SETBACKS = ["flaky build", "scope changed again", "waiting on data", "sick half the day",
            "merge conflict hell", "meeting overload"]  # fmt: skip
WINS = ["customer thanked us", "release went out", "found the root cause",
        "latency halved", "onboarded the new hire"]  # fmt: skip
BLOCKERS = ["waiting on review", "no staging access", "unclear requirements",
            "vendor API down", "laptop broken"]  # fmt: skip
NOTES = ["tired this week", "worried about the reorg", "great day honestly", "need a break"]
FIRST = ["Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lea"]
LAST = ["Silva", "Okafor", "Novak", "Ito", "Berg", "Khan", "Moreau", "Rossi", "Diaz"]


@dataclass
class TeamHistory:
    """The aggregates of one team, each with its pending events, and what the
    benchmarks need to find them again."""

    team: Team
    journals: list[Journal]
    recognitions: list[Recognition] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)

    @property
    def aggregates(self) -> list[Team | Journal | Recognition | Goal]:
        # Team first: its members have joined before any journal event is read.
        return [self.team, *self.journals, *self.recognitions, *self.goals]

    @property
    def events(self) -> int:
        return sum(len(a.pending_events) for a in self.aggregates)


def _workdays(first: date, last: date) -> list[date]:
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [d for d in days if d.weekday() < 5]


def _some(rng: random.Random, pool: list[str], weights: tuple[float, ...]) -> list[str]:
    """0, 1 or 2 texts from `pool`, with the given odds."""
    return rng.sample(pool, rng.choices(range(len(weights)), weights)[0])


class _TeamBuilder:
    def __init__(self, number: int, seed: int, today: date) -> None:
        self.rng = random.Random(seed * 1_000_003 + number)
        self.today = today
        self.formed = today - timedelta(days=DAYS + self.rng.randrange(14))
        self.manager = f"manager-{number}"
        self.team = Team.form(
            name=f"Team {number}", manager=self.manager, actor=ACTOR, occurred_on=self.formed
        )
        self.journals: dict[UUID, Journal] = {}
        self.offset: dict[UUID, float] = {}  # each person's usual mood, against the team's
        self.turnout: dict[UUID, float] = {}  # how often they check in
        self.wins: list[tuple[UUID, UUID, date]] = []  # (member, win, day)
        self.clearances: list[tuple[date, Journal, UUID]] = []
        self.history = TeamHistory(self.team, [])

    def join(self, name: str, role: str, day: date) -> UUID:
        member = self.team.add_member(name=name, role=role, actor=ACTOR, occurred_on=day)
        journal = Journal.open(member_id=member, team_id=self.team.id, actor=ACTOR, occurred_on=day)
        self.journals[member] = journal
        self.history.journals.append(journal)
        self.offset[member] = self.rng.gauss(0, 0.5)
        self.turnout[member] = self.rng.uniform(0.65, 0.97)
        return member

    def build(self) -> TeamHistory:
        self.join(self.manager, "manager", self.formed)
        for _ in range(MEMBERS - 1):
            self.join(f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}", "engineer", self.formed)
        days = _workdays(self.formed, self.today)
        leaving = self.rng.choice(days[len(days) // 3 : 2 * len(days) // 3])
        goals = _GoalPlan(self.rng, self.team.id, self.history.goals)
        weather = 3.4
        for day in days:
            if day.weekday() == 0:  # the team's mood drifts week by week, back towards 3.4
                weather = min(4.5, max(1.8, weather + self.rng.gauss(0, 0.2) + (3.4 - weather) / 8))
            if day == leaving:
                self._turnover(day)
            self._clear(day)
            for member, journal in self.journals.items():
                on_team = self.team.members[member].was_on_team(day)
                if on_team and self.rng.random() < self.turnout[member]:
                    self._check_in(member, journal, day, weather)
            self._recognise(day)
            goals.advance(day)
        return self.history

    def _turnover(self, day: date) -> None:
        current = [m for m in self.journals if self.team.members[m].role == "engineer"]
        leaver = self.rng.choice(current)
        self.team.record_departure(
            member_id=leaver,
            reason=DepartureReason.MOVED_ON,
            note="new job",
            actor=ACTOR,
            occurred_on=day,
        )
        self.join(f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}", "engineer", day)

    def _check_in(self, member: UUID, journal: Journal, day: date, weather: float) -> None:
        rng = self.rng
        mood = round(rng.gauss(weather + self.offset[member], 0.7))
        report = CheckIn(
            day=day,
            mood=min(5, max(1, mood)),
            progress=_some(rng, PROGRESS, (0.15, 0.55, 0.3)),
            setbacks=_some(rng, SETBACKS, (0.7, 0.25, 0.05)),
            wins=_some(rng, WINS, (0.82, 0.16, 0.02)),
            blockers=_some(rng, BLOCKERS, (0.88, 0.11, 0.01)),
            private_note=rng.choice(NOTES) if rng.random() < 0.08 else None,
        )
        entry = journal.check_in(report, actor=str(member))
        self.wins += [(member, UUID(w["id"]), day) for w in entry.wins]
        for blocker in entry.blockers:
            if rng.random() < 0.85:  # most blockers get cleared within two weeks
                cleared = day + timedelta(days=rng.randint(0, 14))
                self.clearances.append((cleared, journal, UUID(blocker["id"])))

    def _clear(self, day: date) -> None:
        due = [c for c in self.clearances if c[0] <= day]
        self.clearances = [c for c in self.clearances if c[0] > day]
        for _, journal, blocker in due:
            note = "sorted with IT" if self.rng.random() < 0.3 else None
            journal.clear_blocker(
                blocker_id=blocker, note=note, actor=self.manager, occurred_on=day
            )

    def _recognise(self, day: date) -> None:
        on_team = [m for m in self.journals if self.team.members[m].was_on_team(day)]
        manager = next(m for m in on_team if self.team.members[m].role == "manager")
        for giver, odds in ((self.rng.choice(on_team), 0.6), (manager, 0.15)):
            if self.rng.random() >= odds:
                continue
            recent = [(m, w) for m, w, d in self.wins[-10:] if m != giver and (day - d).days < 14]
            if recent and self.rng.random() < 0.6:
                receiver, win = self.rng.choice(recent)
            else:
                receiver, win = self.rng.choice([m for m in on_team if m != giver]), None
            if not self.team.members[receiver].was_on_team(day):
                continue
            recognition = Recognition.give(
                team_id=self.team.id,
                from_member_id=giver,
                to_member_id=receiver,
                win_id=win,
                from_manager=giver == manager,
                message="thanks for the help" if win is None else "great win, well done",
                actor=ACTOR,
                occurred_on=day,
            )
            self.history.recognitions.append(recognition)


class _GoalPlan:
    """Two goals a quarter, whose targets move every few weeks while they run."""

    def __init__(self, rng: random.Random, team_id: UUID, goals: list[Goal]) -> None:
        self.rng, self.team_id, self.goals = rng, team_id, goals
        self.open: list[Goal] = []

    def advance(self, day: date) -> None:
        rng = self.rng
        if not self.open or (day.month % 3 == 1 and day.day <= 3 and len(self.open) < 3):
            self._set(day)
        for goal in list(self.open):
            if day >= goal.due or rng.random() < 0.004:
                (goal.achieve if rng.random() < 0.6 else goal.abandon)(
                    reason="quarter closed", actor=ACTOR, occurred_on=day
                )
                self.open.remove(goal)
            elif rng.random() < 0.06:
                target = goal.target + rng.choice([-1, 1]) * rng.randint(1, 20)
                reason = rng.choice(["owner asked", "competitor moved", "team missed it"])
                goal.change_target(target=target, reason=reason, actor="owner", occurred_on=day)
            elif rng.random() < 0.015:
                due = goal.due + timedelta(days=rng.randint(7, 30))
                goal.change_due_date(due=due, reason="slipped", actor="owner", occurred_on=day)
            elif rng.random() < 0.01:
                title = f"{goal.title.split(' (')[0]} (rev {goal.version})"
                goal.redefine(title=title, metric=None, reason="clarified", actor="owner",
                              occurred_on=day)  # fmt: skip
            elif rng.random() < 0.2:
                goal.record_progress(value=float(rng.randint(0, 100)), note=None, actor=ACTOR,
                                     occurred_on=day)  # fmt: skip

    def _set(self, day: date) -> None:
        goal = Goal.set(
            team_id=self.team_id,
            title=f"Goal {len(self.goals) + 1}",
            metric=self.rng.choice(["renewal rate", "tickets closed", "NPS"]),
            target=float(self.rng.randint(50, 100)),
            unit="%",
            due=day + timedelta(days=self.rng.randint(60, 120)),
            why="the quarter's priority",
            actor="owner",
            occurred_on=day,
        )
        self.goals.append(goal)
        self.open.append(goal)


def team_history(number: int, seed: int, today: date) -> TeamHistory:
    """Team `number`'s whole history, as unsaved aggregates."""
    return _TeamBuilder(number, seed, today).build()
