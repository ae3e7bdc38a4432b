"""Weekly participation and silent members, over hand-built memberships and check-ins."""

from __future__ import annotations

from datetime import date

import pytest

from projections.participation import (
    Membership,
    Silence,
    Week,
    silent_members,
    week_of,
    weekly_participation,
)

EARLY = date(2023, 12, 1)
WEEK1 = date(2024, 1, 1)  # Monday
WEEK2 = date(2024, 1, 8)
WEEK3 = date(2024, 1, 15)


def d(month: int, day: int, year: int = 2024) -> date:
    return date(year, month, day)


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (d(1, 1), WEEK1),
        (d(1, 7), WEEK1),
        (d(1, 8), WEEK2),
        (d(1, 3), WEEK1),
        (d(1, 1, 2023), d(12, 26, 2022)),
    ],
)
def test_week_of_is_the_monday(day: date, monday: date) -> None:
    assert week_of(day) == monday


# --- weekly participation ------------------------------------------------------------------

MEMBERSHIPS = [
    Membership("a", EARLY, None),
    Membership("b", d(1, 10), None),  # joined on the Wednesday of week 2
    Membership("c", EARLY, d(1, 5)),  # left on the Friday of week 1
    Membership("d", EARLY, d(1, 7)),  # left on the Sunday of week 1
    Membership("e", EARLY, d(1, 8)),  # left on the Monday of week 2: on the team that day
]
CHECK_INS = [
    ("a", d(1, 2)),
    ("a", d(1, 3)),  # twice in a week counts once
    ("c", d(1, 3)),
    ("x", d(1, 2)),  # not a member of this team
    ("a", d(1, 9)),
    ("c", d(1, 9)),  # after c left: not counted
    ("b", d(1, 14)),  # Sunday of week 2
]


def test_a_week_counts_only_the_people_on_the_team_during_it() -> None:
    weeks = weekly_participation(MEMBERSHIPS, CHECK_INS, since=d(1, 3), until=d(1, 15))
    assert weeks == [
        Week(WEEK1, 4, 2, 0.5),  # a, c, d, e on the team; a and c checked in: 2/4
        Week(WEEK2, 3, 2, 0.6667),  # a, b (joined mid-week), e (left Monday); a, b: 2/3
        Week(WEEK3, 2, 0, 0.0),  # a, b; nobody checked in
    ]


def test_the_last_week_is_the_one_holding_until() -> None:
    weeks = weekly_participation(MEMBERSHIPS, CHECK_INS, since=WEEK1, until=d(1, 14))
    assert [w.week_start for w in weeks] == [WEEK1, WEEK2]


@pytest.mark.parametrize(
    ("members", "checked", "share"),
    [(3, 1, 0.3333), (3, 2, 0.6667), (7, 1, 0.1429), (6, 5, 0.8333), (4, 4, 1.0)],
)
def test_shares_are_rounded_to_four_places(members: int, checked: int, share: float) -> None:
    memberships = [Membership(f"m{n}", EARLY, None) for n in range(members)]
    check_ins = [(f"m{n}", d(1, 2)) for n in range(checked)]
    assert weekly_participation(memberships, check_ins, since=WEEK1, until=WEEK1) == [
        Week(WEEK1, members, checked, share)
    ]


def test_weeks_without_anyone_on_the_team_are_skipped() -> None:
    memberships = [
        Membership("x", d(1, 1), d(1, 3)),  # week 1 only
        Membership("y", d(1, 17), None),  # from week 3
    ]
    weeks = weekly_participation(
        memberships, [("y", d(1, 17))], since=d(12, 18, 2023), until=d(1, 21)
    )
    # Dec 18 and Dec 25 (before anyone joined) and Jan 8 (x gone, y not yet) are skipped.
    assert weeks == [Week(WEEK1, 1, 0, 0.0), Week(WEEK3, 1, 1, 1.0)]


def test_no_weeks_when_until_is_before_since() -> None:
    assert weekly_participation(MEMBERSHIPS, CHECK_INS, since=d(1, 15), until=d(1, 7)) == []


def test_no_memberships_no_weeks() -> None:
    assert weekly_participation([], CHECK_INS, since=WEEK1, until=WEEK3) == []


# --- silent members -------------------------------------------------------------------------

TODAY = d(3, 1)  # 2024 is a leap year: Feb 16 + 14 days = Mar 1


def test_silent_members_are_the_current_ones_quiet_for_14_days_or_more() -> None:
    memberships = [
        Membership("g", d(2, 16), None),  # never checked in; joined 14 days ago
        Membership("b", d(1, 1), None),  # last Feb 17: 13 days
        Membership("f", d(1, 1), None),  # last Feb 16: 14 days
        Membership("e", d(1, 1), d(2, 10)),  # quiet for 60 days, but left
        Membership("c", d(2, 1), None),  # never; joined 29 days ago (Feb has 29 days)
        Membership("d", d(2, 20), None),  # never; joined 10 days ago
        Membership("a", d(1, 1), None),  # last Feb 16: 14 days
        Membership("h", d(1, 1), None),  # last Jan 1: 31 + 29 = 60 days
    ]
    last = {
        "b": d(2, 17),
        "f": d(2, 16),
        "e": d(1, 1),
        "a": d(2, 16),
        "h": d(1, 1),
        "z": d(1, 1),  # not a member: ignored
    }
    # Longest silence first; ties by member id.
    assert silent_members(memberships, last, today=TODAY) == [
        Silence("h", d(1, 1), 60),
        Silence("c", None, 29),
        Silence("a", d(2, 16), 14),
        Silence("f", d(2, 16), 14),
        Silence("g", None, 14),
    ]


@pytest.mark.parametrize(
    ("last", "silent"),
    [(d(2, 16), True), (d(2, 17), False), (TODAY, False), (d(2, 1), True)],
)
def test_the_14_day_edge(last: date, silent: bool) -> None:
    listed = silent_members([Membership("a", d(1, 1), None)], {"a": last}, today=TODAY)
    assert listed == ([Silence("a", last, (TODAY - last).days)] if silent else [])


def test_a_member_who_left_before_today_is_never_silent() -> None:
    memberships = [Membership("a", d(1, 1), d(2, 29)), Membership("b", d(1, 1), d(1, 2))]
    assert silent_members(memberships, {}, today=TODAY) == []


def test_a_member_who_leaves_today_is_still_on_the_team_today() -> None:
    # As Member.was_on_team: the day someone leaves, they are still on the team.
    memberships = [Membership("a", d(1, 1), TODAY)]
    assert silent_members(memberships, {"a": d(2, 1)}, today=TODAY) == [Silence("a", d(2, 1), 29)]
