"""A team as it stood: a fold of its history index rows (projections/timeline.py), and
the report made from it: members, goals with their targets of the day, goal churn and
morale, as they stood.

Which rows go in is the caller's choice: the business-time basis takes every row whose
business date is on or before the day, the recorded basis a prefix of the log. Either
way the answer is "apply them in log order". The fold gets there in any order: each
field (a goal's target, a member's mood of a day) keeps the value of the highest
position that set it. That is what lets a snapshot of the state be topped up with rows
from before its position (services/history.py): a snapshot of {position <= P, date <= D}
plus the rows of {position <= P, D < date <= D'} and {P < position, date <= D'} is the
state for D'.

Morale is shown for whole ISO weeks only, those ended by the day: a week's figure taken
mid-week, next to the same week later, would show what the days in between added, and a
day can be one person's. Over the weeks shown, the same minimum-group rule applies as in
GET /v1/teams/{id}/morale (projections/morale.py), with the team's minimum group of now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from projections.churn import AuditEntry, ChurnThresholds, TeamChurn, team_churn
from projections.goal_audit import CHURN_KINDS
from projections.morale import Mood, MoralePoint, team_morale
from projections.timeline import IndexRow

# Bumped whenever the fold changes, so that older snapshots are no longer used.
FOLD_VERSION = 1

# A field's value with the position of the row that set it.
Cell = list[Any]
Cells = dict[str, Cell]

_GOAL_FIELDS = ("title", "metric", "target", "unit", "due")
# The audit entries churn reads: its changes, and what a target's lifetime starts from.
_AUDITED = CHURN_KINDS | {"goal_set"}


def _set(cells: Cells, name: str, value: Any, position: int) -> None:
    """Keep the value of the latest position: the fold is then order-free."""
    cell = cells.get(name)
    if cell is None or cell[1] < position:
        cells[name] = [value, position]


@dataclass
class TeamState:
    """Plain dicts and lists only, so that a snapshot is one JSON document."""

    team: Cells = field(default_factory=dict)
    # member id -> {"role", "joined_on", "left_on", "left_reason"}
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    # goal id -> field -> cell, and "version" -> the highest version folded
    goals: dict[str, Cells] = field(default_factory=dict)
    # position -> [goal id, kind, business date]
    changes: dict[str, list[str]] = field(default_factory=dict)
    # journal id -> business date -> [mood, position]
    moods: dict[str, Cells] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "members": self.members,
            "goals": self.goals,
            "changes": self.changes,
            "moods": self.moods,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TeamState:
        return cls(
            team=data["team"],
            members=data["members"],
            goals=data["goals"],
            changes=data["changes"],
            moods=data["moods"],
        )

    # --- the fold ----------------------------------------------------------------------

    def fold(self, rows: Iterable[IndexRow]) -> TeamState:
        for row in rows:
            step = _STEPS.get(row.kind)
            if step is not None:
                step(self, row)
        return self

    def _team_formed(self, row: IndexRow) -> None:
        for name in ("name", "manager"):
            _set(self.team, name, row.payload[name], row.position)
        _set(self.team, "formed_on", row.occurred_on.isoformat(), row.position)

    def _manager_assigned(self, row: IndexRow) -> None:
        _set(self.team, "manager", row.payload["manager"], row.position)

    def _member_joined(self, row: IndexRow) -> None:
        member = self.members.setdefault(row.payload["member"], {})
        member.update(role=row.payload["role"], joined_on=row.occurred_on.isoformat())
        member.setdefault("left_on", None)
        member.setdefault("left_reason", None)

    def _member_left(self, row: IndexRow) -> None:
        member = self.members.setdefault(row.payload["member"], {})
        member.update(left_on=row.occurred_on.isoformat(), left_reason=row.payload["reason"])

    def _goal(self, row: IndexRow) -> Cells:
        goal = self.goals.setdefault(row.stream, {})
        _set(goal, "version", row.version, row.version)
        if row.kind in _AUDITED:
            self.changes[str(row.position)] = [row.stream, row.kind, row.occurred_on.isoformat()]
        return goal

    def _goal_set(self, row: IndexRow) -> None:
        goal = self._goal(row)
        for name in _GOAL_FIELDS:
            _set(goal, name, row.payload[name], row.position)
        _set(goal, "state", "active", row.position)
        _set(goal, "set_on", row.occurred_on.isoformat(), row.position)

    def _goal_changed(self, row: IndexRow) -> None:
        goal = self._goal(row)
        p = row.payload
        if row.kind == "target_changed":
            _set(goal, "target", p["new"], row.position)
        elif row.kind == "due_date_changed":
            _set(goal, "due", p["new"], row.position)
        elif row.kind == "goal_redefined":
            _set(goal, "title", p["new_title"], row.position)
            _set(goal, "metric", p["new_metric"], row.position)
        elif row.kind in ("goal_achieved", "goal_abandoned"):
            _set(goal, "state", row.kind.removeprefix("goal_"), row.position)

    def _mood(self, row: IndexRow) -> None:
        days = self.moods.setdefault(row.stream, {})
        _set(days, row.occurred_on.isoformat(), row.payload["mood"], row.position)


_STEPS = {
    "team_formed": TeamState._team_formed,
    "manager_assigned": TeamState._manager_assigned,
    "member_joined": TeamState._member_joined,
    "member_left": TeamState._member_left,
    "goal_set": TeamState._goal_set,
    "target_changed": TeamState._goal_changed,
    "due_date_changed": TeamState._goal_changed,
    "goal_redefined": TeamState._goal_changed,
    "goal_achieved": TeamState._goal_changed,
    "goal_abandoned": TeamState._goal_changed,
    # Progress and concerns change no field shown here, only the goal's version.
    "progress_recorded": TeamState._goal_changed,
    "concern_raised": TeamState._goal_changed,
    "concern_answered": TeamState._goal_changed,
    "checked_in": TeamState._mood,
    "check_in_corrected": TeamState._mood,
}


# --- the report -------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberThen:
    member_id: str
    role: str | None
    joined_on: date
    left_on: date | None
    left_reason: str | None


@dataclass(frozen=True)
class GoalThen:
    goal_id: str
    title: str
    metric: str
    target: float
    unit: str
    due: date
    state: str
    set_on: date
    version: int


@dataclass(frozen=True)
class TeamThen:
    name: str
    manager: str
    formed_on: date
    members: list[MemberThen]
    goals: list[GoalThen]
    churn: TeamChurn
    morale: list[MoralePoint]


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def goal_then(state: TeamState, goal_id: str) -> GoalThen | None:
    """The goal as folded, or None if its setting is not among the rows."""
    cells = state.goals.get(goal_id)
    if cells is None or "set_on" not in cells:
        return None
    value = {name: cell[0] for name, cell in cells.items()}
    return GoalThen(
        goal_id=goal_id,
        title=value["title"],
        metric=value["metric"],
        target=value["target"],
        unit=value["unit"],
        due=date.fromisoformat(value["due"]),
        state=value["state"],
        set_on=date.fromisoformat(value["set_on"]),
        version=value["version"],
    )


def whole_weeks(points: Iterable[MoralePoint], day: date) -> list[MoralePoint]:
    """The weekly points of the ISO weeks that ended on or before `day`."""
    return [p for p in points if p.period_start + timedelta(days=6) <= day]


def team_then(
    state: TeamState,
    *,
    day: date,
    weeks_through: date,
    journals: Mapping[str, str],
    min_group: int,
    window_days: int,
    thresholds: ChurnThresholds,
) -> TeamThen | None:
    """The report on `day` (churn's "today"), with the morale of the weeks that ended
    by `weeks_through`; None if the team's forming is not among the rows. `journals`
    maps a journal id to its member's id."""
    if "formed_on" not in state.team:
        return None
    members = [
        MemberThen(
            member_id=member_id,
            role=m.get("role"),
            joined_on=date.fromisoformat(m["joined_on"]),
            left_on=_day(m.get("left_on")),
            left_reason=m.get("left_reason"),
        )
        for member_id, m in state.members.items()
        if "joined_on" in m
    ]
    members.sort(key=lambda m: (m.joined_on, m.member_id))
    goals = [g for g in (goal_then(state, goal_id) for goal_id in state.goals) if g is not None]
    goals.sort(key=lambda g: (g.set_on, g.goal_id))
    entries = [
        AuditEntry(goal_id, kind, date.fromisoformat(on), int(position))
        for position, (goal_id, kind, on) in state.changes.items()
    ]
    churn = team_churn(
        {g.goal_id: g.title for g in goals},
        entries,
        today=day,
        window_days=window_days,
        thresholds=thresholds,
    )
    moods = [
        Mood(journals.get(journal, journal), date.fromisoformat(on), mood)
        for journal, days in state.moods.items()
        for on, (mood, _) in days.items()
    ]
    return TeamThen(
        name=state.team["name"][0],
        manager=state.team["manager"][0],
        formed_on=date.fromisoformat(state.team["formed_on"][0]),
        members=members,
        goals=goals,
        churn=churn,
        morale=whole_weeks(team_morale(moods, "week", min_group), weeks_through),
    )
