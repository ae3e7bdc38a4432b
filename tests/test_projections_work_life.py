"""The work-life fold over real domain events: exact rows, corrections, statelessness, and
that no free text ever reaches a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from domain.goal import Goal
from domain.journal import CheckIn, Journal
from domain.recognition import Recognition
from domain.team import DepartureReason, Team
from projections.rows import (
    Delete,
    Put,
    Tables,
    apply_in_memory,
    fold_all,
)
from projections.work_life import (
    BLOCKERS,
    CHECKINS,
    CLEARANCES,
    WINS,
    WorkLife,
)

FORMED_ON = date(2024, 1, 1)
DAY1 = date(2024, 1, 8)
DAY2 = date(2024, 1, 9)
DAY3 = date(2024, 1, 10)
LEFT_ON = date(2024, 2, 1)

# Every piece of free text written below; none of it may reach a row.
FREE_TEXT = [
    "Payments squad",
    "Ana Almeida",
    "Ben Barros",
    "Left for a startup in Lisbon",
    "Wrote the invoice parser",
    "Reviewed the ledger migration",
    "Staging was down all morning",
    "Shipped the CSV export",
    "Fixed the login redirect",
    "Won the hackathon prize",
    "Waiting for production keys",
    "No staging environment",
    "Vendor API is rate limiting us",
    "Feeling worn out after the offsite",
    "Better after a walk",
    "Ops gave us the keys",
    "Ship weekly without drama",
    "The CSV export saved finance a day",
    "Thanks for covering the on-call",
]
(
    TEAM_NAME,
    ANA_NAME,
    BEN_NAME,
    DEPARTURE_NOTE,
    PROGRESS_1,
    PROGRESS_2,
    SETBACK,
    WIN_1,
    WIN_2,
    WIN_3,
    BLOCKER_1,
    BLOCKER_2,
    BLOCKER_3,
    NOTE_1,
    NOTE_2,
    CLEARANCE_NOTE,
    SUCCESS,
    MESSAGE_1,
    MESSAGE_2,
) = FREE_TEXT


@dataclass
class Story:
    """A team's history as real domain events, in the order they were recorded."""

    events: list[object]
    team_id: str
    ana: str
    ben: str
    journal_id: str
    w1: str
    w2: str
    w3: str
    b1: str
    b2: str
    b3: str
    r1: str
    r2: str

    def positioned(self) -> list[tuple[object, int]]:
        return [(event, n) for n, event in enumerate(self.events, start=1)]


def story() -> Story:
    team = Team.form(name=TEAM_NAME, manager="Mia", actor="hr", occurred_on=FORMED_ON)
    ana = team.add_member(name=ANA_NAME, role="dev", actor="mia", occurred_on=date(2024, 1, 2))
    ben = team.add_member(name=BEN_NAME, role=None, actor="mia", occurred_on=date(2024, 1, 3))
    team.set_min_group(min_group=4, actor="mia", occurred_on=date(2024, 1, 4))
    team_events: list[object] = [*team.collect_events()]

    journal = Journal.open(member_id=ana, team_id=team.id, actor="ana", occurred_on=DAY1)
    first = journal.check_in(
        CheckIn(
            day=DAY1,
            mood=4,
            progress=[PROGRESS_1, PROGRESS_2],
            setbacks=[SETBACK],
            wins=[WIN_1, WIN_2],
            blockers=[BLOCKER_1, BLOCKER_2],
            private_note=NOTE_1,
        ),
        actor="ana",
    )
    w1, w2 = (w["id"] for w in first.wins)
    b1, b2 = (b["id"] for b in first.blockers)
    journal.clear_blocker(blocker_id=UUID(b1), note=CLEARANCE_NOTE, actor="mia", occurred_on=DAY2)
    # Same day: W2 and B2 are withdrawn, W1 and B1 kept (B1 stays cleared), W3 is new.
    corrected = journal.correct(
        CheckIn(
            day=DAY1,
            mood=2,
            progress=[PROGRESS_1],
            setbacks=[],
            wins=[WIN_1, WIN_3],
            blockers=[BLOCKER_1],
            private_note=NOTE_2,
        ),
        actor="ana",
    )
    w3 = corrected.wins[1]["id"]
    second = journal.check_in(
        CheckIn(day=DAY2, mood=3, blockers=[BLOCKER_3], private_note=NOTE_1), actor="ana"
    )
    b3 = second.blockers[0]["id"]
    journal.clear_blocker(blocker_id=UUID(b3), note=None, actor="mia", occurred_on=DAY3)
    # B3 was cleared, then withdrawn: its clearance goes with it.
    journal.correct(CheckIn(day=DAY2, mood=3, progress=[PROGRESS_2]), actor="ana")
    journal.define_success(text=SUCCESS, actor="ana", occurred_on=DAY3)
    journal_events: list[object] = [*journal.collect_events()]

    r1 = Recognition.give(
        team_id=team.id,
        from_member_id=ben,
        to_member_id=ana,
        win_id=UUID(w1),
        from_manager=False,
        message=MESSAGE_1,
        actor=str(ben),
        occurred_on=DAY3,
    )
    r2 = Recognition.give(
        team_id=team.id,
        from_member_id=ana,
        to_member_id=ben,
        win_id=None,
        from_manager=True,
        message=MESSAGE_2,
        actor="mia",
        occurred_on=DAY3,
    )
    team.record_departure(
        member_id=ben,
        reason=DepartureReason.RESIGNED,
        note=DEPARTURE_NOTE,
        actor="mia",
        occurred_on=LEFT_ON,
    )
    events = [
        *team_events,
        *journal_events,
        *r1.collect_events(),
        *r2.collect_events(),
        *team.collect_events(),
    ]
    return Story(
        events=events,
        team_id=str(team.id),
        ana=str(ana),
        ben=str(ben),
        journal_id=str(journal.id),
        w1=w1,
        w2=w2,
        w3=w3,
        b1=b1,
        b2=b2,
        b3=b3,
        r1=str(r1.id),
        r2=str(r2.id),
    )


def test_the_story_is_the_one_the_tests_assume() -> None:
    s = story()
    assert [type(e).__qualname__ for e in s.events] == [
        "Team.TeamFormed",
        "Team.MemberJoined",
        "Team.MemberJoined",
        "Team.MinimumGroupSet",
        "Journal.JournalOpened",
        "Journal.CheckedIn",
        "Journal.BlockerCleared",
        "Journal.CheckInCorrected",
        "Journal.CheckedIn",
        "Journal.BlockerCleared",
        "Journal.CheckInCorrected",
        "Journal.SuccessDefined",
        "Recognition.RecognitionGiven",
        "Recognition.RecognitionGiven",
        "Team.MemberLeft",
    ]
    assert len({s.w1, s.w2, s.w3, s.b1, s.b2, s.b3}) == 6


def test_fold_all_gives_the_exact_rows_of_every_table() -> None:
    s = story()
    tables = fold_all(WorkLife(), s.positioned())
    assert tables == {
        "wl_teams": {(s.team_id,): {"team_id": s.team_id, "min_group": 4}},
        "wl_members": {
            (s.ana,): {
                "member_id": s.ana,
                "team_id": s.team_id,
                "joined_on": "2024-01-02",
                "left_on": None,
            },
            (s.ben,): {
                "member_id": s.ben,
                "team_id": s.team_id,
                "joined_on": "2024-01-03",
                "left_on": "2024-02-01",
            },
        },
        "journals": {
            (s.journal_id,): {"journal_id": s.journal_id, "member_id": s.ana, "team_id": s.team_id}
        },
        "checkins": {
            # Day 1 as corrected: mood 2, one progress, no setback, wins W1 + W3, blocker B1.
            (s.journal_id, "2024-01-08"): {
                "journal_id": s.journal_id,
                "day": "2024-01-08",
                "mood": 2,
                "progress": 1,
                "setbacks": 0,
                "wins": 2,
                "blockers": 1,
            },
            # Day 2 as corrected: mood 3, one progress, nothing else.
            (s.journal_id, "2024-01-09"): {
                "journal_id": s.journal_id,
                "day": "2024-01-09",
                "mood": 3,
                "progress": 1,
                "setbacks": 0,
                "wins": 0,
                "blockers": 0,
            },
        },
        "wins": {
            (s.w1,): {"win_id": s.w1, "journal_id": s.journal_id, "day": "2024-01-08"},
            (s.w3,): {"win_id": s.w3, "journal_id": s.journal_id, "day": "2024-01-08"},
        },
        "blockers": {
            (s.b1,): {"blocker_id": s.b1, "journal_id": s.journal_id, "day": "2024-01-08"},
        },
        "clearances": {
            (s.b1,): {"blocker_id": s.b1, "cleared_on": "2024-01-09", "cleared_by": "mia"},
        },
        "recognitions": {
            (s.r1,): {
                "recognition_id": s.r1,
                "team_id": s.team_id,
                "from_member_id": s.ben,
                "to_member_id": s.ana,
                "win_id": s.w1,
                "day": "2024-01-10",
                "from_manager": 0,
            },
            (s.r2,): {
                "recognition_id": s.r2,
                "team_id": s.team_id,
                "from_member_id": s.ana,
                "to_member_id": s.ben,
                "win_id": None,
                "day": "2024-01-10",
                "from_manager": 1,
            },
        },
    }
    # An INTEGER column: 0 or 1, not a bool (which would compare equal above).
    assert [type(r["from_manager"]) for r in tables["recognitions"].values()] == [int, int]


def test_before_the_correction_the_first_check_in_has_all_its_rows() -> None:
    s = story()
    # Events 1..7: up to and including the clearance of B1, before the first correction.
    tables = fold_all(WorkLife(), s.positioned()[:7])
    assert tables["checkins"] == {
        (s.journal_id, "2024-01-08"): {
            "journal_id": s.journal_id,
            "day": "2024-01-08",
            "mood": 4,
            "progress": 2,
            "setbacks": 1,
            "wins": 2,
            "blockers": 2,
        }
    }
    assert set(tables["wins"]) == {(s.w1,), (s.w2,)}
    assert set(tables["blockers"]) == {(s.b1,), (s.b2,)}
    assert set(tables["clearances"]) == {(s.b1,)}
    assert tables["wl_members"][(s.ben,)]["left_on"] is None
    assert tables["recognitions"] == {}


def test_a_correction_deletes_withdrawn_items_then_replaces_the_day() -> None:
    s = story()
    correction = s.events[7]
    assert isinstance(correction, Journal.CheckInCorrected)
    day = "2024-01-08"
    assert WorkLife().fold(correction, 8) == [
        Delete(WINS, (s.w2,)),
        Delete(BLOCKERS, (s.b2,)),
        Delete(CLEARANCES, (s.b2,)),
        Put(
            CHECKINS,
            {
                "journal_id": s.journal_id,
                "day": day,
                "mood": 2,
                "progress": 1,
                "setbacks": 0,
                "wins": 2,
                "blockers": 1,
            },
        ),
        Put(WINS, {"win_id": s.w1, "journal_id": s.journal_id, "day": day}),
        Put(WINS, {"win_id": s.w3, "journal_id": s.journal_id, "day": day}),
        Put(BLOCKERS, {"blocker_id": s.b1, "journal_id": s.journal_id, "day": day}),
    ]


def test_a_withdrawn_blocker_loses_its_clearance_and_a_kept_one_keeps_it() -> None:
    s = story()
    # Events 1..10: B3 reported on day 2 and cleared on day 3, not yet withdrawn.
    tables = fold_all(WorkLife(), s.positioned()[:10])
    assert set(tables["blockers"]) == {(s.b1,), (s.b3,)}
    assert tables["clearances"] == {
        (s.b1,): {"blocker_id": s.b1, "cleared_on": "2024-01-09", "cleared_by": "mia"},
        (s.b3,): {"blocker_id": s.b3, "cleared_on": "2024-01-10", "cleared_by": "mia"},
    }
    apply_in_memory(tables, WorkLife().fold(s.events[10], 11))
    assert set(tables["blockers"]) == {(s.b1,)}
    assert set(tables["clearances"]) == {(s.b1,)}


@pytest.mark.parametrize("split", range(16))
def test_the_fold_is_stateless(split: int) -> None:
    s = story()
    positioned = s.positioned()
    whole = fold_all(WorkLife(), positioned)
    # A fresh fold continues from the rows of the prefix as if it had seen it.
    tables = fold_all(WorkLife(), positioned[:split])
    fresh = WorkLife()
    for event, position in positioned[split:]:
        apply_in_memory(tables, fresh.fold(event, position))
    assert tables == whole


def test_folding_an_event_twice_returns_equal_operations() -> None:
    s = story()
    fold = WorkLife()
    for event, position in s.positioned():
        assert fold.fold(event, position) == fold.fold(event, position)


def unknown_events() -> list[object]:
    team = Team.form(name="T", manager="Mia", actor="hr", occurred_on=FORMED_ON)
    team.assign_manager(manager="Noor", actor="hr", occurred_on=DAY1)
    journal = Journal.open(member_id=UUID(int=1), team_id=team.id, actor="a", occurred_on=DAY1)
    journal.define_success(text=SUCCESS, actor="a", occurred_on=DAY1)
    goal = Goal.set(
        team_id=team.id,
        title="Ship v2",
        metric="signups",
        target=100.0,
        unit="users",
        due=date(2024, 6, 30),
        why=None,
        actor="mia",
        occurred_on=DAY1,
    )
    return [
        team.collect_events()[1],  # ManagerAssigned
        journal.collect_events()[1],  # SuccessDefined
        goal.collect_events()[0],  # GoalSet
        object(),
        None,
        "Journal.CheckedIn",
    ]


@pytest.mark.parametrize(
    "index",
    range(6),
    ids=["manager-assigned", "success-defined", "goal-set", "object", "none", "str"],
)
def test_events_it_does_not_know_produce_no_rows(index: int) -> None:
    event = unknown_events()[index]
    assert WorkLife().fold(event, 1) == []


def test_unknown_events_leave_the_tables_as_they_were() -> None:
    s = story()
    known = fold_all(WorkLife(), s.positioned())
    mixed = [e for pair in zip(s.events, unknown_events(), strict=False) for e in pair]
    mixed += s.events[len(unknown_events()) :]
    assert fold_all(WorkLife(), [(e, n) for n, e in enumerate(mixed, 1)]) == known


def every_value(tables: Tables) -> list[Any]:
    return [value for rows in tables.values() for row in rows.values() for value in row.values()]


@pytest.mark.parametrize("upto", [7, 10, 15], ids=["before-correction", "day-2", "all"])
def test_no_free_text_reaches_any_row(upto: int) -> None:
    s = story()
    tables = fold_all(WorkLife(), s.positioned()[:upto])
    values = every_value(tables)
    assert len(values) > 30  # the check below looks at real rows
    for value in values:
        assert value is None or isinstance(value, int | str)
        if isinstance(value, str):
            assert not [text for text in FREE_TEXT if text in value], value
    # Strings are ids, ISO dates, or the actor who cleared a blocker.
    for value in values:
        if isinstance(value, str) and value != "mia":
            try:
                UUID(value)
            except ValueError:
                assert date.fromisoformat(value).isoformat() == value


def test_the_fold_keeps_nothing_between_events() -> None:
    fold = WorkLife()
    fold_all(fold, story().positioned())
    assert vars(fold) == {}
