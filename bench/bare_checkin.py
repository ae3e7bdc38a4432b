"""The baseline for the check-in figure: a bare FastAPI POST of a check-in, nothing else.

Same path and body as Keel's `POST /v1/teams/{team_id}/check-ins` (a pydantic model of
the same fields and types), validated, answered with a small JSON and 201, as Keel
does; uvicorn is started exactly as bench/bare_app.py (and `keel serve`) start it.
"""

from __future__ import annotations

import uuid
from datetime import date
from uuid import UUID

from fastapi import FastAPI
from pydantic import BaseModel

from bench.bare_app import serve


class CheckInIn(BaseModel):
    member_id: UUID
    day: date
    mood: int
    progress: list[str] = []
    setbacks: list[str] = []
    wins: list[str] = []
    blockers: list[str] = []
    private_note: str | None = None


class CheckInOut(BaseModel):
    id: UUID
    member_id: UUID
    day: date
    win_ids: list[UUID]
    blocker_ids: list[UUID]
    version: int
    position: int


def create_app() -> FastAPI:
    app = FastAPI(title="bare check-in")
    seen = {"count": 0}

    @app.post("/v1/teams/{team_id}/check-ins", status_code=201)
    async def check_in(team_id: str, body: CheckInIn) -> CheckInOut:
        seen["count"] += 1
        return CheckInOut(
            id=uuid.uuid5(body.member_id, body.day.isoformat()),
            member_id=body.member_id,
            day=body.day,
            win_ids=[uuid.uuid4() for _ in body.wins],
            blocker_ids=[uuid.uuid4() for _ in body.blockers],
            version=seen["count"],
            position=seen["count"],
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    serve("bench.bare_checkin:create_app", "Serve the bare check-in baseline.")


if __name__ == "__main__":
    main()
