"""GoalAudit.fold over real Goal events: the exact rows, and resuming mid-log."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from domain.goal import ConcernKind, Goal
from domain.team import Team
from projections.goal_audit import GOAL_CHANGES, GOALS, GoalAudit
from projections.rows import Patch, Put, Row, apply_in_memory, fold_all

TEAM_ID = UUID("00000000-0000-4000-8000-000000000001")
Log = list[tuple[Any, int]]


def ship_goal() -> Goal:
    return Goal.set(
        team_id=TEAM_ID,
        title="Ship v2",
        metric="signups",
        target=100.0,
        unit="users",
        due=date(2024, 6, 30),
        why="growth",
        actor="mia",
        occurred_on=date(2024, 1, 1),
    )


def history() -> tuple[Log, str, str]:
    """Two goals' events, at positions 1..10: (log, ship goal id, hire goal id)."""
    ship = ship_goal()
    ship.change_target(target=120.0, reason="board ask", actor="noor", occurred_on=date(2024, 2, 1))
    ship.record_progress(value=30.0, note=None, actor="ana", occurred_on=date(2024, 2, 10))
    ship.change_due_date(
        due=date(2024, 7, 31), reason="slip", actor="noor", occurred_on=date(2024, 3, 1)
    )
    concern = ship.raise_concern(
        kind=ConcernKind.UNCLEAR, text="why?", actor="ana", occurred_on=date(2024, 3, 5)
    )
    ship.answer_concern(
        concern_id=concern, text="because", actor="mia", occurred_on=date(2024, 3, 6)
    )
    ship.redefine(
        title="Ship v3", metric=None, reason="pivot", actor="noor", occurred_on=date(2024, 4, 1)
    )
    ship.achieve(reason="done", actor="mia", occurred_on=date(2024, 5, 1))
    hire = Goal.set(
        team_id=TEAM_ID,
        title="Hire",
        metric="hires",
        target=3.0,
        unit="people",
        due=date(2024, 12, 31),
        why=None,
        actor="lee",
        occurred_on=date(2024, 1, 15),
    )
    hire.abandon(reason=None, actor="lee", occurred_on=date(2024, 2, 15))
    events = [*ship.collect_events(), *hire.collect_events()]
    assert len(events) == 10
    return [(e, n) for n, e in enumerate(events, start=1)], str(ship.id), str(hire.id)


def change(log: Log, position: int, goal_id: str, **values: Any) -> Row:
    event = log[position - 1][0]
    return {
        "position": position,
        "goal_id": goal_id,
        **values,
        "recorded_at": event.timestamp.isoformat(),
    }


def test_goals_table_holds_each_goals_current_shape() -> None:
    log, ship, hire = history()
    assert fold_all(GoalAudit(), log)["goals"] == {
        (ship,): {
            "goal_id": ship,
            "team_id": str(TEAM_ID),
            "title": "Ship v3",
            "metric": "signups",
            "target": 120.0,
            "unit": "users",
            "due": "2024-07-31",
            "state": "achieved",
            "set_by": "mia",
            "set_on": "2024-01-01",
        },
        (hire,): {
            "goal_id": hire,
            "team_id": str(TEAM_ID),
            "title": "Hire",
            "metric": "hires",
            "target": 3.0,
            "unit": "people",
            "due": "2024-12-31",
            "state": "abandoned",
            "set_by": "lee",
            "set_on": "2024-01-15",
        },
    }


def test_goal_changes_has_one_row_per_change_with_json_from_and_to() -> None:
    log, ship, hire = history()
    rows = fold_all(GoalAudit(), log)["goal_changes"]
    # Positions 3 (progress), 5 (concern raised) and 6 (concern answered) are not changes.
    assert sorted(rows) == [(1,), (2,), (4,), (7,), (8,), (9,), (10,)]
    assert rows == {
        (1,): change(
            log,
            1,
            ship,
            kind="goal_set",
            from_value="null",
            to_value='{"title":"Ship v2","metric":"signups","target":100.0,"unit":"users",'
            '"due":"2024-06-30"}',
            by="mia",
            reason="growth",
            occurred_on="2024-01-01",
        ),
        (2,): change(
            log,
            2,
            ship,
            kind="target_changed",
            from_value="100.0",
            to_value="120.0",
            by="noor",
            reason="board ask",
            occurred_on="2024-02-01",
        ),
        (4,): change(
            log,
            4,
            ship,
            kind="due_date_changed",
            from_value='"2024-06-30"',
            to_value='"2024-07-31"',
            by="noor",
            reason="slip",
            occurred_on="2024-03-01",
        ),
        (7,): change(
            log,
            7,
            ship,
            kind="goal_redefined",
            from_value='{"title":"Ship v2","metric":"signups"}',
            to_value='{"title":"Ship v3","metric":"signups"}',
            by="noor",
            reason="pivot",
            occurred_on="2024-04-01",
        ),
        (8,): change(
            log,
            8,
            ship,
            kind="goal_achieved",
            from_value='"active"',
            to_value='"achieved"',
            by="mia",
            reason="done",
            occurred_on="2024-05-01",
        ),
        (9,): change(
            log,
            9,
            hire,
            kind="goal_set",
            from_value="null",
            to_value='{"title":"Hire","metric":"hires","target":3.0,"unit":"people",'
            '"due":"2024-12-31"}',
            by="lee",
            reason=None,
            occurred_on="2024-01-15",
        ),
        (10,): change(
            log,
            10,
            hire,
            kind="goal_abandoned",
            from_value='"active"',
            to_value='"abandoned"',
            by="lee",
            reason=None,
            occurred_on="2024-02-15",
        ),
    }


def test_every_change_row_has_exactly_the_tables_columns() -> None:
    log, _, _ = history()
    tables = fold_all(GoalAudit(), log)
    assert {tuple(row) for row in tables["goal_changes"].values()} == {GOAL_CHANGES.columns}
    assert {tuple(row) for row in tables["goals"].values()} == {GOALS.columns}


def test_a_target_change_patches_the_goal_and_puts_a_change() -> None:
    log, ship, _ = history()
    patch, put = GoalAudit().fold(log[1][0], 2)
    assert patch == Patch(GOALS, (ship,), {"target": 120.0})
    assert isinstance(put, Put)
    assert (put.table, put.row["kind"], put.row["position"]) == (GOAL_CHANGES, "target_changed", 2)


@pytest.mark.parametrize(
    "position", [3, 5, 6], ids=["progress_recorded", "concern_raised", "concern_answered"]
)
def test_progress_and_concerns_produce_no_rows(position: int) -> None:
    log, _, _ = history()
    event = log[position - 1][0]
    assert isinstance(event, Goal.ProgressRecorded | Goal.ConcernRaised | Goal.ConcernAnswered)
    assert GoalAudit().fold(event, position) == []


def test_events_of_other_aggregates_produce_no_rows() -> None:
    team = Team.form(name="Payments", manager="Mia", actor="hr", occurred_on=date(2024, 1, 1))
    (formed,) = team.collect_events()
    assert GoalAudit().fold(formed, 1) == []
    assert GoalAudit().fold(object(), 2) == []


@pytest.mark.parametrize("split", range(11))
def test_resuming_after_any_prefix_gives_the_same_tables(split: int) -> None:
    log, _, _ = history()
    tables = fold_all(GoalAudit(), log[:split])
    resumed = GoalAudit()  # a fresh instance: nothing carried over from the prefix
    for event, position in log[split:]:
        apply_in_memory(tables, resumed.fold(event, position))
    assert tables == fold_all(GoalAudit(), log)


def test_folding_an_event_does_not_depend_on_earlier_events() -> None:
    log, _, _ = history()
    warmed = GoalAudit()
    for event, position in log[:-1]:
        warmed.fold(event, position)
    last, position = log[-1]
    assert warmed.fold(last, position) == GoalAudit().fold(last, position)
