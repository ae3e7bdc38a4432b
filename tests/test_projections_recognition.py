"""The recognition report over hand-built recognitions and wins, with hand-computed windows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from projections.recognition import (
    Given,
    MemberRecognition,
    RecognitionReport,
    Win,
    recognition_report,
)

TODAY = date(2024, 6, 30)
# 30-day window: TODAY - 29 = Jun 1 is in, TODAY - 30 = May 31 is out.
# Overdue wins: reported on or before TODAY - 7 = Jun 23; Jun 24 (TODAY - 6) is not yet.


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


GIVEN = [
    Given("m1", None, date(2024, 6, 1), False),  # today - 29: in the window
    Given("m1", None, date(2024, 5, 31), True),  # today - 30: out
    Given("m1", "w-old", date(2024, 4, 1), False),  # out, but w-old is recognised
    Given("m2", None, date(2024, 5, 1), False),  # out
    Given("m2", "w-rec", date(2024, 6, 25), False),  # in; recognises w-rec
    Given("m2", None, date(2024, 6, 30), True),  # today: in
    Given("m2", None, date(2024, 6, 10), True),  # in
]
WINS = [
    Win("w-old", "m1", date(2024, 4, 1)),  # recognised
    Win("w-23b", "m2", date(2024, 6, 23)),  # today - 7: overdue
    Win("w-23a", "m1", date(2024, 6, 23)),  # today - 7: overdue, sorts before w-23b
    Win("w-24", "m1", date(2024, 6, 24)),  # today - 6: not yet
    Win("w-10", "m3", date(2024, 6, 10)),  # overdue, earliest
    Win("w-gone", "gone", date(2024, 6, 1)),  # overdue, but its author left
    Win("w-rec", "m2", date(2024, 6, 2)),  # recognised (later than it was reported)
]


def test_the_full_report() -> None:
    report = recognition_report(["m2", "m1", "m3"], GIVEN, WINS, today=TODAY)
    assert report == RecognitionReport(
        # In the order given; m3 was never recognised.
        members=[
            MemberRecognition("m2", date(2024, 6, 30), 3),  # Jun 25, Jun 30, Jun 10
            MemberRecognition("m1", date(2024, 6, 1), 1),  # Jun 1 only
            MemberRecognition("m3", None, 0),
        ],
        unrecognised_wins=[
            Win("w-10", "m3", date(2024, 6, 10)),
            Win("w-23a", "m1", date(2024, 6, 23)),
            Win("w-23b", "m2", date(2024, 6, 23)),
        ],
        peer_30d=2,  # Jun 1 (m1), Jun 25 (m2)
        manager_30d=2,  # Jun 30, Jun 10 (both m2); May 31 is out
    )


def test_last_recognised_on_is_the_latest_day_in_any_order() -> None:
    given = [
        Given("m1", None, date(2024, 3, 1), False),
        Given("m1", None, date(2024, 5, 1), True),
        Given("m1", None, date(2024, 4, 1), False),
    ]
    (member,) = recognition_report(["m1"], given, [], today=TODAY).members
    # The latest is May 1, outside the 30 days: known, but not counted as recent.
    assert member == MemberRecognition("m1", date(2024, 5, 1), 0)


@pytest.mark.parametrize(
    ("days_ago", "recent"),
    [(0, 1), (1, 1), (29, 1), (30, 0), (31, 0), (365, 0)],
)
def test_the_30_day_window_edges(days_ago: int, recent: int) -> None:
    report = recognition_report(["m1"], [Given("m1", None, ago(days_ago), True)], [], today=TODAY)
    assert report.members == [MemberRecognition("m1", ago(days_ago), recent)]
    assert (report.peer_30d, report.manager_30d) == (0, recent)


def test_peer_and_manager_counts_include_recognitions_of_anyone_on_the_team() -> None:
    # A recognition of someone not (or no longer) among the current members still counts
    # in the team's peer/manager totals, but gets no line of its own.
    given = [
        Given("gone", None, ago(3), False),
        Given("m1", None, ago(3), False),
        Given("m1", None, ago(4), True),
    ]
    report = recognition_report(["m1"], given, [], today=TODAY)
    assert report.members == [MemberRecognition("m1", ago(3), 2)]
    assert (report.peer_30d, report.manager_30d) == (2, 1)


@pytest.mark.parametrize(
    ("days_ago", "listed"),
    [(0, False), (6, False), (7, True), (8, True), (100, True)],
)
def test_a_win_is_overdue_after_seven_days(days_ago: int, listed: bool) -> None:
    win = Win("w", "m1", ago(days_ago))
    report = recognition_report(["m1"], [], [win], today=TODAY)
    assert report.unrecognised_wins == ([win] if listed else [])


def test_any_recognition_naming_a_win_takes_it_off_the_list() -> None:
    wins = [Win("w1", "m1", ago(40)), Win("w2", "m1", ago(40))]
    # w1 is recognised by someone else's recognition of m2 with the same win id, long ago;
    # the report does not check who the recognition went to.
    given = [Given("m2", "w1", ago(39), False)]
    report = recognition_report(["m1", "m2"], given, wins, today=TODAY)
    assert report.unrecognised_wins == [Win("w2", "m1", ago(40))]


def test_only_current_members_wins_are_listed() -> None:
    wins = [Win("w1", "m1", ago(10)), Win("w2", "left", ago(10))]
    report = recognition_report(["m1"], [], wins, today=TODAY)
    assert report.unrecognised_wins == [Win("w1", "m1", ago(10))]


def test_unrecognised_wins_sort_by_day_then_id() -> None:
    wins = [
        Win("c", "m1", ago(8)),
        Win("b", "m2", ago(9)),
        Win("a", "m1", ago(8)),
        Win("d", "m2", ago(20)),
    ]
    report = recognition_report(["m1", "m2"], [], wins, today=TODAY)
    assert [w.win_id for w in report.unrecognised_wins] == ["d", "b", "a", "c"]


def test_no_members_no_lines() -> None:
    report = recognition_report([], GIVEN, WINS, today=TODAY)
    assert (report.members, report.unrecognised_wins) == ([], [])
    # The counts still cover the team's recognitions: 2 peer, 2 manager (see above).
    assert (report.peer_30d, report.manager_30d) == (2, 2)
