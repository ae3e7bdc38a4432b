"""The Recognition aggregate: who recognised whom, for what, and what it refuses."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import pytest

from domain.calendar import today
from domain.errors import InvalidCommand
from domain.recognition import Recognition

TEAM_ID = UUID("00000000-0000-4000-8000-000000000001")
ANA = UUID("00000000-0000-4000-8000-00000000000a")
BEN = UUID("00000000-0000-4000-8000-00000000000b")
WIN_ID = UUID("00000000-0000-4000-8000-0000000000f1")
GIVEN_ON = date(2024, 3, 4)
FUTURE = today() + timedelta(days=2)  # beyond UTC+14's "today", whatever the hour


def give(
    *,
    from_member_id: UUID = BEN,
    to_member_id: UUID = ANA,
    win_id: UUID | None = WIN_ID,
    from_manager: bool = False,
    message: str = "great export",
    occurred_on: date = GIVEN_ON,
) -> Recognition:
    return Recognition.give(
        team_id=TEAM_ID,
        from_member_id=from_member_id,
        to_member_id=to_member_id,
        win_id=win_id,
        from_manager=from_manager,
        message=message,
        actor="ben-actor",
        occurred_on=occurred_on,
    )


def test_give_emits_recognition_given_with_every_field() -> None:
    recognition = give(message="  great export ")
    events = recognition.collect_events()
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Recognition.RecognitionGiven)
    assert (
        event.originator_id,
        event.team_id,
        event.from_member_id,
        event.to_member_id,
        event.win_id,
        event.from_manager,
        event.message,
        event.actor,
        event.occurred_on,
    ) == (
        recognition.id,
        TEAM_ID,
        BEN,
        ANA,
        WIN_ID,
        False,
        "great export",
        "ben-actor",
        GIVEN_ON,
    )
    assert (
        recognition.team_id,
        recognition.from_member_id,
        recognition.to_member_id,
        recognition.win_id,
        recognition.from_manager,
        recognition.message,
        recognition.given_on,
    ) == (TEAM_ID, BEN, ANA, WIN_ID, False, "great export", GIVEN_ON)


def test_a_recognition_need_not_name_a_win_and_may_come_from_the_manager() -> None:
    recognition = give(win_id=None, from_manager=True, occurred_on=today())
    (event,) = recognition.collect_events()
    assert isinstance(event, Recognition.RecognitionGiven)
    assert (event.win_id, event.from_manager, event.occurred_on) == (None, True, today())


def test_each_recognition_has_its_own_id() -> None:
    assert give().id != give().id


def test_you_cannot_recognise_yourself() -> None:
    with pytest.raises(InvalidCommand) as refused:
        give(from_member_id=ANA, to_member_id=ANA)
    assert refused.value.field == "to_member_id"


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_a_recognition_must_say_something(blank: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        give(message=blank)
    assert refused.value.field == "message"


def test_a_recognition_cannot_be_given_in_the_future() -> None:
    with pytest.raises(InvalidCommand) as refused:
        give(occurred_on=FUTURE)
    assert refused.value.field == "occurred_on"


def test_replaying_the_event_rebuilds_an_equal_recognition() -> None:
    recognition = give()
    (event,) = recognition.collect_events()
    rebuilt = event.mutate(None)
    assert isinstance(rebuilt, Recognition)
    assert rebuilt == recognition
    assert (rebuilt.version, rebuilt.message) == (1, "great export")
