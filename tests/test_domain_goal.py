"""The Goal aggregate: its invariants, the events it emits, and replay."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from domain.calendar import today
from domain.errors import Conflict, InvalidCommand
from domain.goal import Concern, ConcernKind, Goal, GoalState

E = TypeVar("E")

TEAM_ID = UUID("00000000-0000-4000-8000-000000000001")
SET_ON = date(2024, 1, 1)
DUE = date(2024, 6, 30)
LATER = date(2024, 2, 1)
FUTURE = today() + timedelta(days=2)  # beyond UTC+14's "today", whatever the hour


def new_goal() -> Goal:
    goal = Goal.set(
        team_id=TEAM_ID,
        title="Ship v2",
        metric="signups",
        target=100.0,
        unit="users",
        due=DUE,
        why="growth",
        actor="mia",
        occurred_on=SET_ON,
    )
    goal.collect_events()
    return goal


def single_event(goal: Goal, kind: type[E]) -> E:
    events = goal.collect_events()
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, kind)
    return event


def rebuild(events: Sequence[Any]) -> Goal:
    goal = events[0].mutate(None)
    for event in events[1:]:
        goal = event.mutate(goal)
    assert isinstance(goal, Goal)
    return goal


def refused(goal: Goal, command: Callable[[], object], error: type[Exception]) -> Exception:
    """Run a command that must be refused; check it left no event and no change."""
    before = dict(vars(goal))
    with pytest.raises(error) as raised:
        command()
    assert goal.collect_events() == []
    assert vars(goal) == before
    return raised.value


# Every command, with a valid argument set apart from the business date.
Command = Callable[[Goal, date], object]
COMMANDS: dict[str, Command] = {
    "change_target": lambda g, on: g.change_target(
        target=120.0, reason="r", actor="a", occurred_on=on
    ),
    "change_due_date": lambda g, on: g.change_due_date(
        due=date(2024, 7, 31), reason="r", actor="a", occurred_on=on
    ),
    "redefine": lambda g, on: g.redefine(
        title="Ship v3", metric=None, reason="r", actor="a", occurred_on=on
    ),
    "record_progress": lambda g, on: g.record_progress(
        value=1.0, note=None, actor="a", occurred_on=on
    ),
    "raise_concern": lambda g, on: g.raise_concern(
        kind=ConcernKind.UNCLEAR, text="t", actor="a", occurred_on=on
    ),
    "achieve": lambda g, on: g.achieve(reason=None, actor="a", occurred_on=on),
    "abandon": lambda g, on: g.abandon(reason=None, actor="a", occurred_on=on),
}
ENDINGS: dict[str, Command] = {k: COMMANDS[k] for k in ("achieve", "abandon")}


# --- setting ---------------------------------------------------------------------


def test_set_emits_goal_set_with_every_field() -> None:
    goal = Goal.set(
        team_id=TEAM_ID,
        title=" Ship v2 ",
        metric=" signups ",
        target=100.0,
        unit=" users ",
        due=DUE,
        why="growth",
        actor="mia",
        occurred_on=SET_ON,
    )
    event = single_event(goal, Goal.GoalSet)
    assert (
        event.team_id,
        event.title,
        event.metric,
        event.target,
        event.unit,
        event.due,
        event.why,
        event.actor,
        event.occurred_on,
    ) == (TEAM_ID, "Ship v2", "signups", 100.0, "users", DUE, "growth", "mia", SET_ON)
    assert (goal.state, goal.set_by, goal.set_on, goal.progress, goal.concerns) == (
        GoalState.ACTIVE,
        "mia",
        SET_ON,
        None,
        {},
    )


def test_a_goal_may_be_due_on_the_day_it_is_set() -> None:
    goal = Goal.set(
        team_id=TEAM_ID,
        title="t",
        metric="m",
        target=1.0,
        unit="",
        due=SET_ON,
        why=None,
        actor="mia",
        occurred_on=SET_ON,
    )
    assert goal.due == SET_ON


@pytest.mark.parametrize(
    ("title", "metric", "due", "occurred_on", "field"),
    [
        ("t", "m", SET_ON - timedelta(days=1), SET_ON, "due"),
        (" ", "m", DUE, SET_ON, "title"),
        ("t", "", DUE, SET_ON, "metric"),
        ("t", "m", FUTURE + timedelta(days=1), FUTURE, "occurred_on"),
    ],
    ids=["due-before-set", "blank-title", "blank-metric", "future"],
)
def test_set_refuses_a_malformed_goal(
    title: str, metric: str, due: date, occurred_on: date, field: str
) -> None:
    with pytest.raises(InvalidCommand) as raised:
        Goal.set(
            team_id=TEAM_ID,
            title=title,
            metric=metric,
            target=1.0,
            unit="",
            due=due,
            why=None,
            actor="mia",
            occurred_on=occurred_on,
        )
    assert raised.value.field == field


# --- target, due date, definition -----------------------------------------------------


def test_change_target_emits_old_and_new_target() -> None:
    goal = new_goal()
    goal.change_target(target=120.0, reason=" board ask ", actor="noor", occurred_on=LATER)
    event = single_event(goal, Goal.TargetChanged)
    assert (event.old, event.new, event.reason, event.actor, event.occurred_on) == (
        100.0,
        120.0,
        "board ask",
        "noor",
        LATER,
    )
    assert goal.target == 120.0


@pytest.mark.parametrize("same", [100.0, 100])
def test_changing_to_the_same_target_is_refused(same: float) -> None:
    goal = new_goal()
    error = refused(
        goal,
        lambda: goal.change_target(target=same, reason="r", actor="a", occurred_on=LATER),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "target"


def test_change_due_date_emits_old_and_new_due() -> None:
    goal = new_goal()
    goal.change_due_date(due=date(2024, 7, 31), reason="slip", actor="noor", occurred_on=LATER)
    event = single_event(goal, Goal.DueDateChanged)
    assert (event.old, event.new, event.reason, event.actor, event.occurred_on) == (
        DUE,
        date(2024, 7, 31),
        "slip",
        "noor",
        LATER,
    )
    assert goal.due == date(2024, 7, 31)


@pytest.mark.parametrize(
    "due", [DUE, SET_ON - timedelta(days=1)], ids=["same-due", "before-set-date"]
)
def test_change_due_date_refuses_same_or_earlier_than_set_date(due: date) -> None:
    goal = new_goal()
    error = refused(
        goal,
        lambda: goal.change_due_date(due=due, reason="r", actor="a", occurred_on=LATER),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "due"


def test_due_may_be_moved_to_the_set_date() -> None:
    goal = new_goal()
    goal.change_due_date(due=SET_ON, reason="r", actor="a", occurred_on=LATER)
    assert goal.due == SET_ON


@pytest.mark.parametrize(
    ("title", "metric", "new_title", "new_metric"),
    [
        ("Ship v3", None, "Ship v3", "signups"),
        (None, "activations", "Ship v2", "activations"),
        (" Ship v3 ", " activations ", "Ship v3", "activations"),
        ("Ship v2", "activations", "Ship v2", "activations"),
    ],
    ids=["title-only", "metric-only", "both", "same-title-new-metric"],
)
def test_redefine_emits_old_and_new_title_and_metric(
    title: str | None, metric: str | None, new_title: str, new_metric: str
) -> None:
    goal = new_goal()
    goal.redefine(title=title, metric=metric, reason="pivot", actor="noor", occurred_on=LATER)
    event = single_event(goal, Goal.GoalRedefined)
    assert (
        event.old_title,
        event.new_title,
        event.old_metric,
        event.new_metric,
        event.reason,
        event.actor,
        event.occurred_on,
    ) == ("Ship v2", new_title, "signups", new_metric, "pivot", "noor", LATER)
    assert (goal.title, goal.metric) == (new_title, new_metric)


@pytest.mark.parametrize(
    ("title", "metric", "field"),
    [
        (None, None, "title"),
        ("Ship v2", None, "title"),
        (None, "signups", "metric"),  # only the metric was sent, so it is named
        (" Ship v2 ", "signups", "title"),
        (" ", None, "title"),
        (None, "\t", "metric"),
    ],
    ids=["nothing", "same-title", "same-metric", "same-both", "blank-title", "blank-metric"],
)
def test_redefine_refuses_no_change_or_blank_values(
    title: str | None, metric: str | None, field: str
) -> None:
    goal = new_goal()
    error = refused(
        goal,
        lambda: goal.redefine(title=title, metric=metric, reason="r", actor="a", occurred_on=LATER),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == field


CHANGES: dict[str, Callable[[Goal, str], object]] = {
    "change_target": lambda g, why: g.change_target(
        target=120.0, reason=why, actor="a", occurred_on=LATER
    ),
    "change_due_date": lambda g, why: g.change_due_date(
        due=date(2024, 7, 31), reason=why, actor="a", occurred_on=LATER
    ),
    "redefine": lambda g, why: g.redefine(
        title="Ship v3", metric=None, reason=why, actor="a", occurred_on=LATER
    ),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_change_must_give_a_reason(change: Callable[[Goal, str], object], blank: str) -> None:
    goal = new_goal()
    error = refused(goal, lambda: change(goal, blank), InvalidCommand)
    assert isinstance(error, InvalidCommand)
    assert error.field == "reason"


# --- dates and endings, for every command -----------------------------------------------


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize(
    "occurred_on", [SET_ON - timedelta(days=1), FUTURE], ids=["before-set", "future"]
)
def test_every_command_refuses_dates_outside_the_goals_life(
    command: Command, occurred_on: date
) -> None:
    goal = new_goal()
    error = refused(goal, lambda: command(goal, occurred_on), InvalidCommand)
    assert isinstance(error, InvalidCommand)
    assert error.field == "occurred_on"


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_every_command_accepts_the_day_the_goal_was_set(command: Command) -> None:
    goal = new_goal()
    command(goal, SET_ON)
    assert len(goal.collect_events()) == 1


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("ending", ENDINGS.values(), ids=ENDINGS.keys())
def test_an_ended_goal_refuses_every_command(ending: Command, command: Command) -> None:
    goal = new_goal()
    ending(goal, LATER)
    goal.collect_events()
    error = refused(goal, lambda: command(goal, LATER), Conflict)
    assert "can no longer change" in str(error)


@pytest.mark.parametrize("ending", ENDINGS.values(), ids=ENDINGS.keys())
def test_an_ended_goal_refuses_answering_a_concern(ending: Command) -> None:
    goal = new_goal()
    concern_id = goal.raise_concern(
        kind=ConcernKind.UNCLEAR, text="t", actor="a", occurred_on=LATER
    )
    ending(goal, LATER)
    goal.collect_events()
    refused(
        goal,
        lambda: goal.answer_concern(concern_id=concern_id, text="x", actor="m", occurred_on=LATER),
        Conflict,
    )


@pytest.mark.parametrize(
    ("ending", "kind", "state"),
    [
        (ENDINGS["achieve"], Goal.GoalAchieved, GoalState.ACHIEVED),
        (ENDINGS["abandon"], Goal.GoalAbandoned, GoalState.ABANDONED),
    ],
    ids=ENDINGS.keys(),
)
def test_an_ending_emits_its_event_and_sets_the_state(
    ending: Command, kind: type[Goal.GoalAchieved | Goal.GoalAbandoned], state: GoalState
) -> None:
    goal = new_goal()
    ending(goal, LATER)
    event = single_event(goal, kind)
    assert (event.reason, event.actor, event.occurred_on) == (None, "a", LATER)
    assert goal.state is state


def test_an_ending_carries_its_reason() -> None:
    goal = new_goal()
    goal.abandon(reason="reorg", actor="noor", occurred_on=LATER)
    assert single_event(goal, Goal.GoalAbandoned).reason == "reorg"


# --- progress and concerns -----------------------------------------------------------


def test_record_progress_emits_value_and_note() -> None:
    goal = new_goal()
    goal.record_progress(value=42.5, note="week 5", actor="ana", occurred_on=LATER)
    event = single_event(goal, Goal.ProgressRecorded)
    assert (event.value, event.note, event.actor, event.occurred_on) == (
        42.5,
        "week 5",
        "ana",
        LATER,
    )
    assert (goal.progress, goal.progress_on) == (42.5, LATER)


def test_raise_concern_emits_and_records_the_concern() -> None:
    goal = new_goal()
    concern_id = goal.raise_concern(
        kind=ConcernKind.UNATTAINABLE, text=" too high ", actor="ana", occurred_on=LATER
    )
    event = single_event(goal, Goal.ConcernRaised)
    assert (event.concern_id, event.kind, event.text, event.actor, event.occurred_on) == (
        concern_id,
        "unattainable",
        "too high",
        "ana",
        LATER,
    )
    assert goal.concerns == {
        concern_id: Concern(concern_id, ConcernKind.UNATTAINABLE, "too high", "ana", LATER)
    }


def test_raise_concern_refuses_blank_text() -> None:
    goal = new_goal()
    error = refused(
        goal,
        lambda: goal.raise_concern(
            kind=ConcernKind.UNCLEAR, text=" ", actor="a", occurred_on=LATER
        ),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "text"


def with_concern(goal: Goal, raised_on: date = LATER) -> UUID:
    concern_id = goal.raise_concern(
        kind=ConcernKind.UNCLEAR, text="what?", actor="ana", occurred_on=raised_on
    )
    goal.collect_events()
    return concern_id


def test_answer_concern_emits_and_records_the_answer() -> None:
    goal = new_goal()
    concern_id = with_concern(goal)
    goal.answer_concern(concern_id=concern_id, text=" this ", actor="mia", occurred_on=LATER)
    event = single_event(goal, Goal.ConcernAnswered)
    assert (event.concern_id, event.text, event.actor, event.occurred_on) == (
        concern_id,
        "this",
        "mia",
        LATER,
    )
    concern = goal.concerns[concern_id]
    assert (concern.answer, concern.answered_by) == ("this", "mia")


def test_a_concern_cannot_be_answered_twice() -> None:
    goal = new_goal()
    concern_id = with_concern(goal)
    goal.answer_concern(concern_id=concern_id, text="one", actor="mia", occurred_on=LATER)
    goal.collect_events()
    error = refused(
        goal,
        lambda: goal.answer_concern(
            concern_id=concern_id, text="two", actor="m", occurred_on=LATER
        ),
        Conflict,
    )
    assert "already answered" in str(error)
    assert goal.concerns[concern_id].answer == "one"


def test_answering_an_unknown_concern_is_a_lookup_error() -> None:
    goal = new_goal()
    with_concern(goal)
    error = refused(
        goal,
        lambda: goal.answer_concern(concern_id=uuid4(), text="x", actor="m", occurred_on=LATER),
        LookupError,
    )
    assert "no concern" in str(error)


@pytest.mark.parametrize(
    ("occurred_on", "text", "field"),
    [
        (LATER - timedelta(days=1), "x", "occurred_on"),
        (FUTURE, "x", "occurred_on"),
        (LATER, "  ", "text"),
    ],
    ids=["before-raised", "future", "blank-text"],
)
def test_answer_concern_refuses_bad_date_or_blank_text(
    occurred_on: date, text: str, field: str
) -> None:
    goal = new_goal()
    concern_id = with_concern(goal, raised_on=LATER)
    error = refused(
        goal,
        lambda: goal.answer_concern(
            concern_id=concern_id, text=text, actor="m", occurred_on=occurred_on
        ),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == field


# --- replay ----------------------------------------------------------------------


def test_replaying_the_events_rebuilds_an_equal_goal() -> None:
    goal = Goal.set(
        team_id=TEAM_ID,
        title="Ship v2",
        metric="signups",
        target=100.0,
        unit="users",
        due=DUE,
        why=None,
        actor="mia",
        occurred_on=SET_ON,
    )
    goal.change_target(target=120.0, reason="r", actor="a", occurred_on=LATER)
    goal.change_due_date(due=date(2024, 7, 31), reason="r", actor="a", occurred_on=LATER)
    goal.redefine(title="Ship v3", metric="paid", reason="r", actor="a", occurred_on=LATER)
    goal.record_progress(value=7.0, note=None, actor="a", occurred_on=LATER)
    concern_id = goal.raise_concern(
        kind=ConcernKind.CONFLICTING, text="t", actor="a", occurred_on=LATER
    )
    goal.answer_concern(concern_id=concern_id, text="x", actor="mia", occurred_on=LATER)
    goal.achieve(reason="done", actor="mia", occurred_on=LATER)
    events = goal.collect_events()
    assert len(events) == 8
    rebuilt = rebuild(events)
    assert rebuilt == goal
    assert (rebuilt.version, rebuilt.target, rebuilt.title, rebuilt.state) == (
        8,
        120.0,
        "Ship v3",
        GoalState.ACHIEVED,
    )
    assert rebuilt.concerns[concern_id].answered_by == "mia"


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_targets_and_progress_must_be_finite(number: float) -> None:
    goal = new_goal()
    error = refused(
        goal,
        lambda: goal.change_target(target=number, reason="r", actor="a", occurred_on=LATER),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "target"
    error = refused(
        goal,
        lambda: goal.record_progress(value=number, note=None, actor="a", occurred_on=LATER),
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "value"


def test_an_unknown_concern_kind_is_named() -> None:
    goal = new_goal()
    error = refused(
        goal,
        lambda: goal.raise_concern(kind="vague", text="t", actor="a", occurred_on=LATER),  # type: ignore[arg-type]
        InvalidCommand,
    )
    assert isinstance(error, InvalidCommand)
    assert error.field == "kind"
