"""The Keel application: the service layer. Commands load aggregates, call the domain
and save the new events atomically; eventsourcing gives optimistic concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, Transcoding
from eventsourcing.sqlite import SQLiteApplicationRecorder

from domain.errors import InvalidCommand
from domain.goal import ConcernKind, Goal
from domain.journal import CheckIn, Entry, Journal
from domain.recognition import Recognition
from domain.team import DepartureReason, Team
from services.errors import NotFound, VersionMismatch
from services.group_commit import Batch, GroupCommit
from services.personal_data import KeyVault, PersonalDataMapper

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
        # The vault lives beside the events, so it needs the recorder's datastore.
        datastore: Any = getattr(self.recorder, "datastore")  # noqa: B009
        placeholder = "?" if isinstance(self.recorder, SQLiteApplicationRecorder) else "%s"
        self.vault = KeyVault(datastore, placeholder)
        self.personal_mapper.vault = self.vault
        # The HTTP write path's commands go through one writer that commits them in
        # groups (services/group_commit.py); other callers save as they go.
        self.writer = GroupCommit(self)
        self._batches = threading.local()

    def close(self) -> None:
        self.writer.close()
        super().close()

    @contextmanager
    def deferring(self, batch: Batch) -> Iterator[None]:
        """Within this block, this thread's commands add what they record to `batch`
        instead of saving it: the group-commit writer saves the batch at once."""
        self._batches.current = batch
        try:
            yield
        finally:
            self._batches.current = None

    def construct_mapper(self) -> Mapper[UUID]:
        self.personal_mapper = PersonalDataMapper(self.construct_transcoder())
        return self.personal_mapper

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # --- reading aggregates ---------------------------------------------------------

    def team(self, team_id: UUID) -> Team:
        return self._load(Team, "team", team_id)

    def goal(self, goal_id: UUID) -> Goal:
        return self._load(Goal, "goal", goal_id)

    def read_team(self, team_id: UUID) -> Team:
        """The team, to read and not to change: the cached instance, not a copy."""
        return self._load(Team, "team", team_id, copy=False)

    def journal(self, member_id: UUID) -> Journal:
        return self._load(Journal, "member", Journal.id_for(member_id))

    def head(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def _load(self, cls: type[A], kind: str, id_: UUID, *, copy: bool = True) -> A:
        """The aggregate as stored. `copy=False` hands out the cached instance itself,
        which saves copying it but must only be read, never changed."""
        batch: Batch | None = getattr(self._batches, "current", None)
        freshness = batch.freshness if batch is not None else None
        aggregate = freshness.cached(id_, copy_it=copy) if freshness is not None else None
        if aggregate is None:
            try:
                aggregate = self.repository.get(id_, deepcopy_from_cache=copy)
            except AggregateNotFoundError:
                raise NotFound(kind, id_) from None
            if freshness is not None:
                freshness.current(aggregate)
        if not isinstance(aggregate, cls):
            raise NotFound(kind, id_)
        return aggregate

    def _commit(self, aggregate: Aggregate, id_: UUID | None = None, *also: Aggregate) -> Recorded:
        """Save `aggregate` (and `also`, in the same transaction)."""
        batch: Batch | None = getattr(self._batches, "current", None)
        if batch is not None:
            # Saved with the rest of the batch, which fills in the position.
            recorded = Recorded(id_ or aggregate.id, aggregate.version, 0)
            return batch.defer(recorded, (aggregate, *also))
        loaded_version = aggregate.version - len(aggregate.pending_events)
        try:
            recordings = self.save(aggregate, *also)
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
        """A member joins, and their journal opens in the same transaction: every
        member has exactly one journal, found from the member id alone."""
        team = self.team(team_id)
        self._check_version(team, expected_version)
        member_id = team.add_member(name=name, role=role, actor=actor, occurred_on=occurred_on)
        journal = Journal.open(
            member_id=member_id, team_id=team.id, actor=actor, occurred_on=occurred_on
        )
        return self._commit(team, member_id, journal)

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
        expected_version: int | None = None,
    ) -> Recorded:
        team = self.team(team_id)
        self._check_version(team, expected_version)
        if occurred_on < team.formed_on:
            raise InvalidCommand(
                "occurred_on", f"{occurred_on} is before the team was formed ({team.formed_on})"
            )
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

    def change_target(
        self,
        goal_id: UUID,
        expected_version: int | None,
        *,
        target: float,
        reason: str,
        actor: str,
        occurred_on: date,
    ) -> Recorded:
        """The busiest goal command, by name, so that it can be sent to the writer
        process (services/writer_process.py)."""
        return self.change_goal(
            goal_id,
            expected_version,
            lambda g: g.change_target(
                target=target, reason=reason, actor=actor, occurred_on=occurred_on
            ),
        )

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

    # --- inner work life ----------------------------------------------------------------

    def set_min_group(
        self,
        team_id: UUID,
        *,
        min_group: int,
        actor: str,
        occurred_on: date,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._apply(
            self.team(team_id),
            expected_version,
            lambda t: t.set_min_group(min_group=min_group, actor=actor, occurred_on=occurred_on),
        )

    def tune_alert_rule(
        self,
        team_id: UUID,
        *,
        rule: str,
        parameters: dict[str, float],
        actor: str,
        occurred_on: date,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._apply(
            self.team(team_id),
            expected_version,
            lambda t: t.tune_alert_rule(
                rule=rule, parameters=parameters, actor=actor, occurred_on=occurred_on
            ),
        )

    def check_in(
        self, team_id: UUID, member_id: UUID, report: CheckIn, *, actor: str
    ) -> tuple[Recorded, Entry]:
        """Only a member of this team checks in, and only for a day they were on it."""
        team = self._load(Team, "team", team_id, copy=False)
        member = team.members.get(member_id)
        if member is None:
            raise InvalidCommand("member_id", f"{member_id} is not a member of team {team_id}")
        if not member.was_on_team(report.day):
            raise InvalidCommand("day", f"{member.name} was not on the team on {report.day}")
        journal = self.journal(member_id)
        entry = journal.check_in(report, actor=actor)
        return self._commit(journal, journal.id), entry

    def correct_check_in(
        self, member_id: UUID, report: CheckIn, *, actor: str
    ) -> tuple[Recorded, Entry]:
        journal = self.journal(member_id)
        entry = journal.correct(report, actor=actor)
        return self._commit(journal, journal.id), entry

    def clear_blocker(
        self, member_id: UUID, blocker_id: UUID, *, note: str | None, actor: str, occurred_on: date
    ) -> Recorded:
        journal = self.journal(member_id)
        if blocker_id not in journal.blockers:
            raise NotFound("blocker", blocker_id)
        journal.clear_blocker(
            blocker_id=blocker_id, note=note, actor=actor, occurred_on=occurred_on
        )
        return self._commit(journal, blocker_id)

    def define_success(
        self, member_id: UUID, *, text: str, actor: str, occurred_on: date
    ) -> Recorded:
        journal = self.journal(member_id)
        journal.define_success(text=text, actor=actor, occurred_on=occurred_on)
        return self._commit(journal, member_id)

    def recognise(
        self,
        *,
        from_member_id: UUID,
        to_member_id: UUID,
        win_id: UUID | None,
        message: str,
        actor: str,
        occurred_on: date,
    ) -> Recorded:
        """Recognition between members of one team. It counts as the manager's when the
        giver is the team's manager (by name) or has the role "manager"."""
        recipient = self.journal(to_member_id)
        team = self._load(Team, "team", recipient.team_id, copy=False)
        giver = team.members.get(from_member_id)
        if giver is None:
            raise InvalidCommand(
                "from_member_id", f"{from_member_id} is not a member of the recipient's team"
            )
        if not giver.was_on_team(occurred_on):
            raise InvalidCommand("from_member_id", f"{giver.name} is not on the team")
        if win_id is not None and win_id not in recipient.win_ids():
            raise InvalidCommand("win_id", f"{win_id} is not a win of member {to_member_id}")
        from_manager = giver.name == team.manager or (giver.role or "").lower() == "manager"
        recognition = Recognition.give(
            team_id=team.id,
            from_member_id=from_member_id,
            to_member_id=to_member_id,
            win_id=win_id,
            from_manager=from_manager,
            message=message,
            actor=actor,
            occurred_on=occurred_on,
        )
        return self._commit(recognition)

    def erase_member(self, member_id: UUID, *, actor: str, occurred_on: date) -> Recorded:
        """Crypto-shredding: delete the member's key, then record that it happened.
        Everything they wrote reads as "[erased]" from then on; no event changes."""
        journal = self.journal(member_id)
        team = self.team(journal.team_id)
        team.record_erasure(member_id=member_id, actor=actor, occurred_on=occurred_on)
        journal.record_erasure(actor=actor, occurred_on=occurred_on)
        self.vault.forget(journal.id)
        return self._commit(team, member_id, journal)


__all__ = ["CheckIn", "ConcernKind", "DepartureReason", "Keel", "Recorded"]
