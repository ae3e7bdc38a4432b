"""The Journal aggregate: check-in rules, corrections, blockers, success, and replay."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

import pytest

from domain.calendar import BusinessEvent, today
from domain.errors import Conflict, InvalidCommand
from domain.journal import Blocker, CheckIn, Entry, Journal

E = TypeVar("E")

MEMBER_ID = UUID("00000000-0000-4000-8000-00000000000a")
TEAM_ID = UUID("00000000-0000-4000-8000-000000000001")
OPENED_ON = date(2024, 1, 1)
DAY = date(2024, 3, 4)
NEXT_DAY = date(2024, 3, 5)
FUTURE = today() + timedelta(days=2)  # beyond UTC+14's "today", whatever the hour


def opened() -> Journal:
    journal = Journal.open(member_id=MEMBER_ID, team_id=TEAM_ID, actor="ana", occurred_on=OPENED_ON)
    journal.collect_events()
    return journal


def report(
    day: date = DAY,
    mood: int = 4,
    *,
    progress: Sequence[str] = (),
    setbacks: Sequence[str] = (),
    wins: Sequence[str] = (),
    blockers: Sequence[str] = (),
) -> CheckIn:
    return CheckIn(day, mood, [*progress], [*setbacks], [*wins], [*blockers])


def single_event(journal: Journal, kind: type[E]) -> E:
    events = journal.collect_events()
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, kind)
    return event


def rebuild(events: Sequence[Any]) -> Journal:
    journal = events[0].mutate(None)
    for event in events[1:]:
        journal = event.mutate(journal)
    assert isinstance(journal, Journal)
    return journal


def refused(journal: Journal, command: Callable[[], object], error: type[Exception]) -> Exception:
    """Run a command that must be refused; check it left no event and no change."""
    before = copy.deepcopy(vars(journal))
    with pytest.raises(error) as raised:
        command()
    assert journal.collect_events() == []
    assert vars(journal) == before
    return raised.value


def ids(items: list[dict[str, str]]) -> list[str]:
    return [item["id"] for item in items]


def texts(items: list[dict[str, str]]) -> list[str]:
    return [item["text"] for item in items]


def checked_in(
    journal: Journal,
    *,
    progress: Sequence[str] = (),
    wins: Sequence[str] = (),
    blockers: Sequence[str] = (),
) -> Entry:
    entry = journal.check_in(report(progress=progress, wins=wins, blockers=blockers), actor="ana")
    journal.collect_events()
    return entry


# --- opening and the journal's id -------------------------------------------------------


def test_open_emits_journal_opened_with_every_field() -> None:
    journal = Journal.open(member_id=MEMBER_ID, team_id=TEAM_ID, actor="mia", occurred_on=OPENED_ON)
    event = single_event(journal, Journal.JournalOpened)
    assert (event.member_id, event.team_id, event.actor, event.occurred_on) == (
        MEMBER_ID,
        TEAM_ID,
        "mia",
        OPENED_ON,
    )
    assert (journal.member_id, journal.team_id, journal.entries, journal.blockers) == (
        MEMBER_ID,
        TEAM_ID,
        {},
        {},
    )
    assert journal.success is None


def test_the_journal_id_follows_from_the_member_id() -> None:
    other = uuid4()
    assert Journal.id_for(MEMBER_ID) == Journal.id_for(MEMBER_ID)
    assert Journal.id_for(MEMBER_ID) != Journal.id_for(other)
    assert opened().id == Journal.id_for(MEMBER_ID)
    # Whoever opens it and whenever: the id depends on the member only.
    again = Journal.open(member_id=MEMBER_ID, team_id=uuid4(), actor="x", occurred_on=DAY)
    assert again.id == Journal.id_for(MEMBER_ID)
    assert Journal.open(member_id=other, team_id=TEAM_ID, actor="x", occurred_on=DAY).id == (
        Journal.id_for(other)
    )


# --- checking in ------------------------------------------------------------------------


def test_check_in_emits_checked_in_with_stripped_texts_and_fresh_ids() -> None:
    journal = opened()
    entry = journal.check_in(
        CheckIn(
            day=DAY,
            mood=4,
            progress=[" wrote the parser ", "reviewed"],
            setbacks=["flaky CI "],
            wins=[" shipped export", "fixed login"],
            blockers=["waiting for keys ", "no staging"],
            private_note=" tired ",
        ),
        actor="ana-actor",
    )
    event = single_event(journal, Journal.CheckedIn)
    assert (event.actor, event.occurred_on, event.mood) == ("ana-actor", DAY, 4)
    assert (event.progress, event.setbacks) == (["wrote the parser", "reviewed"], ["flaky CI"])
    assert texts(event.wins) == ["shipped export", "fixed login"]
    assert texts(event.blockers) == ["waiting for keys", "no staging"]
    assert event.private_note == "tired"  # stripped, like every other text
    every_id = ids(event.wins) + ids(event.blockers)
    assert len(set(every_id)) == 4  # each win and blocker has its own id
    assert all(str(UUID(i)) == i for i in every_id)
    assert entry == Entry(
        DAY,
        4,
        ["wrote the parser", "reviewed"],
        ["flaky CI"],
        event.wins,
        event.blockers,
        "tired",
    )
    assert journal.entries == {DAY: entry}
    keys, no_staging = (UUID(i) for i in ids(event.blockers))
    assert journal.blockers == {
        keys: Blocker(keys, "waiting for keys", DAY),
        no_staging: Blocker(no_staging, "no staging", DAY),
    }
    assert journal.win_ids() == {UUID(i) for i in ids(event.wins)}


def test_identical_texts_in_one_check_in_get_different_ids() -> None:
    journal = opened()
    entry = checked_in(journal, wins=["same", "same"])
    assert texts(entry.wins) == ["same", "same"]
    assert len(set(ids(entry.wins))) == 2


def test_a_check_in_may_have_no_items() -> None:
    journal = opened()
    entry = journal.check_in(CheckIn(day=DAY, mood=3), actor="ana")
    event = single_event(journal, Journal.CheckedIn)
    assert (event.progress, event.setbacks, event.wins, event.blockers) == ([], [], [], [])
    assert event.private_note is None
    assert entry == Entry(DAY, 3, [], [], [], [], None)


@pytest.mark.parametrize("mood", [1, 5])
def test_mood_may_be_anything_from_1_to_5(mood: int) -> None:
    journal = opened()
    assert journal.check_in(report(mood=mood), actor="ana").mood == mood


@pytest.mark.parametrize("mood", [0, 6, -1, 10])
def test_mood_outside_1_to_5_is_refused(mood: int) -> None:
    journal = opened()
    error = refused(journal, lambda: journal.check_in(report(mood=mood), actor="a"), InvalidCommand)
    assert isinstance(error, InvalidCommand)
    assert error.field == "mood"


def test_a_check_in_for_a_future_day_is_refused() -> None:
    journal = opened()
    error = refused(
        journal, lambda: journal.check_in(report(day=FUTURE), actor="a"), InvalidCommand
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "day"


def test_a_check_in_for_today_is_accepted() -> None:
    journal = opened()
    assert journal.check_in(report(day=today()), actor="a").day == today()


@pytest.mark.parametrize(
    ("lists", "field"),
    [
        ({"progress": [""]}, "progress.0"),
        ({"setbacks": ["ok", "   "]}, "setbacks.1"),
        ({"wins": ["\t"]}, "wins.0"),
        ({"wins": ["a", "b", " \n "]}, "wins.2"),
        ({"blockers": ["", "b"]}, "blockers.0"),
    ],
    ids=["progress", "setbacks", "wins", "third-win", "blockers"],
)
def test_a_blank_item_is_refused_and_named(lists: dict[str, Any], field: str) -> None:
    journal = opened()
    bad = dataclasses.replace(report(), **lists)
    error = refused(journal, lambda: journal.check_in(bad, actor="a"), InvalidCommand)
    assert isinstance(error, InvalidCommand)
    assert error.field == field


def test_a_second_check_in_the_same_day_is_a_conflict() -> None:
    journal = opened()
    first = checked_in(journal, wins=["w"])
    error = refused(
        journal, lambda: journal.check_in(report(mood=1, wins=["x"]), actor="a"), Conflict
    )
    assert "already checked in" in str(error)
    assert journal.entries[DAY] == first


def test_check_ins_on_different_days_are_separate_entries() -> None:
    journal = opened()
    checked_in(journal)
    journal.check_in(report(day=NEXT_DAY, mood=2), actor="ana")
    assert sorted(journal.entries) == [DAY, NEXT_DAY]
    assert (journal.entries[DAY].mood, journal.entries[NEXT_DAY].mood) == (4, 2)


# --- same-day corrections ---------------------------------------------------------------


def test_correcting_a_day_without_a_check_in_is_a_conflict() -> None:
    journal = opened()
    checked_in(journal)
    error = refused(journal, lambda: journal.correct(report(day=NEXT_DAY), actor="a"), Conflict)
    assert "no check-in" in str(error)


def test_a_correction_is_checked_like_a_check_in() -> None:
    journal = opened()
    checked_in(journal)
    error = refused(journal, lambda: journal.correct(report(mood=0), actor="a"), InvalidCommand)
    assert isinstance(error, InvalidCommand)
    assert error.field == "mood"
    error = refused(
        journal, lambda: journal.correct(report(blockers=["x", " "]), actor="a"), InvalidCommand
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "blockers.1"


def test_a_correction_keeps_ids_of_unchanged_texts_and_withdraws_the_rest() -> None:
    journal = opened()
    before = checked_in(
        journal,
        progress=["p"],
        wins=["kept win", "dropped win"],
        blockers=["kept blocker", "dropped blocker"],
    )
    kept_win, dropped_win = ids(before.wins)
    kept_blocker, dropped_blocker = ids(before.blockers)
    entry = journal.correct(
        CheckIn(
            day=DAY,
            mood=2,
            progress=[],
            setbacks=[" s "],
            wins=["new win", " kept win "],  # same text once stripped, in another place
            blockers=["kept blocker", "new blocker"],
            private_note="n",
        ),
        actor="ana-actor",
    )
    event = single_event(journal, Journal.CheckInCorrected)
    assert (event.actor, event.occurred_on, event.mood) == ("ana-actor", DAY, 2)
    assert (event.progress, event.setbacks, event.private_note) == ([], ["s"], "n")
    assert texts(event.wins) == ["new win", "kept win"]
    assert ids(event.wins)[1] == kept_win
    assert ids(event.wins)[0] not in {kept_win, dropped_win}
    assert texts(event.blockers) == ["kept blocker", "new blocker"]
    assert ids(event.blockers)[0] == kept_blocker
    assert ids(event.blockers)[1] not in {kept_blocker, dropped_blocker}
    assert (event.withdrawn_win_ids, event.withdrawn_blocker_ids) == (
        [dropped_win],
        [dropped_blocker],
    )
    # The correction supersedes the day's entry...
    assert entry == Entry(DAY, 2, [], ["s"], event.wins, event.blockers, "n")
    assert journal.entries == {DAY: entry}
    # ...the dropped blocker is gone and the new one is open.
    new_blocker = UUID(ids(event.blockers)[1])
    assert set(journal.blockers) == {UUID(kept_blocker), new_blocker}
    assert journal.blockers[new_blocker] == Blocker(new_blocker, "new blocker", DAY)
    assert journal.win_ids() == {UUID(i) for i in ids(event.wins)}


def test_a_correction_that_reorders_items_keeps_every_id() -> None:
    journal = opened()
    before = checked_in(journal, wins=["one", "two"], blockers=["b1", "b2"])
    journal.correct(report(wins=["two", "one"], blockers=["b2", "b1"]), actor="ana")
    event = single_event(journal, Journal.CheckInCorrected)
    assert ids(event.wins) == ids(before.wins)[::-1]
    assert ids(event.blockers) == ids(before.blockers)[::-1]
    assert (event.withdrawn_win_ids, event.withdrawn_blocker_ids) == ([], [])


def test_a_correction_keeps_the_ids_of_repeated_unchanged_texts() -> None:
    journal = opened()
    before = checked_in(journal, wins=["same", "same"])
    journal.correct(report(mood=2, wins=["same", "same"]), actor="ana")
    event = single_event(journal, Journal.CheckInCorrected)
    assert event.withdrawn_win_ids == []
    assert sorted(ids(event.wins)) == sorted(ids(before.wins))


def test_a_kept_blocker_that_was_cleared_stays_cleared() -> None:
    journal = opened()
    before = checked_in(journal, blockers=["keys", "staging"])
    keys, staging = (UUID(i) for i in ids(before.blockers))
    journal.clear_blocker(blocker_id=keys, note=None, actor="mia", occurred_on=NEXT_DAY)
    journal.clear_blocker(blocker_id=staging, note=None, actor="mia", occurred_on=NEXT_DAY)
    journal.collect_events()
    journal.correct(report(blockers=["keys"]), actor="ana")
    event = single_event(journal, Journal.CheckInCorrected)
    assert event.withdrawn_blocker_ids == [str(staging)]
    assert journal.blockers == {keys: Blocker(keys, "keys", DAY, NEXT_DAY, "mia")}


def test_a_correction_may_be_corrected_again() -> None:
    journal = opened()
    first = checked_in(journal, wins=["a", "b"])
    journal.correct(report(wins=["a", "c"]), actor="ana")
    second = single_event(journal, Journal.CheckInCorrected)
    journal.correct(report(wins=["c"]), actor="ana")
    third = single_event(journal, Journal.CheckInCorrected)
    assert second.withdrawn_win_ids == [ids(first.wins)[1]]
    # "a" (kept by the first correction) is withdrawn now; "c" keeps the id it was given.
    assert third.withdrawn_win_ids == [ids(first.wins)[0]]
    assert ids(third.wins) == [ids(second.wins)[1]]


# --- blockers ----------------------------------------------------------------------------


def with_blocker(journal: Journal, day: date = DAY) -> UUID:
    entry = journal.check_in(report(day=day, blockers=["waiting for keys"]), actor="ana")
    journal.collect_events()
    return UUID(entry.blockers[0]["id"])


def test_clear_blocker_emits_blocker_cleared_and_records_who() -> None:
    journal = opened()
    blocker_id = with_blocker(journal)
    journal.clear_blocker(blocker_id=blocker_id, note="done", actor="mia", occurred_on=NEXT_DAY)
    event = single_event(journal, Journal.BlockerCleared)
    assert (event.blocker_id, event.note, event.actor, event.occurred_on) == (
        blocker_id,
        "done",
        "mia",
        NEXT_DAY,
    )
    assert journal.blockers[blocker_id] == Blocker(
        blocker_id, "waiting for keys", DAY, NEXT_DAY, "mia"
    )


def test_a_blocker_may_be_cleared_the_day_it_was_reported() -> None:
    journal = opened()
    blocker_id = with_blocker(journal)
    journal.clear_blocker(blocker_id=blocker_id, note=None, actor="ana", occurred_on=DAY)
    assert journal.blockers[blocker_id].cleared_on == DAY


def test_clearing_an_unknown_blocker_is_a_lookup_error() -> None:
    journal = opened()
    with_blocker(journal)
    error = refused(
        journal,
        lambda: journal.clear_blocker(blocker_id=uuid4(), note=None, actor="m", occurred_on=DAY),
        LookupError,
    )
    assert "no blocker" in str(error)


def test_clearing_a_withdrawn_blocker_is_a_lookup_error() -> None:
    journal = opened()
    blocker_id = with_blocker(journal)
    journal.correct(report(), actor="ana")
    journal.collect_events()
    refused(
        journal,
        lambda: journal.clear_blocker(blocker_id=blocker_id, note=None, actor="m", occurred_on=DAY),
        LookupError,
    )


def test_clearing_a_blocker_twice_is_a_conflict() -> None:
    journal = opened()
    blocker_id = with_blocker(journal)
    journal.clear_blocker(blocker_id=blocker_id, note=None, actor="mia", occurred_on=DAY)
    journal.collect_events()
    error = refused(
        journal,
        lambda: journal.clear_blocker(
            blocker_id=blocker_id, note=None, actor="noor", occurred_on=NEXT_DAY
        ),
        Conflict,
    )
    assert "already cleared on 2024-03-04" in str(error)
    assert journal.blockers[blocker_id].cleared_by == "mia"


@pytest.mark.parametrize(
    "occurred_on", [DAY - timedelta(days=1), FUTURE], ids=["before-reported", "future"]
)
def test_clearing_refuses_dates_outside_the_blockers_life(occurred_on: date) -> None:
    journal = opened()
    blocker_id = with_blocker(journal)
    error = refused(
        journal,
        lambda: journal.clear_blocker(
            blocker_id=blocker_id, note=None, actor="m", occurred_on=occurred_on
        ),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "occurred_on"


# --- success ------------------------------------------------------------------------------


def test_define_success_emits_success_defined_with_stripped_text() -> None:
    journal = opened()
    journal.define_success(text=" ship weekly ", actor="ana", occurred_on=DAY)
    event = single_event(journal, Journal.SuccessDefined)
    assert (event.text, event.actor, event.occurred_on) == ("ship weekly", "ana", DAY)
    assert journal.success == "ship weekly"
    journal.define_success(text="ship daily", actor="ana", occurred_on=NEXT_DAY)
    assert single_event(journal, Journal.SuccessDefined).text == "ship daily"
    assert journal.success == "ship daily"


@pytest.mark.parametrize("blank", ["", "  ", "\t\n"])
def test_define_success_refuses_blank_text(blank: str) -> None:
    journal = opened()
    error = refused(
        journal,
        lambda: journal.define_success(text=blank, actor="ana", occurred_on=DAY),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "text"


@pytest.mark.parametrize("same", ["ship weekly", "  ship weekly "])
def test_defining_the_same_success_twice_is_refused(same: str) -> None:
    journal = opened()
    journal.define_success(text="ship weekly", actor="ana", occurred_on=DAY)
    journal.collect_events()
    error = refused(
        journal,
        lambda: journal.define_success(text=same, actor="ana", occurred_on=NEXT_DAY),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "text"


def test_define_success_refuses_a_future_date() -> None:
    journal = opened()
    error = refused(
        journal,
        lambda: journal.define_success(text="x", actor="ana", occurred_on=FUTURE),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "occurred_on"


# --- replay --------------------------------------------------------------------------------


def test_replaying_the_events_rebuilds_an_equal_journal() -> None:
    journal = Journal.open(member_id=MEMBER_ID, team_id=TEAM_ID, actor="ana", occurred_on=OPENED_ON)
    first = journal.check_in(
        report(progress=["p"], wins=["w1", "w2"], blockers=["b1", "b2"]), actor="ana"
    )
    b1, b2 = (UUID(i) for i in ids(first.blockers))
    journal.clear_blocker(blocker_id=b1, note="n", actor="mia", occurred_on=NEXT_DAY)
    journal.correct(report(mood=1, wins=["w1"], blockers=["b1", "b3"]), actor="ana")
    journal.check_in(report(day=NEXT_DAY, mood=5, setbacks=["s"]), actor="ana")
    journal.define_success(text="calm weeks", actor="ana", occurred_on=NEXT_DAY)
    events = journal.collect_events()
    assert [type(e) for e in events] == [
        Journal.JournalOpened,
        Journal.CheckedIn,
        Journal.BlockerCleared,
        Journal.CheckInCorrected,
        Journal.CheckedIn,
        Journal.SuccessDefined,
    ]
    rebuilt = rebuild(events)
    assert (rebuilt.entries, rebuilt.blockers, rebuilt.success) == (
        journal.entries,
        journal.blockers,
        journal.success,
    )
    assert rebuilt == journal
    assert (rebuilt.id, rebuilt.version) == (Journal.id_for(MEMBER_ID), 6)
    assert b2 not in rebuilt.blockers
    assert rebuilt.blockers[b1].cleared_on == NEXT_DAY
    assert sorted(rebuilt.entries) == [DAY, NEXT_DAY]
    assert rebuilt.entries[DAY].mood == 1
    assert rebuilt.success == "calm weeks"


def test_every_event_carries_actor_and_business_date() -> None:
    journal = Journal.open(member_id=MEMBER_ID, team_id=TEAM_ID, actor="hr", occurred_on=OPENED_ON)
    entry = journal.check_in(report(blockers=["b"]), actor="ana")
    journal.correct(report(mood=3, blockers=["b"]), actor="ana2")
    journal.clear_blocker(
        blocker_id=UUID(entry.blockers[0]["id"]), note=None, actor="mia", occurred_on=NEXT_DAY
    )
    journal.define_success(text="t", actor="ana3", occurred_on=NEXT_DAY)
    events = journal.collect_events()
    assert all(isinstance(e, BusinessEvent | Journal.JournalOpened) for e in events)
    # JournalOpened is a Created event, not a BusinessEvent, but has the same two fields.
    stamped = [cast(BusinessEvent, e) for e in events]
    assert [(e.actor, e.occurred_on) for e in stamped] == [
        ("hr", OPENED_ON),
        ("ana", DAY),
        ("ana2", DAY),
        ("mia", NEXT_DAY),
        ("ana3", NEXT_DAY),
    ]


# --- copies (eventsourcing copies the cached journal for every command) ---------------


def test_a_copy_is_independent_of_the_journal_it_was_copied_from() -> None:
    journal = opened()
    entry = checked_in(journal, wins=["w"], blockers=["b"])
    journal.define_success(text="ship", actor="ana", occurred_on=DAY)
    journal.collect_events()
    blocker_id = UUID(entry.blockers[0]["id"])
    before = copy.deepcopy(vars(journal))  # an independent record to compare with
    copied = copy.deepcopy(journal)
    assert (copied.id, copied.version, copied.entries, copied.blockers, copied.success) == (
        journal.id,
        journal.version,
        journal.entries,
        journal.blockers,
        journal.success,
    )

    copied.check_in(report(NEXT_DAY, progress=["p"]), actor="ana")
    copied.clear_blocker(blocker_id=blocker_id, note=None, actor="mia", occurred_on=NEXT_DAY)
    copied.correct(report(DAY, 1), actor="ana")
    copied.record_erasure(actor="ana", occurred_on=NEXT_DAY)

    assert vars(journal) == before
    assert journal.pending_events == []
    assert len(copied.pending_events) == 4
    assert journal.blockers[blocker_id].cleared_on is None
    assert journal.entries[DAY].wins[0]["text"] == "w"
    assert journal.success == "ship"


def test_entries_and_blockers_cannot_be_changed_in_place() -> None:
    """A copy shares them with the journal it was copied from: they must not change."""
    journal = opened()
    entry = checked_in(journal, blockers=["b"])
    blocker = journal.blockers[UUID(entry.blockers[0]["id"])]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.mood = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        blocker.cleared_by = "x"  # type: ignore[misc]
