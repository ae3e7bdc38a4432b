"""TeamDirectory.fold over real Team events: the exact rows, and resuming mid-log."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from domain.goal import Goal
from domain.team import DepartureReason, Team
from projections.rows import Patch, apply_in_memory, fold_all
from projections.team_directory import MEMBERS, TEAMS, TeamDirectory

Log = list[tuple[Any, int]]


def history() -> tuple[Log, str, str, str]:
    """One team's events at positions 1..5: (log, team id, Ana's id, Ben's id)."""
    team = Team.form(name="Payments", manager="Mia", actor="hr", occurred_on=date(2024, 1, 1))
    ana = team.add_member(name="Ana", role="dev", actor="mia", occurred_on=date(2024, 1, 10))
    ben = team.add_member(name="Ben", role=None, actor="mia", occurred_on=date(2024, 2, 1))
    team.assign_manager(manager="Noor", actor="hr", occurred_on=date(2024, 3, 1))
    team.record_departure(
        member_id=ana,
        reason=DepartureReason.RESIGNED,
        note="new job",
        actor="noor",
        occurred_on=date(2024, 4, 1),
    )
    events = team.collect_events()
    assert len(events) == 5
    log = [(e, n) for n, e in enumerate(events, start=1)]
    return log, str(team.id), str(ana), str(ben)


def test_teams_table_holds_the_current_manager_and_the_forming_position() -> None:
    log, team, _, _ = history()
    assert fold_all(TeamDirectory(), log)["teams"] == {
        (team,): {
            "team_id": team,
            "name": "Payments",
            "manager": "Noor",
            "formed_on": "2024-01-01",
            "position": 1,
        }
    }


def test_members_table_holds_joins_and_departures() -> None:
    log, team, ana, ben = history()
    assert fold_all(TeamDirectory(), log)["members"] == {
        (ana,): {
            "member_id": ana,
            "team_id": team,
            "role": "dev",
            "joined_on": "2024-01-10",
            "left_on": "2024-04-01",
            "left_reason": "resigned",
        },
        (ben,): {
            "member_id": ben,
            "team_id": team,
            "role": None,
            "joined_on": "2024-02-01",
            "left_on": None,
            "left_reason": None,
        },
    }


def test_rows_have_exactly_the_tables_columns() -> None:
    log, _, _, _ = history()
    tables = fold_all(TeamDirectory(), log)
    assert {tuple(row) for row in tables["teams"].values()} == {TEAMS.columns}
    assert {tuple(row) for row in tables["members"].values()} == {MEMBERS.columns}


def test_manager_assigned_patches_the_team() -> None:
    log, team, _, _ = history()
    assert TeamDirectory().fold(log[3][0], 4) == [Patch(TEAMS, (team,), {"manager": "Noor"})]


def test_member_left_patches_the_member() -> None:
    log, _, ana, _ = history()
    assert TeamDirectory().fold(log[4][0], 5) == [
        Patch(MEMBERS, (ana,), {"left_on": "2024-04-01", "left_reason": "resigned"})
    ]


def test_events_of_other_aggregates_produce_no_rows() -> None:
    goal = Goal.set(
        team_id=UUID(int=1),
        title="t",
        metric="m",
        target=1.0,
        unit="",
        due=date(2024, 2, 1),
        why=None,
        actor="mia",
        occurred_on=date(2024, 1, 1),
    )
    (goal_set,) = goal.collect_events()
    assert TeamDirectory().fold(goal_set, 1) == []
    assert TeamDirectory().fold(object(), 2) == []


@pytest.mark.parametrize("split", range(6))
def test_resuming_after_any_prefix_gives_the_same_tables(split: int) -> None:
    log, _, _, _ = history()
    tables = fold_all(TeamDirectory(), log[:split])
    resumed = TeamDirectory()  # a fresh instance: nothing carried over from the prefix
    for event, position in log[split:]:
        apply_in_memory(tables, resumed.fold(event, position))
    assert tables == fold_all(TeamDirectory(), log)
