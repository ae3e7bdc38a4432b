"""The Recognition aggregate: someone noticed someone's work, and said so."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.calendar import check_occurred_on, check_reason
from domain.errors import InvalidCommand


class Recognition(Aggregate):
    class RecognitionGiven(Aggregate.Created):
        """Version 2 added `win_id`: a recognition may name the win it celebrates, so
        the recognition view can list the wins nobody noticed. A version 1 recognition
        was of the person, never of a win, so it reads as `win_id=None`."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # setdefault: events saved before class_version existed already hold win_id.
            state.setdefault("win_id", None)

        team_id: UUID
        from_member_id: UUID
        to_member_id: UUID
        win_id: UUID | None
        from_manager: bool
        message: str
        actor: str
        occurred_on: date

    @classmethod
    def give(
        cls,
        *,
        team_id: UUID,
        from_member_id: UUID,
        to_member_id: UUID,
        win_id: UUID | None,
        from_manager: bool,
        message: str,
        actor: str,
        occurred_on: date,
    ) -> Recognition:
        if from_member_id == to_member_id:
            raise InvalidCommand("to_member_id", "you cannot recognise yourself")
        check_occurred_on(occurred_on)
        recognition: Recognition = cls(
            team_id=team_id,
            from_member_id=from_member_id,
            to_member_id=to_member_id,
            win_id=win_id,
            from_manager=from_manager,
            message=check_reason(message, "message"),
            actor=actor,
            occurred_on=occurred_on,
        )
        return recognition

    @event(RecognitionGiven)
    def __init__(
        self,
        *,
        team_id: UUID,
        from_member_id: UUID,
        to_member_id: UUID,
        win_id: UUID | None,
        from_manager: bool,
        message: str,
        actor: str,
        occurred_on: date,
    ) -> None:
        self.team_id = team_id
        self.from_member_id = from_member_id
        self.to_member_id = to_member_id
        self.win_id = win_id
        self.from_manager = from_manager
        self.message = message
        self.given_on = occurred_on
