"""The progress ledger over hand-built day counts, with hand-computed shares and balances."""

from __future__ import annotations

import pytest

from projections.ledger import DayCounts, LedgerLine, ledger_by_member, ledger_line


def day(member_id: str, progress: int = 0, setbacks: int = 0, wins: int = 0) -> DayCounts:
    return DayCounts(member_id, progress, setbacks, wins)


# a: 4 check-in days; b: 2. Several items on one day count that day once.
DAYS = [
    day("b", setbacks=2),
    day("a", progress=3, wins=1),
    day("a", progress=1, setbacks=1),
    day("a"),  # a check-in with no items still counts as a check-in day
    day("b", progress=1, setbacks=1, wins=2),
    day("a", wins=4),
]


def test_the_team_line_counts_days_not_items() -> None:
    # 6 days; progress on 3 (a, a, b) -> 0.5; setbacks on 3 (b, a, b) -> 0.5;
    # wins on 3 (a, b, a) -> 0.5. Balance: 3 - 2 * 3 = -3.
    assert ledger_line(DAYS, 2.0) == LedgerLine(
        check_in_days=6,
        progress_days=3,
        setback_days=3,
        win_days=3,
        progress_share=0.5,
        setback_share=0.5,
        win_share=0.5,
        balance=-3.0,
    )


@pytest.mark.parametrize(
    ("weight", "balance"),
    [
        (2.0, -3.0),  # 3 - 2 * 3
        (1.0, 0.0),  # 3 - 1 * 3
        (0.5, 1.5),  # 3 - 0.5 * 3
        (0.0, 3.0),  # setbacks weigh nothing
        (2.5, -4.5),  # 3 - 2.5 * 3
    ],
)
def test_the_balance_weighs_setback_days(weight: float, balance: float) -> None:
    assert ledger_line(DAYS, weight).balance == balance


def test_shares_are_rounded_to_four_places() -> None:
    days = [day("a", progress=1), day("a", progress=1, wins=1), day("a", setbacks=1)]
    line = ledger_line(days, 2.0)
    # progress 2/3 = 0.66666... -> 0.6667; setbacks 1/3 -> 0.3333; wins 1/3 -> 0.3333.
    assert (line.progress_share, line.setback_share, line.win_share) == (0.6667, 0.3333, 0.3333)
    # balance: 2 - 2 * 1 = 0
    assert line.balance == 0.0


def test_shares_over_seven_days() -> None:
    days = [day("a", progress=1)] * 5 + [day("a", setbacks=1)] * 2
    line = ledger_line(days, 2.0)
    # 5/7 = 0.714285... -> 0.7143; 2/7 = 0.285714... -> 0.2857; balance 5 - 2 * 2 = 1.
    assert (line.progress_share, line.setback_share, line.win_share, line.balance) == (
        0.7143,
        0.2857,
        0.0,
        1.0,
    )


@pytest.mark.parametrize("weight", [2.0, 1.5])
def test_no_days_no_shares_and_a_zero_balance(weight: float) -> None:
    assert ledger_line([], weight) == LedgerLine(0, 0, 0, 0, None, None, None, 0.0)


def test_ledger_line_reads_any_iterable_once() -> None:
    assert ledger_line(iter(DAYS), 2.0) == ledger_line(DAYS, 2.0)


def test_ledger_by_member_gives_each_member_their_own_line_sorted_by_id() -> None:
    lines = ledger_by_member(DAYS, 2.0)
    assert list(lines) == ["a", "b"]
    # a: 4 days; progress 2 -> 0.5; setbacks 1 -> 0.25; wins 2 -> 0.5; 2 - 2 * 1 = 0.
    assert lines["a"] == LedgerLine(4, 2, 1, 2, 0.5, 0.25, 0.5, 0.0)
    # b: 2 days; progress 1 -> 0.5; setbacks 2 -> 1.0; wins 1 -> 0.5; 1 - 2 * 2 = -3.
    assert lines["b"] == LedgerLine(2, 1, 2, 1, 0.5, 1.0, 0.5, -3.0)


def test_ledger_by_member_with_another_weight() -> None:
    lines = ledger_by_member(DAYS, 1.5)
    # a: 2 - 1.5 * 1 = 0.5; b: 1 - 1.5 * 2 = -2.
    assert (lines["a"].balance, lines["b"].balance) == (0.5, -2.0)


def test_ledger_by_member_of_nothing_is_empty() -> None:
    assert ledger_by_member([], 2.0) == {}
