"""Team directory: the teams and their members, for listing and for joins."""

from __future__ import annotations

from functools import singledispatchmethod

from domain.team import Team
from projections.rows import Patch, Put, RowOp, Table

TEAMS = Table(
    name="teams",
    columns=("team_id", "name", "manager", "formed_on", "position"),
    key=("team_id",),
    types={"position": "BIGINT"},
)
MEMBERS = Table(
    name="members",
    # No name: it is personal, sealed in the log, and read from the Team aggregate.
    columns=("member_id", "team_id", "role", "joined_on", "left_on", "left_reason"),
    key=("member_id",),
    indexes=(("team_id",),),
)


class TeamDirectory:
    name = "team_directory"
    tables: tuple[Table, ...] = (TEAMS, MEMBERS)

    @singledispatchmethod
    def fold(self, event: object, position: int) -> list[RowOp]:
        return []

    @fold.register
    def _(self, event: Team.TeamFormed, position: int) -> list[RowOp]:
        return [
            Put(
                TEAMS,
                {
                    "team_id": str(event.originator_id),
                    "name": event.name,
                    "manager": event.manager,
                    "formed_on": event.occurred_on.isoformat(),
                    "position": position,
                },
            )
        ]

    @fold.register
    def _(self, event: Team.ManagerAssigned, position: int) -> list[RowOp]:
        return [Patch(TEAMS, (str(event.originator_id),), {"manager": event.manager})]

    @fold.register
    def _(self, event: Team.MemberJoined, position: int) -> list[RowOp]:
        return [
            Put(
                MEMBERS,
                {
                    "member_id": str(event.member_id),
                    "team_id": str(event.originator_id),
                    "role": event.role,
                    "joined_on": event.occurred_on.isoformat(),
                    "left_on": None,
                    "left_reason": None,
                },
            )
        ]

    @fold.register
    def _(self, event: Team.MemberLeft, position: int) -> list[RowOp]:
        return [
            Patch(
                MEMBERS,
                (str(event.member_id),),
                {"left_on": event.occurred_on.isoformat(), "left_reason": event.reason},
            )
        ]
