"""Inner-work-life routes: check-ins and their corrections, blockers, success
definitions, recognitions, and the team views built from them."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID, uuid5

import orjson
from fastapi import APIRouter, Query, Request, Response

from domain import calendar
from domain.journal import CheckIn, Entry, Journal
from projections.morale import Mood, member_trend
from services import work_life
from services.access import Forbidden, Viewer, viewer_of
from services.errors import NotFound
from services.http.deps import (
    Actor,
    CommandsDep,
    ContainerDep,
    KeelDep,
    WaitFor,
    business_date,
    commands_of,
    parse_id,
)
from services.http.hot_path import described, read_command, rendered
from services.http.schemas import (
    CheckInIn,
    CheckInOut,
    ClearanceIn,
    ErasureIn,
    MinGroupIn,
    RecognitionIn,
    RecordedOut,
    Report,
    SuccessIn,
)
from services.http.teams import created
from services.keel import Keel, Recorded

router = APIRouter(tags=["inner work life"])

# The date window of a view: ?from=&to= (inclusive).
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query()]


def _check_in_out(member_id: UUID, recorded: Recorded, entry: Entry) -> CheckInOut:
    return CheckInOut(
        # A check-in is one member's one day: its id follows from both.
        id=uuid5(recorded.id, entry.day.isoformat()),
        member_id=member_id,
        day=entry.day,
        win_ids=[UUID(w["id"]) for w in entry.wins],
        blocker_ids=[UUID(b["id"]) for b in entry.blockers],
        version=recorded.version,
        position=recorded.position,
    )


def _check_in_json(member_id: UUID, recorded: Recorded, entry: Entry) -> bytes:
    """What `_check_in_out(...).model_dump_json()` gives, written directly: the busiest
    route's answer, without building and checking a model (tests/test_http_work_life.py
    compares the two)."""
    return orjson.dumps(
        {
            "id": str(uuid5(recorded.id, entry.day.isoformat())),
            "member_id": str(member_id),
            "day": entry.day.isoformat(),
            "win_ids": [w["id"] for w in entry.wins],
            "blocker_ids": [b["id"] for b in entry.blockers],
            "version": recorded.version,
            "position": recorded.position,
        }
    )


def _report(body: Report, day: date) -> CheckIn:
    return CheckIn(
        day=day,
        mood=body.mood,
        progress=body.progress,
        setbacks=body.setbacks,
        wins=body.wins,
        blockers=body.blockers,
        private_note=body.private_note,
    )


# --- commands -------------------------------------------------------------------------
# The busiest commands are `async` and run in Keel's group-commit writer, which saves
# the commands that arrive together in one transaction (services/group_commit.py); they
# answer once that is committed. The domain work itself takes microseconds.


@router.post(
    "/v1/teams/{team_id}/check-ins",
    status_code=201,
    response_model=CheckInOut,
    openapi_extra=described(CheckInIn, "team_id"),
)
async def check_in(request: Request) -> Response:
    # The busiest route reads its own input, and the app reaches it through a shortcut
    # (see services/http/hot_path.py); this entry describes it and serves any request
    # the shortcut leaves to the router.
    return await answer_check_in(request)


async def answer_check_in(request: Request) -> Response:
    actor, body = await read_command(request, CheckInIn)
    team = parse_id("team", request.path_params["team_id"])
    recorded, entry = await commands_of(request).run(
        "check_in", team, body.member_id, _report(body, body.day), actor=actor
    )
    return rendered(_check_in_json(body.member_id, recorded, entry), 201, etag=recorded.version)


@router.post("/v1/members/{member_id}/check-ins/{day}/correction", status_code=201)
async def correct_check_in(
    member_id: str,
    day: date,
    body: Report,
    commands: CommandsDep,
    response: Response,
    actor: Actor = "anonymous",
) -> CheckInOut:
    member, report = parse_id("member", member_id), _report(body, day)
    recorded, entry = await commands.run("correct_check_in", member, report, actor=actor)
    response.headers["ETag"] = f'"{recorded.version}"'
    return _check_in_out(member, recorded, entry)


@router.post("/v1/blockers/{blocker_id}/clearance", status_code=201)
def clear_blocker(
    blocker_id: str,
    body: ClearanceIn,
    container: ContainerDep,
    response: Response,
    actor: Actor = "anonymous",
) -> RecordedOut:
    blocker = parse_id("blocker", blocker_id)
    store = container.work_life
    member = work_life.member_of_blocker(store, blocker)
    if member is None:
        # It may have been reported a moment ago: let the view catch up once.
        timeout = container.settings.wait_for_timeout_seconds
        store.wait_until(Keel.name, container.keel.head(), timeout)
        member = work_life.member_of_blocker(store, blocker)
    if member is None:
        raise NotFound("blocker", blocker)
    recorded = container.keel.clear_blocker(
        member, blocker, note=body.note, actor=actor, occurred_on=business_date(body.occurred_on)
    )
    return created(response, recorded)


@router.post("/v1/members/{member_id}/success-definition", status_code=201)
async def define_success(
    member_id: str,
    body: SuccessIn,
    commands: CommandsDep,
    response: Response,
    actor: Actor = "anonymous",
) -> RecordedOut:
    member, on = parse_id("member", member_id), business_date(body.occurred_on)
    recorded = await commands.run(
        "define_success", member, text=body.text, actor=actor, occurred_on=on
    )
    return created(response, recorded)


@router.post("/v1/recognitions", status_code=201)
async def recognise(
    body: RecognitionIn, commands: CommandsDep, response: Response, actor: Actor = "anonymous"
) -> RecordedOut:
    recorded = await commands.run(
        "recognise",
        from_member_id=body.from_member_id,
        to_member_id=body.to_member_id,
        win_id=body.win_id,
        message=body.message,
        actor=actor,
        occurred_on=business_date(body.occurred_on),
    )
    return created(response, recorded)


@router.post("/v1/members/{member_id}/erasure", status_code=201)
async def erase_member(
    member_id: str,
    commands: CommandsDep,
    keel: KeelDep,
    response: Response,
    body: ErasureIn | None = None,
    actor: Actor = "anonymous",
) -> RecordedOut:
    """Erase what a member wrote (crypto-shredding): their key is deleted."""
    member, on = parse_id("member", member_id), business_date(body.occurred_on if body else None)
    # By the writer, which seals what the member writes next; the copy of the key this
    # process may hold goes too.
    recorded = await commands.run("erase_member", member, actor=actor, occurred_on=on)
    keel.vault.drop(Journal.id_for(member))
    return created(response, recorded)


@router.post("/v1/teams/{team_id}/min-group", status_code=201)
def set_min_group(
    team_id: str, body: MinGroupIn, keel: KeelDep, response: Response, actor: Actor = "anonymous"
) -> RecordedOut:
    recorded = keel.set_min_group(
        parse_id("team", team_id),
        min_group=body.min_group,
        actor=actor,
        occurred_on=business_date(body.occurred_on),
    )
    return created(response, recorded)


# --- views ------------------------------------------------------------------------------
# The views answer with JSON written directly: FastAPI's generic encoder walks and copies
# every value of a response first, which costs several times the query itself on a
# journal of two years, and its garbage is what stretches the slowest responses.


def _plain(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(payload: dict[str, Any]) -> Response:
    body = json.dumps(
        payload, default=_plain, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )
    return Response(body, media_type="application/json")


def _team_view(
    container: ContainerDep, team_id: str, actor: str, position: int | None
) -> tuple[UUID, Viewer]:
    team = container.keel.read_team(parse_id("team", team_id))
    container.wait_for(container.work_life, position)
    return team.id, viewer_of(team, actor)


def _scope(viewer: Viewer) -> str:
    """How much of a team view this person sees (see services/access.py)."""
    if viewer.is_manager:
        return "team"
    return "member" if viewer.member_id is not None else "aggregate"


def _visible(viewer: Viewer, member_id: str) -> bool:
    return viewer.may_see_member(UUID(member_id))


@router.get("/v1/teams/{team_id}/morale")
def morale(
    team_id: str,
    container: ContainerDep,
    granularity: Literal["day", "week"] = "week",
    from_: From = None,
    to: To = None,
    wait_for: WaitFor = None,
    actor: Actor = "anonymous",
) -> Response:
    team, _ = _team_view(container, team_id, actor, wait_for)
    group = work_life.min_group(container.work_life, team, container.settings.min_group)
    points = work_life.morale(
        container.work_life, team, granularity=granularity, group=group, since=from_, until=to
    )
    return _json(
        {
            "team_id": team,
            "min_group": group,
            "granularity": granularity,
            "points": [p.__dict__ for p in points],
        }
    )


@router.get("/v1/teams/{team_id}/progress")
def progress(
    team_id: str,
    container: ContainerDep,
    from_: From = None,
    to: To = None,
    wait_for: WaitFor = None,
    actor: Actor = "anonymous",
) -> Response:
    team, viewer = _team_view(container, team_id, actor, wait_for)
    weight = container.settings.setback_weight
    whole, members = work_life.progress(
        container.work_life, team, setback_weight=weight, since=from_, until=to
    )
    return _json(
        {
            "team_id": team,
            "setback_weight": weight,
            "scope": _scope(viewer),
            "team": whole.__dict__,
            "members": [
                {"member_id": m, **line.__dict__}
                for m, line in members.items()
                if _visible(viewer, m)
            ],
        }
    )


@router.get("/v1/teams/{team_id}/recognition")
def recognition(
    team_id: str, container: ContainerDep, wait_for: WaitFor = None, actor: Actor = "anonymous"
) -> Response:
    team, viewer = _team_view(container, team_id, actor, wait_for)
    report = work_life.recognition(container.work_life, team, today=calendar.today())
    return _json(
        {
            "team_id": team,
            "scope": _scope(viewer),
            "peer_30d": report.peer_30d,
            "manager_30d": report.manager_30d,
            "unrecognised_count": len(report.unrecognised_wins),
            "members": [m.__dict__ for m in report.members if _visible(viewer, m.member_id)],
            "unrecognised_wins": [
                w.__dict__ for w in report.unrecognised_wins if _visible(viewer, w.member_id)
            ],
        }
    )


@router.get("/v1/teams/{team_id}/participation")
def participation(
    team_id: str,
    container: ContainerDep,
    from_: From = None,
    to: To = None,
    wait_for: WaitFor = None,
    actor: Actor = "anonymous",
) -> Response:
    team, viewer = _team_view(container, team_id, actor, wait_for)
    today = calendar.today()
    weeks, silent = work_life.participation(
        container.work_life, team, since=from_, until=to or today, today=today
    )
    return _json(
        {
            "team_id": team,
            "scope": _scope(viewer),
            "weeks": [w.__dict__ for w in weeks],
            "silent_count": len(silent),
            "silent": [s.__dict__ for s in silent if _visible(viewer, s.member_id)],
        }
    )


@router.get("/v1/teams/{team_id}/blockers")
def blockers(
    team_id: str, container: ContainerDep, wait_for: WaitFor = None, actor: Actor = "anonymous"
) -> Response:
    team, viewer = _team_view(container, team_id, actor, wait_for)
    still_open, cleared = work_life.blockers(container.work_life, team, today=calendar.today())
    return _json(
        {
            "team_id": team,
            "scope": _scope(viewer),
            "open_count": len(still_open),
            "open": [b.__dict__ for b in still_open if _visible(viewer, b.member_id)],
            "cleared": [b.__dict__ for b in cleared if _visible(viewer, b.member_id)],
        }
    )


@router.get("/v1/members/{member_id}/journal")
def journal(
    member_id: str,
    keel: KeelDep,
    granularity: Literal["day", "week"] = "week",
    actor: Actor = "anonymous",
) -> Response:
    journal = keel.journal(parse_id("member", member_id))
    viewer = viewer_of(keel.read_team(journal.team_id), actor)
    if not viewer.may_see_member(journal.member_id):
        raise Forbidden(
            f"{actor!r} may not read this journal: only the member and their manager may"
        )
    own = viewer.may_see_private_note(journal.member_id)
    entries = sorted(journal.entries.values(), key=lambda e: e.day)
    moods = [Mood(str(journal.member_id), e.day, e.mood) for e in entries]
    payload = {
        "member_id": journal.member_id,
        "team_id": journal.team_id,
        "success": journal.success,
        "entries": [
            {
                "day": e.day,
                "mood": e.mood,
                "progress": e.progress,
                "setbacks": e.setbacks,
                "wins": e.wins,
                "blockers": [
                    {**b, "cleared_on": journal.blockers[UUID(b["id"])].cleared_on}
                    for b in e.blockers
                ],
                **({"private_note": e.private_note} if own else {}),
            }
            for e in entries
        ],
        "trend": [p.__dict__ for p in member_trend(moods, granularity)],
    }
    return _json(payload)
