"""The Team aggregate: its invariants, the events it emits, and replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from domain.calendar import today
from domain.errors import Conflict, InvalidCommand
from domain.team import DepartureReason, Member, Team

E = TypeVar("E")

FORMED_ON = date(2024, 1, 1)
JOINED_ON = date(2024, 2, 1)
FUTURE = today() + timedelta(days=2)  # beyond UTC+14's "today", whatever the hour


def formed() -> Team:
    team = Team.form(name="Payments", manager="Mia", actor="hr", occurred_on=FORMED_ON)
    team.collect_events()
    return team


def with_member(team: Team) -> UUID:
    member_id = team.add_member(name="Ana", role="dev", actor="mia", occurred_on=JOINED_ON)
    team.collect_events()
    return member_id


def single_event(team: Team, kind: type[E]) -> E:
    events = team.collect_events()
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, kind)
    return event


def rebuild(events: Sequence[Any]) -> Team:
    team = events[0].mutate(None)
    for event in events[1:]:
        team = event.mutate(team)
    assert isinstance(team, Team)
    return team


# --- forming -------------------------------------------------------------------


def test_form_emits_team_formed_with_stripped_names() -> None:
    team = Team.form(name=" Payments ", manager=" Mia ", actor="hr", occurred_on=FORMED_ON)
    event = single_event(team, Team.TeamFormed)
    assert (event.name, event.manager, event.actor, event.occurred_on) == (
        "Payments",
        "Mia",
        "hr",
        FORMED_ON,
    )
    assert (team.name, team.manager, team.formed_on, team.members) == (
        "Payments",
        "Mia",
        FORMED_ON,
        {},
    )


@pytest.mark.parametrize(
    ("name", "manager", "field"),
    [(" ", "Mia", "name"), ("Payments", "", "manager")],
)
def test_form_refuses_blank_name_or_manager(name: str, manager: str, field: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        Team.form(name=name, manager=manager, actor="hr", occurred_on=FORMED_ON)
    assert refused.value.field == field


def test_form_refuses_a_future_date() -> None:
    with pytest.raises(InvalidCommand) as refused:
        Team.form(name="Payments", manager="Mia", actor="hr", occurred_on=FUTURE)
    assert refused.value.field == "occurred_on"


# --- members -------------------------------------------------------------------


def test_add_member_emits_member_joined_and_records_the_member() -> None:
    team = formed()
    member_id = team.add_member(name=" Ana ", role="dev", actor="mia", occurred_on=JOINED_ON)
    event = single_event(team, Team.MemberJoined)
    assert (event.member_id, event.name, event.role, event.actor, event.occurred_on) == (
        member_id,
        "Ana",
        "dev",
        "mia",
        JOINED_ON,
    )
    assert team.member(member_id) == Member(member_id, "Ana", "dev", JOINED_ON)
    assert team.member(member_id).is_current


def test_a_member_may_join_on_the_day_the_team_formed() -> None:
    team = formed()
    member_id = team.add_member(name="Ana", role=None, actor="mia", occurred_on=FORMED_ON)
    assert team.member(member_id).joined_on == FORMED_ON


@pytest.mark.parametrize(
    "occurred_on",
    [FORMED_ON - timedelta(days=1), FUTURE],
    ids=["before-formed", "future"],
)
def test_add_member_refuses_dates_outside_the_teams_life(occurred_on: date) -> None:
    team = formed()
    with pytest.raises(InvalidCommand) as refused:
        team.add_member(name="Ana", role=None, actor="mia", occurred_on=occurred_on)
    assert refused.value.field == "occurred_on"
    assert (team.collect_events(), team.members) == ([], {})


def test_add_member_refuses_a_blank_name() -> None:
    team = formed()
    with pytest.raises(InvalidCommand) as refused:
        team.add_member(name="  ", role=None, actor="mia", occurred_on=JOINED_ON)
    assert refused.value.field == "name"


def test_departure_emits_member_left_and_ends_membership() -> None:
    team = formed()
    member_id = with_member(team)
    team.record_departure(
        member_id=member_id,
        reason=DepartureReason.RESIGNED,
        note="new job",
        actor="mia",
        occurred_on=date(2024, 3, 1),
    )
    event = single_event(team, Team.MemberLeft)
    assert (event.member_id, event.reason, event.note, event.actor, event.occurred_on) == (
        member_id,
        "resigned",
        "new job",
        "mia",
        date(2024, 3, 1),
    )
    member = team.member(member_id)
    assert (member.left_on, member.left_reason, member.is_current) == (
        date(2024, 3, 1),
        DepartureReason.RESIGNED,
        False,
    )


def test_a_departed_member_cannot_leave_twice() -> None:
    team = formed()
    member_id = with_member(team)
    team.record_departure(
        member_id=member_id,
        reason=DepartureReason.MOVED_ON,
        note=None,
        actor="mia",
        occurred_on=date(2024, 3, 1),
    )
    team.collect_events()
    with pytest.raises(Conflict, match="already left on 2024-03-01"):
        team.record_departure(
            member_id=member_id,
            reason=DepartureReason.DISMISSED,
            note=None,
            actor="mia",
            occurred_on=date(2024, 4, 1),
        )
    assert team.collect_events() == []
    assert team.member(member_id).left_reason is DepartureReason.MOVED_ON


def test_departure_of_an_unknown_member_is_a_lookup_error() -> None:
    team = formed()
    with_member(team)
    with pytest.raises(LookupError, match="no member"):
        team.record_departure(
            member_id=uuid4(),
            reason=DepartureReason.RESIGNED,
            note=None,
            actor="mia",
            occurred_on=date(2024, 3, 1),
        )


def test_member_lookup_of_an_unknown_id_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="no member"):
        formed().member(uuid4())


def test_a_member_may_leave_on_the_day_they_joined() -> None:
    team = formed()
    member_id = with_member(team)
    team.record_departure(
        member_id=member_id,
        reason=DepartureReason.TRANSFERRED,
        note=None,
        actor="mia",
        occurred_on=JOINED_ON,
    )
    assert team.member(member_id).left_on == JOINED_ON


@pytest.mark.parametrize(
    "occurred_on",
    [JOINED_ON - timedelta(days=1), FUTURE],
    ids=["before-joined", "future"],
)
def test_departure_refuses_dates_outside_the_membership(occurred_on: date) -> None:
    team = formed()
    member_id = with_member(team)
    with pytest.raises(InvalidCommand) as refused:
        team.record_departure(
            member_id=member_id,
            reason=DepartureReason.RESIGNED,
            note=None,
            actor="mia",
            occurred_on=occurred_on,
        )
    assert refused.value.field == "occurred_on"
    assert team.member(member_id).is_current


# --- manager -------------------------------------------------------------------


def test_assign_manager_emits_manager_assigned() -> None:
    team = formed()
    team.assign_manager(manager=" Noor ", actor="hr", occurred_on=date(2024, 5, 1))
    event = single_event(team, Team.ManagerAssigned)
    assert (event.manager, event.actor, event.occurred_on) == ("Noor", "hr", date(2024, 5, 1))
    assert team.manager == "Noor"


@pytest.mark.parametrize("same", ["Mia", "  Mia "])
def test_reassigning_the_same_manager_is_refused(same: str) -> None:
    team = formed()
    with pytest.raises(InvalidCommand, match="already manages") as refused:
        team.assign_manager(manager=same, actor="hr", occurred_on=date(2024, 5, 1))
    assert refused.value.field == "manager"
    assert team.collect_events() == []


def test_assigning_a_blank_manager_is_refused() -> None:
    team = formed()
    with pytest.raises(InvalidCommand) as refused:
        team.assign_manager(manager=" ", actor="hr", occurred_on=date(2024, 5, 1))
    assert refused.value.field == "manager"


@pytest.mark.parametrize(
    "occurred_on",
    [FORMED_ON - timedelta(days=1), FUTURE],
    ids=["before-formed", "future"],
)
def test_assign_manager_refuses_dates_outside_the_teams_life(occurred_on: date) -> None:
    team = formed()
    with pytest.raises(InvalidCommand) as refused:
        team.assign_manager(manager="Noor", actor="hr", occurred_on=occurred_on)
    assert refused.value.field == "occurred_on"
    assert team.manager == "Mia"


# --- replay --------------------------------------------------------------------


def test_replaying_the_events_rebuilds_an_equal_team() -> None:
    team = Team.form(name="Payments", manager="Mia", actor="hr", occurred_on=FORMED_ON)
    ana = team.add_member(name="Ana", role="dev", actor="mia", occurred_on=JOINED_ON)
    team.add_member(name="Ben", role=None, actor="mia", occurred_on=JOINED_ON)
    team.assign_manager(manager="Noor", actor="hr", occurred_on=date(2024, 2, 15))
    team.record_departure(
        member_id=ana,
        reason=DepartureReason.DISMISSED,
        note="n",
        actor="noor",
        occurred_on=date(2024, 3, 1),
    )
    events = team.collect_events()
    assert len(events) == 5
    rebuilt = rebuild(events)
    assert rebuilt == team
    assert rebuilt.version == 5
    assert rebuilt.member(ana).left_reason is DepartureReason.DISMISSED


def test_an_unknown_departure_reason_is_named() -> None:
    team = formed()
    member_id = with_member(team)
    with pytest.raises(InvalidCommand) as caught:
        team.record_departure(
            member_id=member_id,
            reason="fired",  # type: ignore[arg-type]
            note=None,
            actor="hr",
            occurred_on=JOINED_ON,
        )
    assert caught.value.field == "reason"
    assert team.members[member_id].is_current


# --- minimum group ---------------------------------------------------------------

# Imported here so that this section only appends to the file.
from domain.team import MIN_GROUP_FLOOR  # noqa: E402


def test_the_min_group_floor_is_three() -> None:
    assert MIN_GROUP_FLOOR == 3


def test_a_new_team_has_no_min_group_of_its_own() -> None:
    assert formed().min_group is None


@pytest.mark.parametrize("min_group", [MIN_GROUP_FLOOR, 4, 12])
def test_set_min_group_emits_minimum_group_set(min_group: int) -> None:
    team = formed()
    team.set_min_group(min_group=min_group, actor="mia", occurred_on=date(2024, 5, 1))
    event = single_event(team, Team.MinimumGroupSet)
    assert (event.min_group, event.actor, event.occurred_on) == (
        min_group,
        "mia",
        date(2024, 5, 1),
    )
    assert team.min_group == min_group


@pytest.mark.parametrize("min_group", [MIN_GROUP_FLOOR - 1, 1, 0, -3])
def test_a_min_group_below_the_floor_is_refused(min_group: int) -> None:
    team = formed()
    with pytest.raises(InvalidCommand, match="at least 3") as refused:
        team.set_min_group(min_group=min_group, actor="mia", occurred_on=date(2024, 5, 1))
    assert refused.value.field == "min_group"
    assert (team.collect_events(), team.min_group) == ([], None)


def test_setting_the_same_min_group_again_is_refused() -> None:
    team = formed()
    team.set_min_group(min_group=4, actor="mia", occurred_on=date(2024, 5, 1))
    team.collect_events()
    with pytest.raises(InvalidCommand, match="already 4") as refused:
        team.set_min_group(min_group=4, actor="mia", occurred_on=date(2024, 5, 2))
    assert refused.value.field == "min_group"
    assert team.collect_events() == []
    team.set_min_group(min_group=3, actor="mia", occurred_on=date(2024, 5, 2))
    assert single_event(team, Team.MinimumGroupSet).min_group == 3
    assert team.min_group == 3


@pytest.mark.parametrize(
    "occurred_on",
    [FORMED_ON - timedelta(days=1), FUTURE],
    ids=["before-formed", "future"],
)
def test_set_min_group_refuses_dates_outside_the_teams_life(occurred_on: date) -> None:
    team = formed()
    with pytest.raises(InvalidCommand) as refused:
        team.set_min_group(min_group=5, actor="mia", occurred_on=occurred_on)
    assert refused.value.field == "occurred_on"
    assert (team.collect_events(), team.min_group) == ([], None)


def test_a_min_group_may_be_set_the_day_the_team_formed() -> None:
    team = formed()
    team.set_min_group(min_group=5, actor="mia", occurred_on=FORMED_ON)
    assert team.min_group == 5


def test_replaying_a_min_group_rebuilds_it() -> None:
    team = Team.form(name="Payments", manager="Mia", actor="hr", occurred_on=FORMED_ON)
    team.set_min_group(min_group=6, actor="mia", occurred_on=JOINED_ON)
    team.set_min_group(min_group=4, actor="mia", occurred_on=JOINED_ON)
    rebuilt = rebuild(team.collect_events())
    assert rebuilt == team
    assert (rebuilt.min_group, rebuilt.version) == (4, 3)


# --- was_on_team -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "on_team"),
    [
        (date(2024, 1, 31), False),  # the day before joining
        (JOINED_ON, True),  # the day they joined
        (date(2024, 2, 15), True),
        (date(2024, 3, 1), True),  # the day they left
        (date(2024, 3, 2), False),  # the day after
    ],
)
def test_a_member_who_left_was_on_the_team_from_joining_to_leaving(
    day: date, on_team: bool
) -> None:
    member = Member(uuid4(), "Ana", None, JOINED_ON, date(2024, 3, 1), DepartureReason.MOVED_ON)
    assert member.was_on_team(day) is on_team


@pytest.mark.parametrize(
    ("day", "on_team"),
    [(date(2024, 1, 31), False), (JOINED_ON, True), (date(2099, 1, 1), True)],
)
def test_a_current_member_is_on_the_team_from_joining_on(day: date, on_team: bool) -> None:
    member = Member(uuid4(), "Ana", None, JOINED_ON)
    assert member.was_on_team(day) is on_team


def test_a_member_who_left_the_day_they_joined_was_on_the_team_that_day_only() -> None:
    team = formed()
    member_id = with_member(team)
    team.record_departure(
        member_id=member_id,
        reason=DepartureReason.MOVED_ON,
        note=None,
        actor="mia",
        occurred_on=JOINED_ON,
    )
    member = team.member(member_id)
    assert [member.was_on_team(JOINED_ON + timedelta(days=n)) for n in (-1, 0, 1)] == [
        False,
        True,
        False,
    ]
