"""History routes: a goal or a team as it stood on a date (or at an instant), the
team's state now, and the team's timeline.

Mount this router before the goals router: it answers GET /v1/goals/{id}?as_of=, and
hands a plain GET /v1/goals/{id} on to the goals router's own handler.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from domain import calendar
from domain.errors import InvalidCommand
from domain.team import Team
from projections.morale import MoralePoint
from projections.team_state import GoalThen, MemberThen, goal_then, team_then, whole_weeks
from projections.timeline import KINDS, MANAGER_ONLY_KINDS, IndexRow, Names, describe
from services import history, queries, work_life
from services.access import Forbidden, viewer_of
from services.bootstrap import Container
from services.errors import NotFound
from services.history import AsOf, Basis
from services.http import goals
from services.http.deps import Actor, ContainerDep, KeelDep, WaitFor, parse_id

router = APIRouter(tags=["history"])

AsOfQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="A date (YYYY-MM-DD) or an ISO 8601 instant (UTC unless it says).",
    ),
]
BasisQuery = Annotated[
    Basis,
    Query(
        description="occurred: what was true on that business day; "
        "recorded: what Keel had been told by then.",
    ),
]
Cursor = Annotated[
    str | None,
    Query(max_length=20, description="The `next_cursor` of the previous page."),
]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query()]

# What the timeline shows when `kinds` is not given: check-ins only when asked for.
_DEFAULT_KINDS = {
    "manager": sorted(KINDS - {"checked_in", "check_in_corrected"}),
    "anyone": sorted(KINDS - MANAGER_ONLY_KINDS),
}


def _as_of(raw: str, basis: Basis) -> AsOf:
    return history.parse_as_of(raw, basis, datetime.now(UTC))


def _as_of_out(as_of: AsOf) -> dict[str, Any]:
    return {"as_of": as_of.moment if as_of.basis == "recorded" else as_of.day, "basis": as_of.basis}


def _goal_out(goal: GoalThen, team_id: str) -> dict[str, Any]:
    return {
        "id": goal.goal_id,
        "team_id": team_id,
        "title": goal.title,
        "metric": goal.metric,
        "target": goal.target,
        "unit": goal.unit,
        "due": goal.due,
        "state": goal.state,
        "set_on": goal.set_on,
        "version": goal.version,
    }


@router.get("/v1/goals/{goal_id}")
def read_goal(
    goal_id: str,
    container: ContainerDep,
    response: Response,
    as_of: AsOfQuery = None,
    basis: BasisQuery = "occurred",
    wait_for: WaitFor = None,
) -> dict[str, Any]:
    """The goal now, or with `as_of`: its title, target, due date and state as they stood,
    with the version of the goal that corresponds."""
    if as_of is None:
        return goals.read_goal(goal_id, container.keel, response)
    when = _as_of(as_of, basis)
    goal = container.keel.goal(parse_id("goal", goal_id))
    container.wait_for(container.history, wait_for)
    then = goal_then(history.goal_state(container.history, goal.id, when), str(goal.id))
    if then is None:
        raise NotFound("goal", f"{goal.id} as of {as_of}")
    response.headers["ETag"] = f'"{then.version}"'
    return {**_goal_out(then, str(goal.team_id)), **_as_of_out(when)}


def _members_out(team: Team, members: list[MemberThen]) -> list[dict[str, Any]]:
    """Names are as they are now (an erased name reads "[erased]"): the history index
    never holds one."""
    return [
        {
            "id": m.member_id,
            "name": team.members[UUID(m.member_id)].name,
            "role": m.role,
            "joined_on": m.joined_on,
            "left_on": m.left_on,
            "left_reason": m.left_reason,
        }
        for m in members
    ]


def _morale_out(group: int, points: list[MoralePoint]) -> dict[str, Any]:
    return {"granularity": "week", "min_group": group, "points": [p.__dict__ for p in points]}


def _current_state(container: Container, team: Team, window: int) -> dict[str, Any]:
    """The state now, from the current views: the baseline the as-of state is held to."""
    today = calendar.today()
    group = work_life.min_group(container.work_life, team.id, container.settings.min_group)
    churn = queries.goal_churn(
        container.goal_audit,
        team.id,
        today=today,
        window_days=window,
        thresholds=container.thresholds,
    )
    points = work_life.morale(
        container.work_life, team.id, granularity="week", group=group, since=None, until=None
    )
    members = [
        MemberThen(str(m.id), m.role, m.joined_on, m.left_on, m.left_reason)
        for m in team.members.values()
    ]
    return {
        "team_id": team.id,
        "name": team.name,
        "manager": team.manager,
        "formed_on": team.formed_on,
        "as_of": None,
        "basis": None,
        "members": _members_out(team, sorted(members, key=lambda m: (m.joined_on, m.member_id))),
        "goals": queries.team_goals(container.goal_audit, team.id),
        "churn": {**churn.__dict__, "goals": [g.__dict__ for g in churn.goals]},
        "morale": _morale_out(group, whole_weeks(points, today)),
    }


@router.get("/v1/teams/{team_id}/state")
def team_state(
    team_id: str,
    container: ContainerDep,
    as_of: AsOfQuery = None,
    basis: BasisQuery = "occurred",
    window_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    wait_for: WaitFor = None,
) -> dict[str, Any]:
    """The team then: members, goals with their targets of the day, goal churn (over
    `window_days` ending on that day) and the weekly morale of the weeks over by then.
    Without `as_of`, the team now, from the current views."""
    when = _as_of(as_of, basis) if as_of is not None else None
    team = container.keel.team(parse_id("team", team_id))
    stores = [container.history] if when else [container.goal_audit, container.work_life]
    for store in stores:
        container.wait_for(store, wait_for)
    window = window_days or container.settings.churn_window_days
    if when is None:
        return _current_state(container, team, window)
    group = work_life.min_group(container.work_life, team.id, container.settings.min_group)
    then = team_then(
        history.team_state(container.history, team.id, when),
        day=when.day,
        weeks_through=when.weeks_through,
        journals=history.team_journals(container.history, team.id),
        min_group=group,
        window_days=window,
        thresholds=container.thresholds,
    )
    if then is None:
        raise NotFound("team", f"{team.id} as of {as_of}")
    return {
        "team_id": team.id,
        "name": then.name,
        "manager": then.manager,
        "formed_on": then.formed_on,
        **_as_of_out(when),
        "members": _members_out(team, then.members),
        "goals": [
            {k: v for k, v in _goal_out(g, str(team.id)).items() if k not in ("team_id", "version")}
            for g in then.goals
        ],
        "churn": {**then.churn.__dict__, "goals": [g.__dict__ for g in then.churn.goals]},
        "morale": _morale_out(group, then.morale),
    }


def _kinds(raw: str | None, is_manager: bool) -> list[str]:
    if raw is None:
        return _DEFAULT_KINDS["manager" if is_manager else "anyone"]
    asked = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in asked if k not in KINDS]
    if unknown or not asked:
        raise InvalidCommand(
            "kinds", f"unknown kinds {unknown}; choose from {', '.join(sorted(KINDS))}"
        )
    private = sorted(set(asked) & MANAGER_ONLY_KINDS)
    if private and not is_manager:
        raise Forbidden(f"only the team's manager sees {', '.join(private)} on the timeline")
    return sorted(set(asked))


def _cursor(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.isdigit():
        raise InvalidCommand("cursor", f"{raw!r} is not a cursor this API gave out")
    return int(raw)


def _entry(row: IndexRow, names: Names) -> dict[str, Any]:
    return {
        "position": row.position,
        "event_id": f"{row.originator_id}:{row.version}",
        "originator_id": row.originator_id,
        "originator_version": row.version,
        "kind": row.kind,
        "occurred_on": row.occurred_on,
        "recorded_at": row.recorded_at,
        "by": row.payload.get("by"),
        "text": describe(row, names),
    }


@router.get("/v1/teams/{team_id}/timeline")
def timeline(
    team_id: str,
    keel: KeelDep,
    container: ContainerDep,
    from_: From = None,
    to: To = None,
    kinds: Annotated[str | None, Query(max_length=1000)] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait_for: WaitFor = None,
    actor: Actor = "anonymous",
) -> dict[str, Any]:
    """The team's merged history in log order, one readable line per event. Check-ins
    and other entries about one person are for the team's manager only; check-ins are
    left out unless `kinds` names them."""
    team = keel.team(parse_id("team", team_id))
    viewer = viewer_of(team, actor)
    chosen = _kinds(kinds, viewer.is_manager)
    after = _cursor(cursor)
    if from_ is not None and to is not None and to < from_:
        raise InvalidCommand("to", f"{to} is before from ({from_})")
    container.wait_for(container.history, wait_for)
    store = container.history
    rows = history.timeline(
        store, team.id, kinds=chosen, since=from_, until=to, after=after, limit=limit + 1
    )
    page = rows[:limit]
    names = Names(
        members={str(m.id): m.name for m in team.members.values()},
        journals=history.team_journals(store, team.id),
        titles=history.goal_titles(store, team.id),
    )
    return {
        "team_id": team.id,
        "kinds": chosen,
        "entries": [_entry(row, names) for row in page],
        "next_cursor": str(page[-1].position) if len(rows) > limit else None,
    }
