"""The Team aggregate: who is on it and who manages it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.alert import check_parameters, parse_rule
from domain.calendar import BusinessEvent, check_occurred_on, check_reason, parse_choice
from domain.errors import Conflict, InvalidCommand

# A mood figure over fewer people than this could single someone out.
MIN_GROUP_FLOOR = 3


class DepartureReason(StrEnum):
    MOVED_ON = "moved_on"
    RESIGNED = "resigned"
    DISMISSED = "dismissed"
    TRANSFERRED = "transferred"


# What an erased person's personal fields read as, once their key is gone.
ERASED = "[erased]"


@dataclass
class Member:
    id: UUID
    name: str
    role: str | None
    joined_on: date
    left_on: date | None = None
    left_reason: DepartureReason | None = None
    erased: bool = False

    @property
    def is_current(self) -> bool:
        return self.left_on is None

    def was_on_team(self, day: date) -> bool:
        """On the team that day: from the day they joined to the day they left."""
        return self.joined_on <= day and (self.left_on is None or day <= self.left_on)


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

    class MinimumGroupSet(BusinessEvent):
        min_group: int

    class AlertRuleTuned(BusinessEvent):
        """This team's own parameters for one alert rule (see domain/alert.py)."""

        rule: str
        parameters: dict[str, float]

    class PersonalDataErased(BusinessEvent):
        """The member's key was deleted: what they wrote can no longer be read."""

        member_id: UUID

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
        # None: the installation's default applies (the `min_group` setting).
        self.min_group: int | None = None
        # rule -> parameter -> value; what is not here comes from the settings.
        self.alert_rules: dict[str, dict[str, float]] = {}

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

    def set_min_group(self, *, min_group: int, actor: str, occurred_on: date) -> None:
        """The smallest group whose aggregated mood may be shown for this team."""
        if min_group < MIN_GROUP_FLOOR:
            raise InvalidCommand(
                "min_group", f"must be at least {MIN_GROUP_FLOOR}, so no one can be singled out"
            )
        if min_group == self.min_group:
            raise InvalidCommand("min_group", f"the minimum group is already {min_group}")
        check_occurred_on(occurred_on, not_before=self.formed_on)
        self._minimum_group_set(min_group=min_group, actor=actor, occurred_on=occurred_on)

    @event(MinimumGroupSet)
    def _minimum_group_set(self, *, min_group: int, actor: str, occurred_on: date) -> None:
        self.min_group = min_group

    def tune_alert_rule(
        self, *, rule: str, parameters: dict[str, float], actor: str, occurred_on: date
    ) -> None:
        """Replace this team's overrides of one rule's parameters ({} restores the
        installation's defaults)."""
        checked_rule = parse_rule(rule)
        checked = check_parameters(checked_rule, parameters)
        check_occurred_on(occurred_on, not_before=self.formed_on)
        if checked == self.alert_rules.get(checked_rule.value, {}):
            raise InvalidCommand("parameters", f"{rule} already has these parameters")
        self._alert_rule_tuned(
            rule=checked_rule.value, parameters=checked, actor=actor, occurred_on=occurred_on
        )

    @event(AlertRuleTuned)
    def _alert_rule_tuned(
        self, *, rule: str, parameters: dict[str, float], actor: str, occurred_on: date
    ) -> None:
        if parameters:
            self.alert_rules[rule] = dict(parameters)
        else:
            self.alert_rules.pop(rule, None)

    def record_erasure(self, *, member_id: UUID, actor: str, occurred_on: date) -> None:
        member = self.member(member_id)
        if member.erased:
            raise Conflict(f"member {member_id}'s personal data was already erased")
        self._personal_data_erased(member_id=member_id, actor=actor, occurred_on=occurred_on)

    @event(PersonalDataErased)
    def _personal_data_erased(self, *, member_id: UUID, actor: str, occurred_on: date) -> None:
        member = self.members[member_id]
        member.name = ERASED
        member.erased = True
