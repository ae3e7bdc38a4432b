"""The Goal aggregate: a target a team is asked to reach, and every change to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.calendar import (
    BusinessEvent,
    check_finite,
    check_occurred_on,
    check_reason,
    parse_choice,
)
from domain.errors import Conflict, InvalidCommand


class GoalState(StrEnum):
    ACTIVE = "active"
    ACHIEVED = "achieved"
    ABANDONED = "abandoned"


class ConcernKind(StrEnum):
    UNATTAINABLE = "unattainable"
    UNCLEAR = "unclear"
    UNDER_RESOURCED = "under_resourced"
    CONFLICTING = "conflicting"


@dataclass
class Concern:
    id: UUID
    kind: ConcernKind
    text: str
    raised_by: str
    raised_on: date
    answer: str | None = None
    answered_by: str | None = None


class Goal(Aggregate):
    class GoalSet(Aggregate.Created):
        team_id: UUID
        title: str
        metric: str
        target: float
        unit: str
        due: date
        why: str | None
        actor: str
        occurred_on: date

    class TargetChanged(BusinessEvent):
        old: float
        new: float
        reason: str

    class DueDateChanged(BusinessEvent):
        old: date
        new: date
        reason: str

    class GoalRedefined(BusinessEvent):
        old_title: str
        new_title: str
        old_metric: str
        new_metric: str
        reason: str

    class ProgressRecorded(BusinessEvent):
        value: float
        note: str | None

    class ConcernRaised(BusinessEvent):
        concern_id: UUID
        kind: str
        text: str

    class ConcernAnswered(BusinessEvent):
        concern_id: UUID
        text: str

    class GoalAchieved(BusinessEvent):
        reason: str | None

    class GoalAbandoned(BusinessEvent):
        reason: str | None

    @classmethod
    def set(
        cls,
        *,
        team_id: UUID,
        title: str,
        metric: str,
        target: float,
        unit: str,
        due: date,
        why: str | None,
        actor: str,
        occurred_on: date,
    ) -> Goal:
        check_occurred_on(occurred_on)
        check_finite(target)
        if due < occurred_on:
            raise InvalidCommand("due", f"{due} is before the goal was set ({occurred_on})")
        goal: Goal = cls(
            team_id=team_id,
            title=check_reason(title, "title"),
            metric=check_reason(metric, "metric"),
            target=target,
            unit=unit.strip(),
            due=due,
            why=why,
            actor=actor,
            occurred_on=occurred_on,
        )
        return goal

    @event(GoalSet)
    def __init__(
        self,
        *,
        team_id: UUID,
        title: str,
        metric: str,
        target: float,
        unit: str,
        due: date,
        why: str | None,
        actor: str,
        occurred_on: date,
    ) -> None:
        self.team_id = team_id
        self.title = title
        self.metric = metric
        self.target = target
        self.unit = unit
        self.due = due
        self.why = why
        self.set_by = actor
        self.set_on = occurred_on
        self.state = GoalState.ACTIVE
        self.progress: float | None = None
        self.progress_on: date | None = None
        self.concerns: dict[UUID, Concern] = {}

    # --- invariants -------------------------------------------------------------

    def check_still_open(self) -> None:
        if self.state is not GoalState.ACTIVE:
            raise Conflict(f"goal {self.id} is {self.state.value} and can no longer change")

    def check_change(self, reason: str, occurred_on: date) -> str:
        self.check_still_open()
        check_occurred_on(occurred_on, not_before=self.set_on)
        return check_reason(reason)

    # --- changes to what is asked ----------------------------------------------

    def change_target(self, *, target: float, reason: str, actor: str, occurred_on: date) -> None:
        reason = self.check_change(reason, occurred_on)
        check_finite(target)
        if target == self.target:
            raise InvalidCommand("target", f"the target is already {target}")
        self._target_changed(
            old=self.target, new=target, reason=reason, actor=actor, occurred_on=occurred_on
        )

    @event(TargetChanged)
    def _target_changed(
        self, *, old: float, new: float, reason: str, actor: str, occurred_on: date
    ) -> None:
        self.target = new

    def change_due_date(self, *, due: date, reason: str, actor: str, occurred_on: date) -> None:
        reason = self.check_change(reason, occurred_on)
        if due == self.due:
            raise InvalidCommand("due", f"the goal is already due on {due}")
        if due < self.set_on:
            raise InvalidCommand("due", f"{due} is before the goal was set ({self.set_on})")
        self._due_date_changed(
            old=self.due, new=due, reason=reason, actor=actor, occurred_on=occurred_on
        )

    @event(DueDateChanged)
    def _due_date_changed(
        self, *, old: date, new: date, reason: str, actor: str, occurred_on: date
    ) -> None:
        self.due = new

    def redefine(
        self,
        *,
        title: str | None,
        metric: str | None,
        reason: str,
        actor: str,
        occurred_on: date,
    ) -> None:
        reason = self.check_change(reason, occurred_on)
        new_title = check_reason(title, "title") if title is not None else self.title
        new_metric = check_reason(metric, "metric") if metric is not None else self.metric
        if (new_title, new_metric) == (self.title, self.metric):
            field = "title" if title is not None or metric is None else "metric"
            raise InvalidCommand(field, "a redefinition must change the title or the metric")
        self._redefined(
            old_title=self.title,
            new_title=new_title,
            old_metric=self.metric,
            new_metric=new_metric,
            reason=reason,
            actor=actor,
            occurred_on=occurred_on,
        )

    @event(GoalRedefined)
    def _redefined(
        self,
        *,
        old_title: str,
        new_title: str,
        old_metric: str,
        new_metric: str,
        reason: str,
        actor: str,
        occurred_on: date,
    ) -> None:
        self.title = new_title
        self.metric = new_metric

    # --- progress and concerns ---------------------------------------------------

    def record_progress(
        self, *, value: float, note: str | None, actor: str, occurred_on: date
    ) -> None:
        self.check_still_open()
        check_occurred_on(occurred_on, not_before=self.set_on)
        check_finite(value, "value")
        self._progress_recorded(value=value, note=note, actor=actor, occurred_on=occurred_on)

    @event(ProgressRecorded)
    def _progress_recorded(
        self, *, value: float, note: str | None, actor: str, occurred_on: date
    ) -> None:
        self.progress = value
        self.progress_on = occurred_on

    def raise_concern(self, *, kind: ConcernKind, text: str, actor: str, occurred_on: date) -> UUID:
        self.check_still_open()
        check_occurred_on(occurred_on, not_before=self.set_on)
        concern_id = uuid4()
        self._concern_raised(
            concern_id=concern_id,
            kind=parse_choice(ConcernKind, kind, "kind").value,
            text=check_reason(text, "text"),
            actor=actor,
            occurred_on=occurred_on,
        )
        return concern_id

    @event(ConcernRaised)
    def _concern_raised(
        self, *, concern_id: UUID, kind: str, text: str, actor: str, occurred_on: date
    ) -> None:
        self.concerns[concern_id] = Concern(
            concern_id, ConcernKind(kind), text, raised_by=actor, raised_on=occurred_on
        )

    def answer_concern(self, *, concern_id: UUID, text: str, actor: str, occurred_on: date) -> None:
        self.check_still_open()
        concern = self.concerns.get(concern_id)
        if concern is None:
            raise LookupError(f"no concern {concern_id} on goal {self.id}")
        if concern.answer is not None:
            raise Conflict(f"concern {concern_id} was already answered")
        check_occurred_on(occurred_on, not_before=concern.raised_on)
        self._concern_answered(
            concern_id=concern_id,
            text=check_reason(text, "text"),
            actor=actor,
            occurred_on=occurred_on,
        )

    @event(ConcernAnswered)
    def _concern_answered(
        self, *, concern_id: UUID, text: str, actor: str, occurred_on: date
    ) -> None:
        concern = self.concerns[concern_id]
        concern.answer = text
        concern.answered_by = actor

    # --- endings ------------------------------------------------------------------

    def achieve(self, *, reason: str | None, actor: str, occurred_on: date) -> None:
        self.check_still_open()
        check_occurred_on(occurred_on, not_before=self.set_on)
        self._achieved(reason=reason, actor=actor, occurred_on=occurred_on)

    @event(GoalAchieved)
    def _achieved(self, *, reason: str | None, actor: str, occurred_on: date) -> None:
        self.state = GoalState.ACHIEVED

    def abandon(self, *, reason: str | None, actor: str, occurred_on: date) -> None:
        self.check_still_open()
        check_occurred_on(occurred_on, not_before=self.set_on)
        self._abandoned(reason=reason, actor=actor, occurred_on=occurred_on)

    @event(GoalAbandoned)
    def _abandoned(self, *, reason: str | None, actor: str, occurred_on: date) -> None:
        self.state = GoalState.ABANDONED
