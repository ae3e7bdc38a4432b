"""The FastAPI application factory. Nothing connects at import time: the container is
built in the lifespan (or handed in by a test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.bootstrap import Container, bootstrap
from services.gc_tuning import tune_for_service
from services.http import goals, history, problems, teams, work_life
from services.http.alerts import router as alerts_router
from services.http.deps import ContainerDep
from services.http.hot_path import Shortcut
from services.http.transfer import router as export_router
from services.relay import start_relays
from services.settings import Settings
from services.writer_process import WriterProcess

_BODY_METHODS = {b"POST", b"PUT", b"PATCH"}


class RequireJSON:
    """Refuse a request body that is not JSON with 415, before any parsing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"].encode() in _BODY_METHODS:
            headers = dict(scope["headers"])
            has_body = (
                headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
            )
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if has_body and media != b"application/json" and not media.endswith(b"+json"):
                shown = media.decode("latin-1") or "none"
                response = problems.problem(
                    415, "Unsupported media type", f"the body must be application/json, not {shown}"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        built = container or bootstrap(settings or Settings())
        app.state.container = built
        if owned:
            # An app that owns its container is a server's: see services/gc_tuning.py.
            tune_for_service()
            built.start()
            if built.settings.writer == "process":
                writer = WriterProcess(built.settings, built.keel.on_recorded)
                await writer.start()
                built.commands = writer
        # The relays run with the followers, here or in their child process.
        here = owned and built.follower_process is None
        relays = start_relays(built.settings, built.keel, built.alerts) if here else None
        app.state.relays = relays
        try:
            yield
        finally:
            if isinstance(built.commands, WriterProcess):
                await built.commands.stop()
            if relays is not None:
                relays.close()
            if owned:
                built.close()

    app = FastAPI(
        title="Keel",
        version="0.1.0",
        summary="Goal churn and team morale, from an immutable log of events.",
        lifespan=lifespan,
    )
    problems.install(app)
    # Check-ins take most of the traffic: see services/http/hot_path.py. Added first,
    # so it runs inside RequireJSON.
    app.add_middleware(
        Shortcut,
        method="POST",
        path="/v1/teams/{team_id}/check-ins",
        endpoint=work_life.answer_check_in,
    )
    app.add_middleware(RequireJSON)
    # FastAPI tries routes in order, and trying one costs about as much as a small
    # handler: the routes that take most of the traffic (check-ins, then the team
    # views) come first.
    app.include_router(work_life.router)
    app.include_router(teams.router)
    # Before goals: it answers GET /v1/goals/{id}?as_of= and hands the plain GET on.
    app.include_router(history.router)
    app.include_router(goals.router)
    app.include_router(export_router)
    app.include_router(alerts_router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    def readyz(container: ContainerDep) -> dict[str, Any] | JSONResponse:
        head = container.runner.head()
        positions = container.runner.positions()
        behind = {name: pos for name, pos in positions.items() if pos < head}
        failures = container.failures()
        ready: dict[str, Any] = {"status": "ready", "head": head, "views": positions}
        if container.settings.run_alerts:
            # The alert process is a follower of Keel's log like the views; the alerts
            # view follows the Alerts log, whose positions are its own.
            evaluated = container.alerts_evaluated()
            alerts_head = container.alerts.head()
            listed = container.alert_runner.positions()
            if evaluated < head:
                behind["alerts"] = evaluated
            behind.update({name: pos for name, pos in listed.items() if pos < alerts_head})
            ready["alerts"] = {"evaluated": evaluated, "head": alerts_head, "views": listed}
        if behind or "followers" in failures or "writer" in failures:
            detail = f"behind: {behind} (log head {head})"
            if failures:
                detail += f"; failing: {failures}"
            return problems.problem(503, "Not ready", detail)
        return ready

    return app
