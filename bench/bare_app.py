"""The baseline server for the HTTP figure: a bare FastAPI POST, and nothing else.

It takes the same path shape and the same body as Keel's `POST /v1/goals/{id}/target`
(a pydantic model with `target: float` and `reason: str`), validates it, and answers a
small JSON with 201, as Keel does. It is written the way a plain FastAPI endpoint is
usually written (`async def`, no dependencies), so it is the cost of the HTTP stack
alone: uvicorn, Starlette routing, pydantic validation and JSON rendering.

`main` starts uvicorn exactly as `keel serve` does (one worker, log level info, access
log on, uvicorn's automatic choice of HTTP parser and event loop), so only the
application differs between the two servers.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class TargetIn(BaseModel):
    target: float
    reason: str


class Accepted(BaseModel):
    id: str
    version: int
    position: int


def create_app() -> FastAPI:
    app = FastAPI(title="bare")
    seen = {"count": 0}

    @app.post("/v1/goals/{goal_id}/target", status_code=201)
    async def change_target(goal_id: str, body: TargetIn) -> Accepted:
        seen["count"] += 1
        return Accepted(id=goal_id, version=seen["count"], position=seen["count"])

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(app_factory: str, description: str) -> None:
    """Serve a baseline app from the command line (--port, --host)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The same call as services.cli.serve, with only the application swapped.
    uvicorn.run(app_factory, factory=True, host=args.host, port=args.port, log_level="info")


def main() -> None:
    serve("bench.bare_app:create_app", "Serve the bare baseline app.")


if __name__ == "__main__":
    main()
