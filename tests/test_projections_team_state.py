"""The as-of fold and its report, on hand-written index rows with hand-computed
answers; and that the fold is order-free, which is what makes snapshots sound."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from typing import Any

import pytest

from projections.churn import ChurnThresholds
from projections.morale import MoralePoint
from projections.team_state import TeamState, TeamThen, goal_then, team_then, whole_weeks
from projections.timeline import IndexRow

TEAM, GOAL = "team-1", "goal-1"
MEMBERS = ["m1", "m2", "m3", "m4", "m5"]
JOURNALS = {f"journal-{m}": m for m in MEMBERS}
RECORDED = datetime(2025, 2, 1, tzinfo=UTC)


def row(
    position: int, stream: str, on: str, kind: str, version: int = 1, **payload: Any
) -> IndexRow:
    return IndexRow(position, stream, date.fromisoformat(on), RECORDED, kind, version, payload)


def story() -> list[IndexRow]:
    """A team's rows in log order. The due-date change at position 23 was recorded last
    but backdated to 10 January."""
    rows = [row(1, TEAM, "2025-01-06", "team_formed", name="Payments", manager="kay")]
    rows += [
        row(2 + i, TEAM, "2025-01-06", "member_joined", 2 + i, member=m, role="dev")
        for i, m in enumerate(MEMBERS)
    ]
    goal_shape = {"title": "Renewals", "metric": "rate", "target": 100.0, "unit": "%"}
    rows.append(row(7, GOAL, "2025-01-07", "goal_set", 1, **goal_shape, due="2025-06-30"))
    rows += [  # Monday 6 January: moods 5, 4, 3, 2, 1
        row(8 + i, f"journal-{m}", "2025-01-06", "checked_in", 2, mood=5 - i)
        for i, m in enumerate(MEMBERS)
    ]
    rows.append(row(13, GOAL, "2025-01-15", "target_changed", 2, old=100.0, new=120.0))
    rows += [  # Tuesday 14 January: 4, 4, 4, 4, 3 ...
        row(14 + i, f"journal-{m}", "2025-01-14", "checked_in", 3, mood=3 if m == "m5" else 4)
        for i, m in enumerate(MEMBERS)
    ]
    rows += [
        # ... and m5 corrects hers to 5.
        row(19, "journal-m5", "2025-01-14", "check_in_corrected", 4, mood=5),
        row(20, TEAM, "2025-01-20", "manager_assigned", 7, manager="noor"),
        row(21, TEAM, "2025-01-21", "member_left", 8, member="m2", reason="resigned"),
        row(22, GOAL, "2025-01-22", "target_changed", 3, old=120.0, new=90.0),
        row(23, GOAL, "2025-01-10", "due_date_changed", 4, old="2025-06-30", new="2025-07-31"),
        row(24, GOAL, "2025-01-23", "progress_recorded", 5, value=40.0),
    ]
    return rows


def occurred(day: str) -> list[IndexRow]:
    return [r for r in story() if r.occurred_on <= date.fromisoformat(day)]


def report(rows: list[IndexRow], day: str, min_group: int = 5) -> TeamThen:
    then = team_then(
        TeamState().fold(rows),
        day=date.fromisoformat(day),
        weeks_through=date.fromisoformat(day),
        journals=JOURNALS,
        min_group=min_group,
        window_days=60,
        thresholds=ChurnThresholds(),
    )
    assert then is not None
    return then


def week(start: str, mean: float, distribution: dict[int, int]) -> MoralePoint:
    return MoralePoint(date.fromisoformat(start), 5, mean, distribution, False)


def spread(**counts: int) -> dict[int, int]:
    return {score: counts.get(f"s{score}", 0) for score in range(1, 6)}


def test_as_of_the_first_sunday_the_backdated_due_date_is_already_true() -> None:
    then = report(occurred("2025-01-12"), "2025-01-12")
    assert (then.name, then.manager, then.formed_on) == ("Payments", "kay", date(2025, 1, 6))
    assert [m.member_id for m in then.members] == MEMBERS
    assert all(m.left_on is None for m in then.members)
    [goal] = then.goals
    assert (goal.title, goal.target, goal.due, goal.state) == (
        "Renewals",
        100.0,
        date(2025, 7, 31),
        "active",
    )
    # Versions 1 and 4 are in (the target changes, 2 and 3, happened later).
    assert goal.version == 4
    assert (then.churn.changes, then.churn.flagged) == (1, False)
    assert then.churn.goals[0].median_target_lifetime_days is None
    assert then.morale == [week("2025-01-06", 3.0, spread(s1=1, s2=1, s3=1, s4=1, s5=1))]


def test_a_week_later_the_target_moved_once_and_the_correction_counts() -> None:
    then = report(occurred("2025-01-19"), "2025-01-19")
    [goal] = then.goals
    assert (goal.target, goal.due, goal.version) == (120.0, date(2025, 7, 31), 4)
    # Two changes (10 and 15 January) within 60 days flag the goal, not yet the team.
    assert (then.churn.changes, then.churn.flagged) == (2, False)
    assert then.churn.goals[0].flagged
    assert then.churn.goals[0].median_target_lifetime_days == 8.0  # 7 -> 15 January
    assert then.morale == [
        week("2025-01-06", 3.0, spread(s1=1, s2=1, s3=1, s4=1, s5=1)),
        week("2025-01-13", 4.2, spread(s4=4, s5=1)),  # (4 + 4 + 4 + 4 + 5) / 5
    ]


def test_at_the_end_a_new_manager_a_leaver_and_a_flagged_team() -> None:
    then = report(story(), "2025-01-26")
    assert then.manager == "noor"
    leaver = next(m for m in then.members if m.member_id == "m2")
    assert (leaver.left_on, leaver.left_reason) == (date(2025, 1, 21), "resigned")
    [goal] = then.goals
    assert (goal.target, goal.version) == (90.0, 5)
    assert (then.churn.changes, then.churn.flagged) == (3, True)
    assert then.churn.goals[0].median_target_lifetime_days == 7.5  # 8 and 7 days
    # The week of 20 January has no check-ins: no point.
    assert [p.period_start for p in then.morale] == [date(2025, 1, 6), date(2025, 1, 13)]


def test_a_prefix_of_the_log_shows_what_was_known_before_the_correction() -> None:
    known = [r for r in story() if r.position <= 18]
    then = report(known, "2025-01-19")
    assert then.morale[-1] == week("2025-01-13", 3.8, spread(s3=1, s4=4))
    assert then.goals[0].due == date(2025, 6, 30)


def test_only_weeks_that_are_over_are_shown() -> None:
    # Saturday 18 January: the week of the 13th is not over, so it is not shown, though
    # its check-ins are in.
    then = report(occurred("2025-01-18"), "2025-01-18")
    assert [p.period_start for p in then.morale] == [date(2025, 1, 6)]
    points = [week("2025-01-06", 3.0, {}), week("2025-01-13", 4.0, {})]
    assert whole_weeks(points, date(2025, 1, 19)) == points
    assert whole_weeks(points, date(2025, 1, 18)) == points[:1]


def test_the_minimum_group_applies_as_in_the_morale_view() -> None:
    then = report(story(), "2025-01-26", min_group=6)
    assert [(p.respondents, p.mean, p.suppressed) for p in then.morale] == [
        (5, None, True),
        (5, None, True),
    ]


def test_nothing_before_the_team_was_formed() -> None:
    assert (
        team_then(
            TeamState(),
            day=date(2025, 1, 1),
            weeks_through=date(2025, 1, 1),
            journals={},
            min_group=5,
            window_days=60,
            thresholds=ChurnThresholds(),
        )
        is None
    )
    assert goal_then(TeamState().fold(occurred("2025-01-06")), GOAL) is None
    # A goal row without its setting (cannot happen in a real log) is not a goal.
    orphan = TeamState().fold([row(9, "goal-2", "2025-01-08", "target_changed", 2, old=1, new=2)])
    assert goal_then(orphan, "goal-2") is None


@pytest.mark.parametrize("seed", range(5))
def test_the_fold_is_order_free(seed: int) -> None:
    rows = story()
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    assert TeamState().fold(shuffled).to_json() == TeamState().fold(rows).to_json()


def test_a_stored_snapshot_topped_up_with_the_missing_rows_is_the_whole_fold() -> None:
    """For every snapshot {position <= P, date <= D} and every later day D' >= D, the
    snapshot (through JSON, as stored) plus the rows it lacks gives the fold for D'."""
    rows = story()
    days = sorted({r.occurred_on for r in rows})
    for p in range(0, len(rows) + 1):
        for d in days:
            snapshot = TeamState().fold(r for r in rows if r.position <= p and r.occurred_on <= d)
            stored = TeamState.from_json(json.loads(json.dumps(snapshot.to_json())))
            for later in (x for x in days if x >= d):
                missing = [
                    r
                    for r in rows
                    if r.occurred_on <= later and (r.position > p or r.occurred_on > d)
                ]
                whole = TeamState().fold(r for r in rows if r.occurred_on <= later)
                topped = TeamState.from_json(json.loads(json.dumps(stored.to_json())))
                assert topped.fold(missing).to_json() == whole.to_json()
