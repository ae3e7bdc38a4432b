"""Team morale and a member's trend, over hand-built moods with hand-computed means."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from projections.morale import (
    Granularity,
    Mood,
    MoralePoint,
    TrendPoint,
    member_trend,
    period_start,
    team_morale,
)

MON = date(2024, 1, 1)  # a Monday
NEXT_MON = date(2024, 1, 8)


def on(offset: int) -> date:
    return MON + timedelta(days=offset)


def dist(**counts: int) -> dict[int, int]:
    """A full distribution from counts like one=1, five=3."""
    names = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
    full = dict.fromkeys(range(1, 6), 0)
    for name, count in counts.items():
        full[names[name]] = count
    return full


# --- periods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "granularity", "start"),
    [
        (date(2024, 1, 3), "day", date(2024, 1, 3)),
        (date(2024, 1, 1), "week", date(2024, 1, 1)),  # Monday: its own week start
        (date(2024, 1, 3), "week", date(2024, 1, 1)),  # Wednesday
        (date(2024, 1, 7), "week", date(2024, 1, 1)),  # Sunday: still the same week
        (date(2024, 1, 8), "week", date(2024, 1, 8)),  # next Monday: next week
        (date(2024, 12, 31), "week", date(2024, 12, 30)),  # Tuesday; week crosses the year
        (date(2023, 1, 1), "week", date(2022, 12, 26)),  # Sunday; ISO week 52 of 2022
        (date(2024, 3, 3), "week", date(2024, 2, 26)),  # Sunday after Feb 29 (leap year)
    ],
)
def test_period_start(day: date, granularity: Granularity, start: date) -> None:
    assert period_start(day, granularity) == start


def test_no_moods_no_points() -> None:
    assert team_morale([], "week", 3) == []
    assert member_trend([], "day") == []


# --- means and distributions -----------------------------------------------------------


def test_a_week_counts_each_respondent_once_with_their_own_mean() -> None:
    moods = [
        Mood("a", on(0), 5),
        Mood("a", on(1), 5),
        Mood("a", on(2), 5),
        Mood("b", on(3), 1),
        Mood("c", on(6), 3),  # Sunday: same week
    ]
    # Per member: a 5, b 1, c 3 -> (5 + 1 + 3) / 3 = 3.0 (per check-in it would be
    # 19 / 5 = 3.8). The distribution counts every check-in: three 5s, one 1, one 3.
    assert team_morale(moods, "week", 3) == [
        MoralePoint(MON, 3, 3.0, dist(one=1, three=1, five=3), False)
    ]


def test_the_briefs_example_a_555_and_b_1_make_a_week_mean_of_3() -> None:
    moods = [Mood("a", on(0), 5), Mood("a", on(1), 5), Mood("a", on(2), 5), Mood("b", on(4), 1)]
    # (5 + 1) / 2 = 3, not (5 + 5 + 5 + 1) / 4 = 4.
    assert team_morale(moods, "week", 2) == [MoralePoint(MON, 2, 3.0, dist(one=1, five=3), False)]


def test_days_are_their_own_periods() -> None:
    moods = [
        Mood("b", on(1), 2),
        Mood("a", on(0), 5),
        Mood("b", on(0), 4),
        Mood("c", on(0), 4),
        Mood("a", on(1), 1),
        Mood("c", on(1), 2),
    ]
    # Monday: (5 + 4 + 4) / 3 = 4.333...; Tuesday: (1 + 2 + 2) / 3 = 1.666... -> 1.667.
    assert team_morale(moods, "day", 3) == [
        MoralePoint(on(0), 3, 4.333, dist(four=2, five=1), False),
        MoralePoint(on(1), 3, 1.667, dist(one=1, two=2), False),
    ]


def test_weeks_start_on_monday_and_are_ordered() -> None:
    people = ("a", "b", "c")
    moods = [Mood(p, NEXT_MON + timedelta(days=6), 2) for p in people]  # Sunday Jan 14
    moods += [Mood(p, on(6), 4) for p in people]  # Sunday Jan 7
    moods += [Mood(p, NEXT_MON, 3) for p in people]  # Monday Jan 8
    # Week of Jan 1: 4.0; week of Jan 8: each member (2 + 3) / 2 = 2.5 -> 2.5.
    assert team_morale(moods, "week", 3) == [
        MoralePoint(MON, 3, 4.0, dist(four=3), False),
        MoralePoint(NEXT_MON, 3, 2.5, dist(two=3, three=3), False),
    ]


@pytest.mark.parametrize(
    ("scores", "mean"),
    [
        ({"a": [5], "b": [5], "c": [4]}, 4.667),  # 14 / 3 = 4.6666...
        ({"a": [1], "b": [1], "c": [2]}, 1.333),  # 4 / 3 = 1.3333...
        ({"a": [3], "b": [4], "c": [4], "d": [4]}, 3.75),  # 15 / 4, exact
        ({"a": [1, 2, 2], "b": [2], "c": [2]}, 1.889),  # (5/3 + 2 + 2) / 3 = 17/9 = 1.888...
        ({"a": [1, 2], "b": [2], "c": [5]}, 2.833),  # (1.5 + 2 + 5) / 3 = 8.5/3 = 2.8333...
    ],
)
def test_means_are_rounded_to_three_places(scores: dict[str, list[int]], mean: float) -> None:
    moods = [
        Mood(member, on(i), score) for member, s in scores.items() for i, score in enumerate(s)
    ]
    (point,) = team_morale(moods, "week", 3)
    assert (point.mean, point.suppressed) == (mean, False)


def test_the_distribution_counts_every_check_in() -> None:
    moods = [Mood("a", on(d), 1) for d in range(5)] + [Mood("b", on(0), 2), Mood("c", on(0), 2)]
    (point,) = team_morale(moods, "week", 3)
    assert point.distribution == dist(one=5, two=2)
    assert point.distribution is not None
    assert sum(point.distribution.values()) == 7
    # Per member: a 1, b 2, c 2 -> 5 / 3 = 1.667.
    assert (point.respondents, point.mean) == (3, 1.667)


def test_input_order_does_not_matter() -> None:
    moods = [Mood(p, on(d), 1 + (d + ord(p)) % 5) for p in "abcd" for d in (0, 3, 7, 9)]
    forward = team_morale(moods, "week", 3)
    assert team_morale(list(reversed(moods)), "week", 3) == forward
    assert [p.period_start for p in forward] == [MON, NEXT_MON]


# --- suppression ----------------------------------------------------------------------------


@pytest.mark.parametrize(("people", "min_group"), [(2, 3), (1, 3), (4, 5), (2, 5)])
def test_fewer_respondents_than_min_group_are_suppressed(people: int, min_group: int) -> None:
    moods = [Mood(f"m{n}", on(0), 1) for n in range(people)]
    moods += [Mood("m0", on(1), 5)]  # a second check-in by the same person
    assert team_morale(moods, "week", min_group) == [MoralePoint(MON, people, None, None, True)]


@pytest.mark.parametrize("min_group", [3, 5])
def test_exactly_min_group_respondents_are_shown(min_group: int) -> None:
    moods = [Mood(f"m{n}", on(0), 4) for n in range(min_group)]
    assert team_morale(moods, "day", min_group) == [
        MoralePoint(MON, min_group, 4.0, dist(four=min_group), False)
    ]


def sets_by_day(*respondents: str) -> list[Mood]:
    """Day n has one check-in, mood 3, by each letter of respondents[n]. Day n is the
    Monday of week n, so the rule that hides the other days of a week with a hidden
    day stays out of these tests of the differencing rule."""
    return [Mood(p, on(7 * n), 3) for n, people in enumerate(respondents) for p in people]


def test_one_hidden_day_hides_the_other_days_of_its_week() -> None:
    # Mon {abcde} alone would be shown; Tue {abcd} is too small. The week is shown
    # (5 people), so showing Monday would give Tuesday away: week - Monday.
    moods = [Mood(p, on(0), 4) for p in "abcde"] + [Mood(p, on(1), 2) for p in "abcd"]
    moods += [Mood(p, NEXT_MON, 3) for p in "abcde"]  # next week is not affected
    days = team_morale(moods, "day", 5)
    assert [(p.period_start, p.suppressed) for p in days] == [
        (on(0), True),
        (on(1), True),
        (NEXT_MON, False),
    ]
    weeks = team_morale(moods, "week", 5)
    assert [(p.period_start, p.suppressed) for p in weeks] == [(MON, False), (NEXT_MON, False)]


def test_the_differencing_rule_compares_with_the_last_shown_period() -> None:
    moods = sets_by_day(
        "abc",  # 0 shown: the first period
        "abcd",  # 1 suppressed: differs from the last shown {abc} by 1 (d)
        "abc",  # 2 shown: equal to the last shown
        "abcdef",  # 3 shown: differs from {abc} by 3 = min_group
        "abcde",  # 4 suppressed: differs from {abcdef} by 1
        "abc",  # 5 shown: differs from {abcdef} by 3 (from the suppressed {abcde} only by 2)
        "abd",  # 6 suppressed: c left, d came: a difference of 2
        "abd",  # 7 shown: still 2 from {abc}, but the same set as the period before
        "def",  # 8 shown: differs from {abd} by 4
        "de",  # 9 suppressed: fewer than 3
        "defg",  # 10 suppressed: differs from {def} by 1, and from the period before
        "defg",  # 11 shown: the new set has settled
        "abcdefg",  # 12 shown: differs from {defg} by 3
    )
    points = team_morale(moods, "day", 3)
    shown = [0, 2, 3, 5, 7, 8, 11, 12]
    assert [(p.period_start, p.respondents, p.suppressed) for p in points] == [
        (on(7 * n), size, n not in shown)
        for n, size in enumerate([3, 4, 3, 6, 5, 3, 3, 3, 3, 2, 4, 4, 7])
    ]
    for point in points:
        if point.suppressed:
            assert (point.mean, point.distribution) == (None, None)
        else:
            assert (point.mean, point.distribution) == (3.0, dist(three=point.respondents))


def test_a_difference_smaller_than_a_larger_min_group_is_suppressed() -> None:
    moods = sets_by_day(
        "abcd",  # shown: first
        "abcdefg",  # suppressed: 3 more is fewer than 4
        "abcdefgh",  # shown: 4 more than {abcd}
        "abcd",  # shown: 4 fewer
        "efgh",  # shown: 8 different
    )
    points = team_morale(moods, "day", 4)
    assert [p.suppressed for p in points] == [False, True, False, False, False]


def test_a_suppressed_first_period_does_not_count_as_shown() -> None:
    # {ab} is too small and never shown, so {abc} has nothing to be compared with.
    points = team_morale(sets_by_day("ab", "abc", "abcd"), "day", 3)
    assert [(p.respondents, p.suppressed) for p in points] == [(2, True), (3, False), (4, True)]


def test_the_differencing_rule_applies_to_weeks() -> None:
    # Week 1: {a, b, c}; week 2: {a, b, c, d} - d is the only difference.
    moods = [Mood(p, on(0), 4) for p in "abc"] + [Mood(p, NEXT_MON, 2) for p in "abcd"]
    assert team_morale(moods, "week", 3) == [
        MoralePoint(MON, 3, 4.0, dist(four=3), False),
        MoralePoint(NEXT_MON, 4, None, None, True),
    ]


def test_day_and_week_figures_together_single_no_one_out() -> None:
    # a, b, c check in on Monday; d alone on Wednesday. The day view shows Monday (3 people)
    # and hides Wednesday (1 person); the week view shows the week (4 people). Then
    # week - Monday = {1: 1}: d's mood. The means agree: 4 * 3.25 - 3 * 4 = 1.
    min_group = 3
    moods = [Mood(p, on(0), 4) for p in "abc"] + [Mood("d", on(2), 1)]
    days = team_morale(moods, "day", min_group)
    weeks = team_morale(moods, "week", min_group)
    for week in weeks:
        if week.distribution is None:
            continue
        hidden = Counter(week.distribution)
        for day in days:
            if day.distribution is not None and period_start(day.period_start, "week") == (
                week.period_start
            ):
                hidden.subtract(day.distribution)
        hidden_check_ins = sum(hidden.values())
        assert hidden_check_ins == 0 or hidden_check_ins >= min_group, dict(hidden)


# --- a member's trend -------------------------------------------------------------------------


def test_member_trend_per_week() -> None:
    moods = [
        Mood("a", date(2024, 1, 10), 2),
        Mood("a", on(0), 4),
        Mood("a", on(1), 5),
        Mood("a", on(6), 5),
    ]
    # Week of Jan 1: (4 + 5 + 5) / 3 = 4.666... -> 4.667 over 3 check-ins;
    # week of Jan 8: one check-in, 2.
    assert member_trend(moods, "week") == [
        TrendPoint(MON, 3, 4.667),
        TrendPoint(NEXT_MON, 1, 2.0),
    ]


def test_member_trend_per_day_is_never_suppressed() -> None:
    moods = [Mood("a", on(1), 1), Mood("a", on(0), 3)]
    assert member_trend(moods, "day") == [TrendPoint(on(0), 1, 3.0), TrendPoint(on(1), 1, 1.0)]
