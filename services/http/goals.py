"""Goal routes: every change to a goal, its current state and its audited history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from services import queries
from services.http.deps import (
    Actor,
    CommandsDep,
    ContainerDep,
    IfMatch,
    KeelDep,
    WaitFor,
    business_date,
    parse_id,
)
from services.http.schemas import (
    AnswerIn,
    ConcernIn,
    DueDateIn,
    EndingIn,
    HistoryOut,
    ProgressIn,
    RecordedOut,
    RedefinitionIn,
    TargetIn,
)
from services.http.teams import created

router = APIRouter(prefix="/v1/goals", tags=["goals"])


@router.post("/{goal_id}/target", status_code=201)
async def change_target(
    goal_id: str,
    body: TargetIn,
    commands: CommandsDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    # The busiest goal command: committed in groups (services/group_commit.py).
    recorded = await commands.run(
        "change_target",
        parse_id("goal", goal_id),
        if_match,
        target=body.target,
        reason=body.reason,
        actor=actor,
        occurred_on=business_date(body.occurred_on),
    )
    return created(response, recorded)


@router.post("/{goal_id}/due-date", status_code=201)
def change_due_date(
    goal_id: str,
    body: DueDateIn,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    on = business_date(body.occurred_on)
    recorded = keel.change_goal(
        parse_id("goal", goal_id),
        if_match,
        lambda g: g.change_due_date(due=body.due, reason=body.reason, actor=actor, occurred_on=on),
    )
    return created(response, recorded)


@router.post("/{goal_id}/redefinition", status_code=201)
def redefine(
    goal_id: str,
    body: RedefinitionIn,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    on = business_date(body.occurred_on)
    recorded = keel.change_goal(
        parse_id("goal", goal_id),
        if_match,
        lambda g: g.redefine(
            title=body.title, metric=body.metric, reason=body.reason, actor=actor, occurred_on=on
        ),
    )
    return created(response, recorded)


@router.post("/{goal_id}/progress", status_code=201)
def record_progress(
    goal_id: str,
    body: ProgressIn,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    on = business_date(body.occurred_on)
    recorded = keel.change_goal(
        parse_id("goal", goal_id),
        if_match,
        lambda g: g.record_progress(value=body.value, note=body.note, actor=actor, occurred_on=on),
    )
    return created(response, recorded)


@router.post("/{goal_id}/concerns", status_code=201)
def raise_concern(
    goal_id: str,
    body: ConcernIn,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    on = business_date(body.occurred_on)
    recorded = keel.change_goal(
        parse_id("goal", goal_id),
        if_match,
        lambda g: g.raise_concern(kind=body.kind, text=body.text, actor=actor, occurred_on=on),
    )
    return created(response, recorded)


@router.post("/{goal_id}/concerns/{concern_id}/answer", status_code=201)
def answer_concern(
    goal_id: str,
    concern_id: str,
    body: AnswerIn,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    recorded = keel.answer_concern(
        parse_id("goal", goal_id),
        parse_id("concern", concern_id),
        text=body.text,
        actor=actor,
        occurred_on=business_date(body.occurred_on),
        expected_version=if_match,
    )
    return created(response, recorded)


@router.post("/{goal_id}/achievement", status_code=201)
def achieve(
    goal_id: str,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    body: EndingIn | None = None,
    actor: Actor = "anonymous",
) -> RecordedOut:
    ending = body or EndingIn()
    on = business_date(ending.occurred_on)
    recorded = keel.change_goal(
        parse_id("goal", goal_id),
        if_match,
        lambda g: g.achieve(reason=ending.reason, actor=actor, occurred_on=on),
    )
    return created(response, recorded)


@router.post("/{goal_id}/abandonment", status_code=201)
def abandon(
    goal_id: str,
    keel: KeelDep,
    response: Response,
    if_match: IfMatch,
    body: EndingIn | None = None,
    actor: Actor = "anonymous",
) -> RecordedOut:
    ending = body or EndingIn()
    on = business_date(ending.occurred_on)
    recorded = keel.change_goal(
        parse_id("goal", goal_id),
        if_match,
        lambda g: g.abandon(reason=ending.reason, actor=actor, occurred_on=on),
    )
    return created(response, recorded)


# GET /v1/goals/{goal_id} is served (and documented) by services/http/history.py,
# which hands a request without `as_of` to this function.
@router.get("/{goal_id}", include_in_schema=False)
def read_goal(goal_id: str, keel: KeelDep, response: Response) -> dict[str, Any]:
    goal = keel.goal(parse_id("goal", goal_id))
    response.headers["ETag"] = f'"{goal.version}"'
    return {
        "id": goal.id,
        "team_id": goal.team_id,
        "title": goal.title,
        "metric": goal.metric,
        "target": goal.target,
        "unit": goal.unit,
        "due": goal.due,
        "why": goal.why,
        "state": goal.state,
        "set_by": goal.set_by,
        "set_on": goal.set_on,
        "progress": goal.progress,
        "progress_on": goal.progress_on,
        "concerns": [
            {
                "id": c.id,
                "kind": c.kind,
                "text": c.text,
                "raised_by": c.raised_by,
                "raised_on": c.raised_on,
                "answer": c.answer,
                "answered_by": c.answered_by,
            }
            for c in goal.concerns.values()
        ],
        "version": goal.version,
    }


@router.get("/{goal_id}/history")
def goal_history(goal_id: str, container: ContainerDep, wait_for: WaitFor = None) -> HistoryOut:
    goal = container.keel.goal(parse_id("goal", goal_id))
    store = container.goal_audit
    queries.wait_for(store, wait_for, container.settings.wait_for_timeout_seconds)
    changes = queries.goal_history(store, goal.id)
    return HistoryOut.model_validate({"goal_id": goal.id, "changes": changes})
