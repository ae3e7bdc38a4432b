"""The HTTP API's request and response bodies. Unknown fields are refused, strings are
bounded, numbers must be finite JSON numbers, and dates are ISO 8601."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from domain.goal import ConcernKind
from domain.team import DepartureReason

# No control characters but tab and newline: PostgreSQL cannot store NUL, and none of
# them belongs in a name or a reason.
_PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _text(min_length: int, max_length: int) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=_PRINTABLE
    )


Name = Annotated[str, _text(1, 200)]
Reason = Annotated[str, _text(1, 2000)]
Text = Annotated[str, _text(1, 4000)]
Note = Annotated[str, _text(0, 2000)]
Unit = Annotated[str, _text(0, 50)]
# strict: "12" is not a number; allow_inf_nan: NaN is not a target.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _text_date(value: object) -> object:
    # Lax pydantic would read 5 as a Unix timestamp (1970-01-01); a day is written as text.
    if not isinstance(value, str | date):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_text_date)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Dated(Command):
    occurred_on: Day | None = Field(
        None, description="The business day this describes; defaults to today (UTC)."
    )


class TeamIn(Dated):
    name: Name
    manager: Name


class MemberIn(Dated):
    name: Name
    role: Name | None = None


class DepartureIn(Dated):
    reason: DepartureReason
    note: Note | None = None


class GoalIn(Dated):
    title: Name
    metric: Name
    target: Number
    unit: Unit = ""
    due: Day
    why: Reason | None = None


class TargetIn(Dated):
    target: Number
    reason: Reason


class DueDateIn(Dated):
    due: Day
    reason: Reason


class RedefinitionIn(Dated):
    title: Name | None = None
    metric: Name | None = None
    reason: Reason


class ProgressIn(Dated):
    value: Number
    note: Note | None = None


class ConcernIn(Dated):
    kind: ConcernKind
    text: Text


class AnswerIn(Dated):
    text: Text


class EndingIn(Dated):
    reason: Reason | None = None


# One line of a check-in: a step forward, a setback, a win or a blocker.
Item = Annotated[str, _text(1, 500)]
Items = Annotated[list[Item], Field(max_length=20)]
Mood = Annotated[int, Field(strict=True, ge=1, le=5, description="1 (awful) to 5 (great)")]


class Report(Command):
    mood: Mood
    progress: Items = []
    setbacks: Items = []
    wins: Items = []
    blockers: Items = []
    private_note: Note | None = Field(None, description="Visible only to the member.")


class CheckInIn(Report):
    member_id: UUID
    day: Day


class RecognitionIn(Dated):
    from_member_id: UUID
    to_member_id: UUID
    win_id: UUID | None = None
    message: Text


class ClearanceIn(Dated):
    note: Note | None = None


class SuccessIn(Dated):
    text: Text


class ErasureIn(Dated):
    pass


class MinGroupIn(Dated):
    min_group: Annotated[int, Field(strict=True, ge=3, le=1000)]


class CheckInOut(BaseModel):
    id: UUID
    member_id: UUID
    day: date
    win_ids: list[UUID]
    blocker_ids: list[UUID]
    version: int
    position: int


class RecordedOut(BaseModel):
    id: UUID
    version: int
    position: int


class ChangeOut(BaseModel):
    kind: str
    from_: Any = Field(alias="from")
    to: Any
    by: str
    reason: str | None
    occurred_on: date
    recorded_at: str
    position: int


class HistoryOut(BaseModel):
    goal_id: UUID
    changes: list[ChangeOut]


class GoalChurnOut(BaseModel):
    goal_id: UUID
    title: str
    changes: int
    flagged: bool
    median_target_lifetime_days: float | None


class ChurnOut(BaseModel):
    team_id: UUID
    window_days: int
    changes: int
    flagged: bool
    goals: list[GoalChurnOut]
