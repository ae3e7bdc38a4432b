"""The Team aggregate: who is on it and who manages it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.calendar import BusinessEvent, check_occurred_on, check_reason, parse_choice
from domain.errors import Conflict, InvalidCommand


class DepartureReason(StrEnum):
    MOVED_ON = "moved_on"
    RESIGNED = "resigned"
    DISMISSED = "dismissed"
    TRANSFERRED = "transferred"


@dataclass
class Member:
    id: UUID
    name: str
    role: str | None
    joined_on: date
    left_on: date | None = None
    left_reason: DepartureReason | None = None

    @property
    def is_current(self) -> bool:
        return self.left_on is None


class Team(Aggregate):
    class TeamFormed(Aggregate.Created):
        name: str
        manager: str
        actor: str
        occurred_on: date

    class MemberJoined(BusinessEvent):
        member_id: UUID
        name: str
        role: str | None

    class MemberLeft(BusinessEvent):
        member_id: UUID
        reason: str
        note: str | None

    class ManagerAssigned(BusinessEvent):
        manager: str

    @classmethod
    def form(cls, *, name: str, manager: str, actor: str, occurred_on: date) -> Team:
        check_occurred_on(occurred_on)
        name = check_reason(name, "name")
        manager = check_reason(manager, "manager")
        team: Team = cls(name=name, manager=manager, actor=actor, occurred_on=occurred_on)
        return team

    @event(TeamFormed)
    def __init__(self, *, name: str, manager: str, actor: str, occurred_on: date) -> None:
        self.name = name
        self.manager = manager
        self.formed_on = occurred_on
        self.members: dict[UUID, Member] = {}

    def member(self, member_id: UUID) -> Member:
        try:
            return self.members[member_id]
        except KeyError:
            raise LookupError(f"no member {member_id} on team {self.id}") from None

    def add_member(self, *, name: str, role: str | None, actor: str, occurred_on: date) -> UUID:
        check_occurred_on(occurred_on, not_before=self.formed_on)
        member_id = uuid4()
        self._member_joined(
            member_id=member_id,
            name=check_reason(name, "name"),
            role=role,
            actor=actor,
            occurred_on=occurred_on,
        )
        return member_id

    @event(MemberJoined)
    def _member_joined(
        self, *, member_id: UUID, name: str, role: str | None, actor: str, occurred_on: date
    ) -> None:
        self.members[member_id] = Member(member_id, name, role, occurred_on)

    def record_departure(
        self,
        *,
        member_id: UUID,
        reason: DepartureReason,
        note: str | None,
        actor: str,
        occurred_on: date,
    ) -> None:
        member = self.member(member_id)
        if not member.is_current:
            raise Conflict(f"member {member_id} already left on {member.left_on}")
        check_occurred_on(occurred_on, not_before=member.joined_on)
        self._member_left(
            member_id=member_id,
            reason=parse_choice(DepartureReason, reason, "reason").value,
            note=note,
            actor=actor,
            occurred_on=occurred_on,
        )

    @event(MemberLeft)
    def _member_left(
        self, *, member_id: UUID, reason: str, note: str | None, actor: str, occurred_on: date
    ) -> None:
        member = self.members[member_id]
        member.left_on = occurred_on
        member.left_reason = DepartureReason(reason)

    def assign_manager(self, *, manager: str, actor: str, occurred_on: date) -> None:
        manager = check_reason(manager, "manager")
        if manager == self.manager:
            raise InvalidCommand("manager", f"{manager!r} already manages this team")
        check_occurred_on(occurred_on, not_before=self.formed_on)
        self._manager_assigned(manager=manager, actor=actor, occurred_on=occurred_on)

    @event(ManagerAssigned)
    def _manager_assigned(self, *, manager: str, actor: str, occurred_on: date) -> None:
        self.manager = manager
