"""Goal audit: every change of every goal, with when, who, from -> to, and why.

Two tables: `goals` (the current shape of each goal, to list a team's goals) and
`goal_changes` (one row per change, keyed by log position). The fold keeps no state
between events, so it resumes anywhere in the log. Churn is computed from
`goal_changes` at query time by `projections.churn`, because its window is a parameter.
"""

from __future__ import annotations

import json
from functools import singledispatchmethod
from typing import Any

from domain.calendar import BusinessEvent
from domain.goal import Goal, GoalState
from projections.rows import Patch, Put, RowOp, Table

GOALS = Table(
    name="goals",
    columns=(
        "goal_id",
        "team_id",
        "title",
        "metric",
        "target",
        "unit",
        "due",
        "state",
        "set_by",
        "set_on",
    ),
    key=("goal_id",),
    indexes=(("team_id",),),
    types={"target": "DOUBLE PRECISION"},
)
GOAL_CHANGES = Table(
    name="goal_changes",
    columns=(
        "position",
        "goal_id",
        "kind",
        "from_value",
        "to_value",
        "by",
        "reason",
        "occurred_on",
        "recorded_at",
    ),
    key=("position",),
    indexes=(("goal_id",),),
    types={"position": "BIGINT"},
)

# The kinds of change that count towards churn: each one moves what the team is asked for.
CHURN_KINDS = frozenset({"target_changed", "due_date_changed", "goal_redefined"})


# One encoder for all: json.dumps with custom separators builds a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode


def _json(value: Any) -> str:
    # Most values are targets: a finite float's repr is already its JSON, and cheaper.
    if type(value) is float:
        return repr(value)
    return _encode(value)


class GoalAudit:
    name = "goal_audit"
    tables: tuple[Table, ...] = (GOALS, GOAL_CHANGES)

    def _change(
        self,
        event: BusinessEvent,
        position: int,
        kind: str,
        old: Any,
        new: Any,
        reason: str | None,
    ) -> Put:
        goal_id = str(event.originator_id)
        return Put(
            GOAL_CHANGES,
            {
                "position": position,
                "goal_id": goal_id,
                "kind": kind,
                "from_value": _json(old),
                "to_value": _json(new),
                "by": event.actor,
                "reason": reason,
                "occurred_on": event.occurred_on.isoformat(),
                "recorded_at": event.timestamp.isoformat(),
            },
        )

    @singledispatchmethod
    def fold(self, event: object, position: int) -> list[RowOp]:
        return []

    @fold.register
    def _(self, event: Goal.GoalSet, position: int) -> list[RowOp]:
        goal_id = str(event.originator_id)
        goal = {
            "goal_id": goal_id,
            "team_id": str(event.team_id),
            "title": event.title,
            "metric": event.metric,
            "target": event.target,
            "unit": event.unit,
            "due": event.due.isoformat(),
            "state": GoalState.ACTIVE.value,
            "set_by": event.actor,
            "set_on": event.occurred_on.isoformat(),
        }
        shape = {k: goal[k] for k in ("title", "metric", "target", "unit", "due")}
        return [
            Put(GOALS, goal),
            Put(
                GOAL_CHANGES,
                {
                    "position": position,
                    "goal_id": goal_id,
                    "kind": "goal_set",
                    "from_value": _json(None),
                    "to_value": _json(shape),
                    "by": event.actor,
                    "reason": event.why,
                    "occurred_on": event.occurred_on.isoformat(),
                    "recorded_at": event.timestamp.isoformat(),
                },
            ),
        ]

    @fold.register
    def _(self, event: Goal.TargetChanged, position: int) -> list[RowOp]:
        return [
            Patch(GOALS, (str(event.originator_id),), {"target": event.new}),
            self._change(event, position, "target_changed", event.old, event.new, event.reason),
        ]

    @fold.register
    def _(self, event: Goal.DueDateChanged, position: int) -> list[RowOp]:
        old, new = event.old.isoformat(), event.new.isoformat()
        return [
            Patch(GOALS, (str(event.originator_id),), {"due": new}),
            self._change(event, position, "due_date_changed", old, new, event.reason),
        ]

    @fold.register
    def _(self, event: Goal.GoalRedefined, position: int) -> list[RowOp]:
        old = {"title": event.old_title, "metric": event.old_metric}
        new = {"title": event.new_title, "metric": event.new_metric}
        return [
            Patch(GOALS, (str(event.originator_id),), new),
            self._change(event, position, "goal_redefined", old, new, event.reason),
        ]

    @fold.register
    def _(self, event: Goal.GoalAchieved, position: int) -> list[RowOp]:
        return self._ended(event, position, GoalState.ACHIEVED, event.reason)

    @fold.register
    def _(self, event: Goal.GoalAbandoned, position: int) -> list[RowOp]:
        return self._ended(event, position, GoalState.ABANDONED, event.reason)

    def _ended(
        self, event: BusinessEvent, position: int, state: GoalState, reason: str | None
    ) -> list[RowOp]:
        kind = f"goal_{state.value}"
        return [
            Patch(GOALS, (str(event.originator_id),), {"state": state.value}),
            self._change(event, position, kind, GoalState.ACTIVE.value, state.value, reason),
        ]
