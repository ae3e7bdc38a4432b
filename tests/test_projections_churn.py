"""Goal churn over hand-built audit rows, with hand-computed dates and counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from projections.churn import (
    AuditEntry,
    ChurnThresholds,
    GoalChurn,
    TeamChurn,
    most_within,
    target_lifetimes,
    team_churn,
)

TODAY = date(2024, 6, 30)
# window 90: since = 2024-06-30 - 89 days = 2024-04-02 (June 30 -29 -> June 1, -31 -> May 1,
# -29 -> April 2).
SINCE = date(2024, 4, 2)
DEFAULTS = ChurnThresholds()


def at(goal_id: str, kind: str, day: str, position: int) -> AuditEntry:
    return AuditEntry(goal_id, kind, date.fromisoformat(day), position)


def churn(
    titles: dict[str, str],
    entries: list[AuditEntry],
    *,
    window_days: int = 90,
    thresholds: ChurnThresholds = DEFAULTS,
) -> TeamChurn:
    return team_churn(titles, entries, today=TODAY, window_days=window_days, thresholds=thresholds)


def only_goal(result: TeamChurn) -> GoalChurn:
    (goal,) = result.goals
    return goal


def test_default_thresholds_are_the_documented_ones() -> None:
    documented = ChurnThresholds(
        goal_changes=2, goal_window_days=60, team_changes=3, team_window_days=90
    )
    assert documented == DEFAULTS


# --- most_within -----------------------------------------------------------------

D = date(2024, 1, 1)


@pytest.mark.parametrize(
    ("offsets", "span", "expected"),
    [
        ([], 60, 0),
        ([0], 60, 1),
        ([0, 60], 60, 2),  # exactly span_days apart counts
        ([0, 61], 60, 1),  # one more does not
        ([0, 0, 0], 60, 3),  # same day, three times
        ([0, 0, 1], 0, 2),  # span 0: only same-day changes group
        # spans: {0, 30} = 2 (61 is 61 away from 0); {30, 61, 90} = 3 (90 - 30 = 60)
        ([0, 30, 61, 90], 60, 3),
        # the best run need not start at the first day: {100, 101, 102, 103}
        ([0, 50, 100, 101, 102, 103], 10, 4),
    ],
)
def test_most_within(offsets: list[int], span: int, expected: int) -> None:
    assert most_within([D + timedelta(days=n) for n in offsets], span) == expected


# --- target_lifetimes ---------------------------------------------------------------


def test_target_lifetimes_measures_from_set_to_each_replacement() -> None:
    entries = [
        at("g", "goal_set", "2024-01-01", 1),
        at("g", "target_changed", "2024-01-11", 2),  # 10 days after Jan 1
        at("g", "target_changed", "2024-01-31", 3),  # 20 days after Jan 11
    ]
    assert target_lifetimes(entries, since=date(2024, 1, 1)) == [10, 20]


def test_target_lifetimes_skips_replacements_before_since_but_still_restarts_the_clock() -> None:
    entries = [
        at("g", "goal_set", "2024-01-01", 1),
        at("g", "target_changed", "2024-01-11", 2),  # before since: not listed
        at("g", "target_changed", "2024-01-31", 3),  # 20 days after Jan 11, not after Jan 1
    ]
    assert target_lifetimes(entries, since=date(2024, 1, 12)) == [20]


def test_target_lifetimes_includes_a_replacement_on_since() -> None:
    entries = [at("g", "goal_set", "2024-01-01", 1), at("g", "target_changed", "2024-01-11", 2)]
    assert target_lifetimes(entries, since=date(2024, 1, 11)) == [10]


def test_target_lifetimes_ignores_other_changes() -> None:
    entries = [
        at("g", "goal_set", "2024-01-01", 1),
        at("g", "due_date_changed", "2024-01-05", 2),
        at("g", "goal_redefined", "2024-01-06", 3),
        at("g", "target_changed", "2024-01-21", 4),  # 20 days after Jan 1, the set date
    ]
    assert target_lifetimes(entries, since=date(2024, 1, 1)) == [20]


def test_target_lifetimes_needs_a_known_start() -> None:
    # No goal_set: the first target's start is unknown, so it is not measured; but the
    # target it sets started on Jan 10 and lived 5 days. Today's code returns [].
    entries = [
        at("g", "target_changed", "2024-01-10", 2),
        at("g", "target_changed", "2024-01-15", 3),
    ]
    assert target_lifetimes(entries, since=date(2024, 1, 1)) == [5]


# --- team_churn: the window ----------------------------------------------------------


def test_since_is_today_minus_window_plus_one() -> None:
    assert TODAY - timedelta(days=90 - 1) == SINCE


@pytest.mark.parametrize(
    ("day", "counted"),
    [
        ("2024-04-01", 0),  # one day before since
        ("2024-04-02", 1),  # since itself
        ("2024-06-30", 1),  # today
        ("2024-07-01", 0),  # future-dated
    ],
)
def test_window_runs_from_since_to_today_inclusive(day: str, counted: int) -> None:
    entries = [at("g", "goal_set", "2024-01-01", 1), at("g", "due_date_changed", day, 2)]
    result = churn({"g": "Goal"}, entries)
    assert (result.changes, only_goal(result).changes) == (counted, counted)


@pytest.mark.parametrize("kind", ["target_changed", "due_date_changed", "goal_redefined"])
def test_each_churn_kind_counts(kind: str) -> None:
    assert only_goal(churn({"g": "Goal"}, [at("g", kind, "2024-05-01", 1)])).changes == 1


@pytest.mark.parametrize("kind", ["goal_set", "goal_achieved", "goal_abandoned"])
def test_setting_and_ending_a_goal_are_not_churn(kind: str) -> None:
    assert only_goal(churn({"g": "Goal"}, [at("g", kind, "2024-05-01", 1)])).changes == 0


def test_window_days_is_echoed() -> None:
    assert churn({}, [], window_days=30) == TeamChurn(
        window_days=30, changes=0, flagged=False, goals=[]
    )


# --- team_churn: flags -------------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "flagged"),
    [
        ("2024-06-09", True),  # Apr 10 -> May 10 = 30, May 10 -> Jun 9 = 30: 60 days apart
        ("2024-06-10", False),  # 61 days apart
    ],
)
def test_goal_is_flagged_for_two_changes_at_most_60_days_apart(second: str, flagged: bool) -> None:
    entries = [
        at("g", "goal_set", "2024-01-01", 1),
        at("g", "target_changed", "2024-04-10", 2),
        at("g", "goal_redefined", second, 3),
    ]
    result = churn({"g": "Goal"}, entries)
    goal = only_goal(result)
    assert (goal.changes, goal.flagged) == (2, flagged)
    assert (result.changes, result.flagged) == (2, False)  # 2 < 3 team changes


def test_goal_flag_follows_the_thresholds() -> None:
    entries = [
        at("g", "target_changed", "2024-04-10", 1),
        at("g", "goal_redefined", "2024-04-11", 2),
    ]
    strict = ChurnThresholds(goal_changes=3)
    assert only_goal(churn({"g": "Goal"}, entries, thresholds=strict)).flagged is False
    assert only_goal(churn({"g": "Goal"}, entries)).flagged is True


@pytest.mark.parametrize(
    ("last", "flagged"),
    [
        ("2024-05-30", True),  # Mar 1 -> Apr 1 = 31, -> May 1 = 30, -> May 30 = 29: 90 apart
        ("2024-05-31", False),  # 91 apart: {Mar 1, Apr 15} and {Apr 15, May 31} hold 2 each
    ],
)
def test_team_is_flagged_for_three_changes_across_goals_within_90_days(
    last: str, flagged: bool
) -> None:
    # Window 180: since = Jun 30 (day 182 of 2024) - 179 = day 3 = Jan 3, so all are inside.
    entries = [
        at("a", "target_changed", "2024-03-01", 1),
        at("b", "due_date_changed", "2024-04-15", 2),
        at("a", "goal_redefined", last, 3),
    ]
    result = churn({"a": "A", "b": "B"}, entries, window_days=180)
    assert (result.changes, result.flagged) == (3, flagged)
    # No single goal is flagged: a's two changes are 90+ days apart, b has one.
    assert [(g.goal_id, g.changes, g.flagged) for g in result.goals] == [
        ("a", 2, False),
        ("b", 1, False),
    ]


def test_changes_outside_the_window_do_not_flag() -> None:
    # Mar 31 and Apr 1 are a day apart but before since (Apr 2); Apr 2 is alone inside.
    entries = [
        at("g", "target_changed", "2024-03-31", 1),
        at("g", "target_changed", "2024-04-01", 2),
        at("g", "target_changed", "2024-04-02", 3),
    ]
    goal = only_goal(churn({"g": "Goal"}, entries))
    assert (goal.changes, goal.flagged) == (1, False)


def test_goals_not_in_the_titles_are_ignored() -> None:
    entries = [at("other", "target_changed", f"2024-05-0{n}", n) for n in (1, 2, 3)]
    result = churn({"g": "Goal"}, entries)
    assert (result.changes, result.flagged) == (0, False)
    assert result.goals == [GoalChurn("g", "Goal", 0, False, None)]


# --- team_churn: target lifetimes ---------------------------------------------------

# Jan 1 -> Apr 10 = 31 (Jan) + 29 (Feb, leap) + 31 (Mar) + 9 = 100 days.
SET_AND_THREE_TARGETS = [
    at("g", "goal_set", "2024-01-01", 1),
    at("g", "target_changed", "2024-04-10", 2),  # lifetime 100
    at("g", "target_changed", "2024-04-20", 3),  # lifetime 10
    at("g", "target_changed", "2024-05-20", 4),  # lifetime 30
]


def test_median_lifetime_of_an_odd_count() -> None:
    # sorted [10, 30, 100] -> 30
    goal = only_goal(churn({"g": "Goal"}, SET_AND_THREE_TARGETS))
    assert goal.median_target_lifetime_days == 30


def test_median_lifetime_of_an_even_count() -> None:
    # May 20 -> Jun 20 = 31, + 9 = 40; sorted [10, 30, 40, 100] -> (30 + 40) / 2 = 35
    entries = [*SET_AND_THREE_TARGETS, at("g", "target_changed", "2024-06-29", 5)]
    goal = only_goal(churn({"g": "Goal"}, entries))
    assert goal.median_target_lifetime_days == 35.0


def test_a_target_set_before_the_window_and_replaced_inside_it_counts() -> None:
    # The Mar 1 change is outside (before Apr 2); the target it set lived Mar 1 -> Apr 10
    # = 31 + 9 = 40 days, and was replaced inside the window.
    entries = [
        at("g", "goal_set", "2024-01-01", 1),
        at("g", "target_changed", "2024-03-01", 2),
        at("g", "target_changed", "2024-04-10", 3),
    ]
    assert only_goal(churn({"g": "Goal"}, entries)).median_target_lifetime_days == 40


@pytest.mark.parametrize(
    "entries",
    [
        [at("g", "goal_set", "2024-01-01", 1), at("g", "due_date_changed", "2024-05-01", 2)],
        [at("g", "goal_set", "2024-01-01", 1), at("g", "target_changed", "2024-04-01", 2)],
        [],
    ],
    ids=["no-target-change", "target-change-before-window", "no-entries"],
)
def test_median_lifetime_is_none_without_a_target_replaced_in_the_window(
    entries: list[AuditEntry],
) -> None:
    assert only_goal(churn({"g": "Goal"}, entries)).median_target_lifetime_days is None


def test_entries_are_ordered_by_date_then_position() -> None:
    # Given backwards. Same day Apr 10: goal_set (1) precedes target_changed (2), so the
    # lifetimes are [0, 10] -> median 5; date-only order could drop the 0.
    entries = [
        at("g", "target_changed", "2024-04-20", 3),
        at("g", "target_changed", "2024-04-10", 2),
        at("g", "goal_set", "2024-04-10", 1),
    ]
    assert only_goal(churn({"g": "Goal"}, entries)).median_target_lifetime_days == 5.0


def test_a_future_target_change_does_not_count_in_the_median() -> None:
    # Jul 1 is after today: excluded from `changes`, so it must not count in the median
    # either. Today's code gives median([100, 82]) = 91 (Apr 10 -> Jul 1 = 20 + 31 + 30 + 1).
    entries = [
        at("g", "goal_set", "2024-01-01", 1),
        at("g", "target_changed", "2024-04-10", 2),
        at("g", "target_changed", "2024-07-01", 3),
    ]
    goal = only_goal(churn({"g": "Goal"}, entries))
    assert (goal.changes, goal.median_target_lifetime_days) == (1, 100)


# --- team_churn: the goal list --------------------------------------------------------


def test_goals_are_listed_by_changes_then_title_including_quiet_goals() -> None:
    titles = {"g": "Gamma", "d": "Delta", "a": "Alpha", "b": "Beta"}
    entries = [
        at("a", "target_changed", "2024-05-01", 1),
        at("b", "target_changed", "2024-05-02", 2),
        at("b", "due_date_changed", "2024-06-02", 3),  # 31 days after May 2: flagged
        at("d", "goal_redefined", "2024-05-03", 4),
        at("g", "goal_set", "2024-05-04", 5),
    ]
    result = churn(titles, entries)
    assert result.goals == [
        GoalChurn("b", "Beta", 2, True, None),
        GoalChurn("a", "Alpha", 1, False, None),
        GoalChurn("d", "Delta", 1, False, None),
        GoalChurn("g", "Gamma", 0, False, None),
    ]
    assert (result.changes, result.flagged) == (4, True)  # May 1..Jun 2: 4 within 90 days


@pytest.mark.parametrize("window_days", [0, -5])
def test_a_window_must_hold_at_least_one_day(window_days: int) -> None:
    with pytest.raises(ValueError, match="window_days"):
        churn({"g": "Goal"}, [], window_days=window_days)


def test_the_median_is_always_a_float() -> None:
    entries = [at("g", "goal_set", "2024-04-01", 1), at("g", "target_changed", "2024-05-01", 2)]
    median = only_goal(churn({"g": "Goal"}, entries)).median_target_lifetime_days
    assert (median, type(median)) == (30.0, float)
