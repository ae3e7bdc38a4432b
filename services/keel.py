"""The Keel application: the service layer. Commands load aggregates, call the domain
and save the new events atomically; eventsourcing gives optimistic concurrency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from domain.goal import ConcernKind, Goal
from domain.team import DepartureReason, Team
from services.errors import NotFound, VersionMismatch

A = TypeVar("A", bound=Aggregate)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class Recorded:
    """What a command answers: the resource, its new version and its log position."""

    id: UUID
    version: int
    position: int


class Keel(Application[UUID]):
    # One application, so teams, goals and (later) journals share one total order:
    # projections then see a member join before that member's first check-in.
    name = "Keel"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_recorded: list[Callable[[int], None]] = []

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # --- reading aggregates ---------------------------------------------------------

    def team(self, team_id: UUID) -> Team:
        return self._load(Team, "team", team_id)

    def goal(self, goal_id: UUID) -> Goal:
        return self._load(Goal, "goal", goal_id)

    def head(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def _load(self, cls: type[A], kind: str, id_: UUID) -> A:
        try:
            aggregate: Aggregate = self.repository.get(id_)
        except AggregateNotFoundError:
            raise NotFound(kind, id_) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, id_)
        return aggregate

    def _commit(self, aggregate: Aggregate, id_: UUID | None = None) -> Recorded:
        loaded_version = aggregate.version - len(aggregate.pending_events)
        try:
            recordings = self.save(aggregate)
        except IntegrityError:
            # Someone saved this aggregate between our read and our write.
            raise VersionMismatch(loaded_version, None) from None
        position = recordings[-1].notification.id
        for listener in self.on_recorded:
            listener(position)
        return Recorded(id_ or aggregate.id, aggregate.version, position)

    @staticmethod
    def _check_version(aggregate: Aggregate, expected: int | None) -> None:
        if expected is not None and expected != aggregate.version:
            raise VersionMismatch(expected, aggregate.version)

    def _apply(
        self,
        aggregate: A,
        expected_version: int | None,
        command: Callable[[A], Any],
    ) -> Recorded:
        self._check_version(aggregate, expected_version)
        result = command(aggregate)
        return self._commit(aggregate, result if isinstance(result, UUID) else None)

    # --- teams --------------------------------------------------------------------

    def form_team(self, *, name: str, manager: str, actor: str, occurred_on: date) -> Recorded:
        return self._commit(
            Team.form(name=name, manager=manager, actor=actor, occurred_on=occurred_on)
        )

    def add_member(
        self,
        team_id: UUID,
        *,
        name: str,
        role: str | None,
        actor: str,
        occurred_on: date,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._apply(
            self.team(team_id),
            expected_version,
            lambda t: t.add_member(name=name, role=role, actor=actor, occurred_on=occurred_on),
        )

    def record_departure(
        self,
        team_id: UUID,
        member_id: UUID,
        *,
        reason: DepartureReason,
        note: str | None,
        actor: str,
        occurred_on: date,
        expected_version: int | None = None,
    ) -> Recorded:
        team = self.team(team_id)
        if member_id not in team.members:
            raise NotFound("member", member_id)
        self._check_version(team, expected_version)
        team.record_departure(
            member_id=member_id, reason=reason, note=note, actor=actor, occurred_on=occurred_on
        )
        return self._commit(team, member_id)

    # --- goals --------------------------------------------------------------------

    def set_goal(
        self,
        team_id: UUID,
        *,
        title: str,
        metric: str,
        target: float,
        unit: str,
        due: date,
        why: str | None,
        actor: str,
        occurred_on: date,
    ) -> Recorded:
        team = self.team(team_id)
        goal = Goal.set(
            team_id=team.id,
            title=title,
            metric=metric,
            target=target,
            unit=unit,
            due=due,
            why=why,
            actor=actor,
            occurred_on=occurred_on,
        )
        return self._commit(goal)

    def change_goal(
        self, goal_id: UUID, expected_version: int | None, command: Callable[[Goal], Any]
    ) -> Recorded:
        """Apply one domain command to a goal: the HTTP layer names which."""
        return self._apply(self.goal(goal_id), expected_version, command)

    def answer_concern(
        self,
        goal_id: UUID,
        concern_id: UUID,
        *,
        text: str,
        actor: str,
        occurred_on: date,
        expected_version: int | None = None,
    ) -> Recorded:
        goal = self.goal(goal_id)
        if concern_id not in goal.concerns:
            raise NotFound("concern", concern_id)
        self._check_version(goal, expected_version)
        goal.answer_concern(concern_id=concern_id, text=text, actor=actor, occurred_on=occurred_on)
        return self._commit(goal, concern_id)


__all__ = ["ConcernKind", "DepartureReason", "Keel", "Recorded"]
