"""A team's events as JSON lines, for its manager: the file `keel import` reads."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from services import transfer
from services.access import Forbidden, viewer_of
from services.http.deps import Actor, KeelDep, parse_id

router = APIRouter(tags=["export"])

NDJSON = "application/x-ndjson"


@router.get(
    "/v1/teams/{team_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "One event per line."}},
)
def export_team(team_id: str, keel: KeelDep, actor: Actor = "anonymous") -> StreamingResponse:
    """The team's events, its goals', its members' journals' and its recognitions',
    oldest first, up to the head of the log when asked. Private notes are withheld:
    only their author reads them."""
    team = keel.team(parse_id("team", team_id))
    if not viewer_of(team, actor).is_manager:
        raise Forbidden(f"only the manager of team {team.id} may export its events")
    records = transfer.export_records(keel, team_id=team.id, withhold_private_notes=True)

    def lines() -> Iterator[str]:
        for record in records:
            yield transfer.jsonl(record)

    filename = f"keel-team-{team.id}.jsonl"
    return StreamingResponse(
        lines(),
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
