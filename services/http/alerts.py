"""Alert routes: a team's alerts, acknowledging and resolving one, tuning a team's rules,
and a server-sent event stream of alert changes for dashboards.

Privacy: a team's manager sees all of its alerts. Anyone else sees only the rules about
the team as a whole, and not whose check-in an alert's evidence points to.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from domain import calendar
from domain.alert import DEFAULTS, Alert, AlertState, Rule, parse_rule
from domain.errors import InvalidCommand
from domain.team import Team
from projections.alert_rules import Parameters
from services.access import Forbidden
from services.alerting import Alerts
from services.bootstrap import Container
from services.errors import VersionMismatch, ViewNotCaughtUp
from services.http.deps import Actor, ContainerDep, IfMatch, business_date, parse_id
from services.http.schemas import Command, Day, Number, Reason, RecordedOut
from services.http.teams import created
from services.views import ViewStore

router = APIRouter(tags=["alerts"])

# Rules about one person: only the team's manager sees them.
PERSONAL_RULES = (Rule.SETBACK_STREAK.value, Rule.BLOCKER_AGING.value)
# Evidence from these events points at a member's journal, a win or a blocker.
CHECK_IN_EVENTS = {"CheckedIn", "CheckInCorrected"}
STREAM_POLL_SECONDS = 0.2
STREAM_PAGE = 100


# --- bodies ---------------------------------------------------------------------------


class AlertCommand(Command):
    occurred_on: Day | None = Field(
        None, description="The business day; defaults to today (UTC), not before the alert."
    )


class AcknowledgementIn(AlertCommand):
    note: Reason | None = Field(None, description="Kept with the alert; never published.")


class ResolutionIn(AlertCommand):
    pass


ParameterName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class RuleParametersIn(Command):
    parameters: Annotated[dict[ParameterName, Number], Field(max_length=len(DEFAULTS))] = Field(
        description="This team's own values; {} restores the installation's."
    )


class EvidenceOut(BaseModel):
    position: int
    event: str
    id: str | None


class AlertOut(BaseModel):
    id: UUID
    rule: str
    severity: str
    state: str
    raised_on: date
    raised_at: str
    subject_id: UUID | None
    # int first: a count stays 2, not 2.0.
    numbers: dict[str, int | float]
    evidence: list[EvidenceOut]
    acknowledged_by: str | None
    acknowledged_on: date | None
    cleared_on: date | None
    cleared_reason: str | None


class AlertsOut(BaseModel):
    team_id: UUID
    alerts: list[AlertOut]


class AlertChangedOut(BaseModel):
    id: UUID
    state: str
    version: int
    position: int


class RuleOut(BaseModel):
    rule: str
    parameters: dict[str, float]
    team_overrides: dict[str, float]


class RulesOut(BaseModel):
    team_id: UUID
    version: int
    rules: list[RuleOut]


# --- who is asking --------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    team_id: UUID
    is_manager: bool


def audience_of(team_id: str, container: ContainerDep, actor: Actor = "anonymous") -> Audience:
    """The team (404 if unknown) and whether the actor is its manager."""
    team = container.keel.team(parse_id("team", team_id))
    return Audience(team.id, actor == team.manager)


AudienceDep = Annotated[Audience, Depends(audience_of)]


# --- reading the alerts view ------------------------------------------------------------

_COLUMNS = (
    "a.alert_id, a.rule, a.severity, a.state, a.raised_on, a.raised_at, a.subject_id, "
    "a.numbers, a.evidence, a.acknowledged_by, a.acknowledged_on, a.cleared_on, "
    "a.cleared_reason"
)


def _visible(audience: Audience) -> tuple[str, list[Any]]:
    if audience.is_manager:
        return "", []
    return f" AND a.rule NOT IN ({', '.join('?' for _ in PERSONAL_RULES)})", list(PERSONAL_RULES)


def _alert(row: dict[str, Any], audience: Audience) -> AlertOut:
    evidence = json.loads(row["evidence"])
    if not audience.is_manager:
        # The position and kind say what happened; the id would say whose check-in it was.
        evidence = [
            {**item, "id": None} if item["event"] in CHECK_IN_EVENTS else item for item in evidence
        ]
    return AlertOut(
        id=row["alert_id"],
        rule=row["rule"],
        severity=row["severity"],
        state=row["state"],
        raised_on=row["raised_on"],
        raised_at=row["raised_at"],
        subject_id=row["subject_id"],
        numbers=json.loads(row["numbers"]),
        evidence=evidence,
        acknowledged_by=row["acknowledged_by"],
        acknowledged_on=row["acknowledged_on"],
        cleared_on=row["cleared_on"],
        cleared_reason=row["cleared_reason"],
    )


def team_alerts(store: ViewStore, audience: Audience, state: AlertState | None) -> list[AlertOut]:
    visible, params = _visible(audience)
    by_state = " AND a.state = ?" if state is not None else ""
    rows = store.select(
        f"SELECT {_COLUMNS} FROM alerts a "
        "JOIN alert_events e ON e.alert_id = a.alert_id AND e.kind = 'raised' "
        f"WHERE a.team_id = ?{visible}{by_state} "
        "ORDER BY a.raised_on DESC, e.position DESC",
        [str(audience.team_id), *params, *([state.value] if state is not None else [])],
    )
    return [_alert(row, audience) for row in rows]


def alert_changes(store: ViewStore, audience: Audience, after: int) -> list[ServerSentEvent]:
    """The team's alert events after log position `after`, oldest first."""
    visible, params = _visible(audience)
    rows = store.select(
        f"SELECT e.position, e.kind, {_COLUMNS} FROM alert_events e "
        "JOIN alerts a ON a.alert_id = e.alert_id "
        f"WHERE e.position > ? AND a.team_id = ?{visible} "
        f"ORDER BY e.position LIMIT {STREAM_PAGE}",
        [after, str(audience.team_id), *params],
    )
    return [
        ServerSentEvent(
            id=str(row["position"]),
            event=f"alert.{row['kind']}",
            data=_alert(row, audience).model_dump(mode="json"),
        )
        for row in rows
    ]


def wait_for_alerts(container: Container, position: int | None) -> None:
    """Read-your-writes against the Alerts log (an acknowledgement's position)."""
    if position is None:
        return
    head = container.alerts.head()
    if position > head:
        raise InvalidCommand("wait_for", f"position {position} is beyond the alerts log's {head}")
    timeout = container.settings.wait_for_timeout_seconds
    if not container.alert_view.wait_until(Alerts.name, position, timeout):
        raise ViewNotCaughtUp(position, container.alert_view.position(Alerts.name))


# --- routes: alerts -------------------------------------------------------------------


@router.get("/v1/teams/{team_id}/alerts")
def list_alerts(
    container: ContainerDep,
    audience: AudienceDep,
    state: AlertState | None = None,
    wait_for: Annotated[
        int | None,
        Query(ge=0, description="Wait until the view has this position of the Alerts log."),
    ] = None,
) -> AlertsOut:
    """The team's alerts, newest first."""
    wait_for_alerts(container, wait_for)
    return AlertsOut(
        team_id=audience.team_id, alerts=team_alerts(container.alert_view, audience, state)
    )


def _alert_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidCommand("alert_id", f"{raw!r} is not an alert id") from None


def _managed(container: Container, raw_id: str, actor: str, if_match: int | None) -> Alert:
    """The alert, if the actor manages its team (and it is at version `if_match`)."""
    alert = container.alerts.alert(_alert_id(raw_id))
    team: Team = container.keel.team(alert.team_id)
    if actor != team.manager:
        raise Forbidden(f"only the team's manager may act on alert {alert.id}")
    if if_match is not None and if_match != alert.version:
        raise VersionMismatch(if_match, alert.version)
    return alert


def _business_day(occurred_on: date | None, alert: Alert) -> date:
    day = business_date(occurred_on)
    calendar.check_occurred_on(day, not_before=alert.raised_on)
    return day


@router.post("/v1/alerts/{alert_id}/acknowledgement", status_code=201)
def acknowledge(
    alert_id: str,
    container: ContainerDep,
    response: Response,
    if_match: IfMatch,
    body: AcknowledgementIn | None = None,
    actor: Actor = "anonymous",
) -> AlertChangedOut:
    """The team's manager has seen the alert (409 if already acknowledged or cleared)."""
    body = body or AcknowledgementIn()
    alert = _managed(container, alert_id, actor, if_match)
    day = _business_day(body.occurred_on, alert)
    recorded = container.alerts.acknowledge(alert.id, by=actor, note=body.note, occurred_on=day)
    return _recorded(response, recorded.id, recorded.version, recorded.position, "acknowledged")


@router.post("/v1/alerts/{alert_id}/resolution", status_code=201)
def resolve(
    alert_id: str,
    container: ContainerDep,
    response: Response,
    if_match: IfMatch,
    body: ResolutionIn | None = None,
    actor: Actor = "anonymous",
) -> AlertChangedOut:
    """The team's manager closes the alert (cleared, reason "resolved")."""
    body = body or ResolutionIn()
    alert = _managed(container, alert_id, actor, if_match)
    day = _business_day(body.occurred_on, alert)
    recorded = container.alerts.resolve(alert.id, by=actor, occurred_on=day)
    return _recorded(response, recorded.id, recorded.version, recorded.position, "cleared")


def _recorded(
    response: Response, alert_id: UUID, version: int, position: int, state: str
) -> AlertChangedOut:
    response.headers["ETag"] = f'"{version}"'
    return AlertChangedOut(id=alert_id, state=state, version=version, position=position)


# --- routes: the stream -----------------------------------------------------------------


def resume_after(
    container: ContainerDep,
    since: Annotated[
        int | None,
        Query(ge=0, description="Start after this Alerts log position (default: now)."),
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> int:
    """Where the stream starts: after the client's last event when it reconnects, else
    after `since`, else after what the view holds now. A dependency, so that bad input
    is refused before the stream begins."""
    if last_event_id is not None:
        value = last_event_id.strip()
        if not (value.isascii() and value.isdigit()):
            raise InvalidCommand("Last-Event-ID", f"expected a log position, got {value!r}")
        return int(value)
    if since is not None:
        return since
    return container.alert_view.position(Alerts.name)


@router.get("/v1/teams/{team_id}/alerts/stream", response_class=EventSourceResponse)
async def stream_alerts(
    request: Request,
    container: ContainerDep,
    audience: AudienceDep,
    after: Annotated[int, Depends(resume_after)],
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: `alert.raised`, `alert.acknowledged`, `alert.cleared`, each
    with the alert as it is now and the event's Alerts log position as its id. A client
    that reconnects with `Last-Event-ID` misses nothing. FastAPI sends a `: ping`
    comment after 15 quiet seconds."""
    while not await request.is_disconnected():
        events = await run_in_threadpool(alert_changes, container.alert_view, audience, after)
        for sse in events:
            yield sse
        if events:
            after = int(events[-1].id or after)
        else:
            await anyio.sleep(STREAM_POLL_SECONDS)


# --- routes: tuning the rules ---------------------------------------------------------


def _rules_out(container: Container, team: Team) -> RulesOut:
    parameters = Parameters(container.settings.alert_rules)
    return RulesOut(
        team_id=team.id,
        version=team.version,
        rules=[
            RuleOut(
                rule=rule.value,
                parameters=parameters.of(rule, team.alert_rules),
                team_overrides=team.alert_rules.get(rule.value, {}),
            )
            for rule in Rule
        ],
    )


@router.get("/v1/teams/{team_id}/alert-rules")
def read_alert_rules(team_id: str, container: ContainerDep, response: Response) -> RulesOut:
    """Each rule's parameters for this team: the defaults, then the installation's
    settings, then the team's own."""
    team = container.keel.team(parse_id("team", team_id))
    response.headers["ETag"] = f'"{team.version}"'
    return _rules_out(container, team)


@router.put("/v1/teams/{team_id}/alert-rules/{rule}")
def tune_alert_rule(
    team_id: str,
    rule: str,
    body: RuleParametersIn,
    container: ContainerDep,
    response: Response,
    if_match: IfMatch,
    actor: Actor = "anonymous",
) -> RecordedOut:
    """Replace this team's own parameters of one rule (the team's manager only)."""
    team = container.keel.team(parse_id("team", team_id))
    if actor != team.manager:
        raise Forbidden(f"only the manager of team {team.id} may tune its alert rules")
    recorded = container.keel.tune_alert_rule(
        team.id,
        rule=parse_rule(rule).value,
        parameters=dict(body.parameters),
        actor=actor,
        occurred_on=calendar.today(),
        expected_version=if_match,
    )
    return created(response, recorded)
