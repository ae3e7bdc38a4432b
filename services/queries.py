"""Read-side queries: SQL over the view stores, shaped by the pure functions in projections."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

from domain.errors import InvalidCommand
from projections.churn import AuditEntry, ChurnThresholds, TeamChurn, team_churn
from services.errors import ViewNotCaughtUp
from services.keel import Keel
from services.views import ViewStore

APPLICATION = Keel.name


def wait_for(
    store: ViewStore, position: int | None, timeout: float, head: int | None = None
) -> None:
    """Read-your-writes: wait until the view has processed `position`. A position past
    the head of the log (when the caller knows it) was never handed out: refuse it."""
    if position is None:
        return
    if head is not None and position > head:
        raise InvalidCommand("wait_for", f"position {position} is beyond the log's head {head}")
    if not store.wait_until(APPLICATION, position, timeout):
        raise ViewNotCaughtUp(position, store.position(APPLICATION))


def list_teams(directory: ViewStore) -> list[dict[str, Any]]:
    return directory.select(
        "SELECT t.team_id AS id, t.name, t.manager, t.formed_on, "
        "(SELECT COUNT(*) FROM members m WHERE m.team_id = t.team_id AND m.left_on IS NULL)"
        " AS members "
        "FROM teams t ORDER BY t.position"
    )


def team_goals(audit: ViewStore, team_id: UUID) -> list[dict[str, Any]]:
    return audit.select(
        "SELECT goal_id AS id, title, metric, target, unit, due, state, set_on "
        "FROM goals WHERE team_id = ? ORDER BY set_on, goal_id",
        (str(team_id),),
    )


def goal_history(audit: ViewStore, goal_id: UUID) -> list[dict[str, Any]]:
    rows = audit.select(
        "SELECT kind, from_value, to_value, by, reason, occurred_on, recorded_at, position "
        "FROM goal_changes WHERE goal_id = ? ORDER BY position",
        (str(goal_id),),
    )
    return [
        {
            **{k: v for k, v in row.items() if k not in ("from_value", "to_value")},
            "from": json.loads(row["from_value"]),
            "to": json.loads(row["to_value"]),
        }
        for row in rows
    ]


def goal_churn(
    audit: ViewStore,
    team_id: UUID,
    *,
    today: date,
    window_days: int,
    thresholds: ChurnThresholds,
) -> TeamChurn:
    titles = {
        row["goal_id"]: row["title"]
        for row in audit.select(
            "SELECT goal_id, title FROM goals WHERE team_id = ?", (str(team_id),)
        )
    }
    entries = [
        AuditEntry(
            row["goal_id"], row["kind"], date.fromisoformat(row["occurred_on"]), row["position"]
        )
        for row in audit.select(
            "SELECT c.goal_id, c.kind, c.occurred_on, c.position FROM goal_changes c "
            "JOIN goals g ON g.goal_id = c.goal_id WHERE g.team_id = ?",
            (str(team_id),),
        )
    ]
    return team_churn(titles, entries, today=today, window_days=window_days, thresholds=thresholds)
