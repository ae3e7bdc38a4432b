"""Team routes: form a team, add and remove members, list and read teams."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from domain import calendar
from services import queries
from services.http.deps import (
    Actor,
    ContainerDep,
    IfMatch,
    KeelDep,
    WaitFor,
    business_date,
    parse_id,
)
from services.http.schemas import ChurnOut, DepartureIn, GoalIn, MemberIn, RecordedOut, TeamIn
from services.keel import Recorded

router = APIRouter(prefix="/v1/teams", tags=["teams"])


def created(response: Response, recorded: Recorded, location: str | None = None) -> RecordedOut:
    response.headers["ETag"] = f'"{recorded.version}"'
    if location is not None:
        response.headers["Location"] = location
    return RecordedOut(id=recorded.id, version=recorded.version, position=recorded.position)


@router.post("", status_code=201)
def form_team(
    body: TeamIn, keel: KeelDep, response: Response, actor: Actor = "anonymous"
) -> RecordedOut:
    recorded = keel.form_team(
        name=body.name,
        manager=body.manager,
        actor=actor,
        occurred_on=business_date(body.occurred_on),
    )
    return created(response, recorded, f"/v1/teams/{recorded.id}")


@router.post("/{team_id}/members", status_code=201)
def add_member(
    team_id: str,
    body: MemberIn,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    recorded = keel.add_member(
        parse_id("team", team_id),
        name=body.name,
        role=body.role,
        actor=actor,
        occurred_on=business_date(body.occurred_on),
        expected_version=if_match,
    )
    return created(response, recorded)


@router.post("/{team_id}/members/{member_id}/departure", status_code=201)
def record_departure(
    team_id: str,
    member_id: str,
    body: DepartureIn,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    recorded = keel.record_departure(
        parse_id("team", team_id),
        parse_id("member", member_id),
        reason=body.reason,
        note=body.note,
        actor=actor,
        occurred_on=business_date(body.occurred_on),
        expected_version=if_match,
    )
    return created(response, recorded)


@router.post("/{team_id}/goals", status_code=201)
def set_goal(
    team_id: str,
    body: GoalIn,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    recorded = keel.set_goal(
        parse_id("team", team_id),
        title=body.title,
        metric=body.metric,
        target=body.target,
        unit=body.unit,
        due=body.due,
        why=body.why,
        actor=actor,
        occurred_on=business_date(body.occurred_on),
        expected_version=if_match,
    )
    return created(response, recorded, f"/v1/goals/{recorded.id}")


@router.get("")
def list_teams(container: ContainerDep, wait_for: WaitFor = None) -> dict[str, Any]:
    store = container.team_directory
    container.wait_for(store, wait_for)
    return {"teams": queries.list_teams(store)}


@router.get("/{team_id}")
def read_team(
    team_id: str, container: ContainerDep, response: Response, wait_for: WaitFor = None
) -> dict[str, Any]:
    team = container.keel.team(parse_id("team", team_id))
    store = container.goal_audit
    container.wait_for(store, wait_for)
    response.headers["ETag"] = f'"{team.version}"'
    return {
        "id": team.id,
        "name": team.name,
        "manager": team.manager,
        "formed_on": team.formed_on,
        "version": team.version,
        "members": [
            {
                "id": m.id,
                "name": m.name,
                "role": m.role,
                "joined_on": m.joined_on,
                "left_on": m.left_on,
                "left_reason": m.left_reason,
            }
            for m in team.members.values()
        ],
        "goals": queries.team_goals(store, team.id),
    }


@router.get("/{team_id}/goal-churn")
def goal_churn(
    team_id: str,
    container: ContainerDep,
    window_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    wait_for: WaitFor = None,
) -> ChurnOut:
    team = container.keel.team(parse_id("team", team_id))
    store = container.goal_audit
    container.wait_for(store, wait_for)
    window = window_days or container.settings.churn_window_days
    churn = queries.goal_churn(
        store, team.id, today=calendar.today(), window_days=window, thresholds=container.thresholds
    )
    return ChurnOut.model_validate(
        {"team_id": team.id, **churn.__dict__, "goals": [g.__dict__ for g in churn.goals]}
    )
