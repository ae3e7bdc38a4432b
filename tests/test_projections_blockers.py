"""Blockers: working-day ages and the open/cleared report, with hand-counted weekdays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from projections.blockers import (
    BlockerRow,
    ClearedBlocker,
    OpenBlocker,
    blocker_report,
    working_days_between,
)

# January 2024: Mon 1, Fri 5, Sat 6, Sun 7, Mon 8, Wed 10, Mon 15, Mon 22.
MON = date(2024, 1, 1)
WED = date(2024, 1, 3)
FRI = date(2024, 1, 5)
SAT = date(2024, 1, 6)
SUN = date(2024, 1, 7)
NEXT_MON = date(2024, 1, 8)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (MON, MON, 0),  # same day
        (SAT, SAT, 0),
        (FRI, NEXT_MON, 1),  # Sat, Sun skipped; Mon counts
        (MON, NEXT_MON, 5),  # Tue..Fri + Mon
        (MON, FRI, 4),  # Tue, Wed, Thu, Fri
        (SAT, SUN, 0),
        (FRI, SAT, 0),
        (FRI, SUN, 0),
        (SAT, NEXT_MON, 1),
        (SUN, NEXT_MON, 1),
        (SUN, date(2024, 1, 13), 5),  # Sun -> next Sat: Mon..Fri
        # Wed Jan 3 -> Tue Jan 23: Jan 4-5 (2) + 8-12 (5) + 15-19 (5) + 22-23 (2) = 14
        (WED, date(2024, 1, 23), 14),
        # Sun Jan 7 -> Sat Jan 27: Jan 8-12, 15-19, 22-26 = 15
        (SUN, date(2024, 1, 27), 15),
        # Fri Jan 5 -> Mon Feb 5 is 31 days: 4 weeks (20) + Sat, Sun, Mon (1) = 21, i.e.
        # Jan 8-12, 15-19, 22-26, Jan 29-Feb 2 (20) and Feb 5
        (FRI, date(2024, 2, 5), 21),
        (NEXT_MON, FRI, 0),  # end before start
        (date(2024, 2, 1), MON, 0),
    ],
)
def test_working_days_between(start: date, end: date, days: int) -> None:
    assert working_days_between(start, end) == days


def test_working_days_between_matches_counting_day_by_day() -> None:
    days = [MON + timedelta(days=n) for n in range(24)]
    for start in days:
        for end in days:
            counted = sum(
                1
                for n in range(1, (end - start).days + 1)
                if (start + timedelta(days=n)).weekday() < 5
            )
            assert working_days_between(start, end) == counted, (start, end)


# --- the report -------------------------------------------------------------------------

TODAY = date(2024, 1, 10)  # Wednesday


def open_row(blocker_id: str, day: date, member_id: str = "m1") -> BlockerRow:
    return BlockerRow(blocker_id, member_id, day, None, None)


def cleared_row(blocker_id: str, day: date, cleared_on: date, by: str = "mia") -> BlockerRow:
    return BlockerRow(blocker_id, "m2", day, cleared_on, by)


def test_open_blockers_age_in_working_days_oldest_first() -> None:
    rows = [
        open_row("b3", NEXT_MON, "m2"),  # Tue 9, Wed 10: 2
        open_row("b4", TODAY),  # 0
        open_row("b1", NEXT_MON),  # 2, ties with b3: by id
        open_row("b2", WED),  # Thu 4, Fri 5, Mon 8, Tue 9, Wed 10: 5
        open_row("b5", SAT),  # Sat 6 -> Wed 10: Mon, Tue, Wed = 3
    ]
    still_open, cleared = blocker_report(rows, today=TODAY)
    assert cleared == []
    assert still_open == [
        OpenBlocker("b2", "m1", WED, 5),
        OpenBlocker("b5", "m1", SAT, 3),
        OpenBlocker("b1", "m1", NEXT_MON, 2),
        OpenBlocker("b3", "m2", NEXT_MON, 2),
        OpenBlocker("b4", "m1", TODAY, 0),
    ]


def test_cleared_blockers_say_how_long_they_were_open_latest_cleared_first() -> None:
    rows = [
        cleared_row("c1", FRI, NEXT_MON),  # Fri -> Mon: 1
        cleared_row("c2", MON, date(2024, 1, 9), "noor"),  # Tue..Fri, Mon, Tue: 6
        cleared_row("c3", NEXT_MON, NEXT_MON),  # same day: 0
        cleared_row("c4", date(2024, 1, 9), date(2024, 1, 9)),  # same day: 0
    ]
    still_open, cleared = blocker_report(rows, today=TODAY)
    assert still_open == []
    # Sorted by (cleared_on, id), reversed: on the same day, the larger id comes first.
    assert cleared == [
        ClearedBlocker("c4", "m2", date(2024, 1, 9), date(2024, 1, 9), "mia", 0),
        ClearedBlocker("c2", "m2", MON, date(2024, 1, 9), "noor", 6),
        ClearedBlocker("c3", "m2", NEXT_MON, NEXT_MON, "mia", 0),
        ClearedBlocker("c1", "m2", FRI, NEXT_MON, "mia", 1),
    ]


def test_the_report_splits_open_and_cleared() -> None:
    rows = [
        open_row("o1", FRI),  # Mon, Tue, Wed: 3
        cleared_row("c1", FRI, TODAY),  # 3
    ]
    still_open, cleared = blocker_report(iter(rows), today=TODAY)
    assert still_open == [OpenBlocker("o1", "m1", FRI, 3)]
    assert cleared == [ClearedBlocker("c1", "m2", FRI, TODAY, "mia", 3)]


def test_no_rows_no_blockers() -> None:
    assert blocker_report([], today=TODAY) == ([], [])
