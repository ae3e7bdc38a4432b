"""Every error the API answers is `application/problem+json` (RFC 9457), and names the
field or the resource at fault. No input should reach the generic 500 handler."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from domain.errors import Conflict, InvalidCommand
from services.access import Forbidden
from services.errors import NotFound, VersionMismatch, ViewNotCaughtUp
from services.writer_process import WriterUnavailable

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[int | str, ...]) -> str:
    # ("body", "target") -> "target"; ("query", "window_days") -> "window_days"
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header")
        else [str(p) for p in loc]
    )
    return ".".join(parts) or str(loc[0] if loc else "body")


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            errors.append(
                {
                    "field": "body",
                    "message": f"invalid JSON: {error.get('ctx', {}).get('error', 'malformed')}",
                }
            )
            continue
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        errors.append({"field": _field(loc), "message": message})
    fields = ", ".join(e["field"] for e in errors)
    return problem(422, "Invalid input", f"invalid: {fields}", errors=errors)


async def _invalid_command(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidCommand)
    return problem(
        422,
        "Invalid input",
        str(exc),
        errors=[{"field": exc.field, "message": exc.message}],
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem(404, "Not found", str(exc))


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return problem(403, "Forbidden", str(exc))


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return problem(409, "Conflict", str(exc))


async def _version_mismatch(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VersionMismatch)
    headers = {"ETag": f'"{exc.actual}"'} if exc.actual is not None else None
    return problem(409, "Version conflict", str(exc), headers=headers)


async def _not_caught_up(request: Request, exc: Exception) -> JSONResponse:
    return problem(503, "View not caught up", str(exc), headers={"Retry-After": "1"})


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    titles = {
        400: "Bad request",
        404: "Not found",
        405: "Method not allowed",
        415: "Unsupported media type",
    }
    return problem(
        exc.status_code,
        titles.get(exc.status_code, "Error"),
        str(exc.detail),
        headers=dict(exc.headers or {}),
    )


async def _writer_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Said once per request, without a traceback: the writer process restarts on its
    # own, and its supervisor logs why it went down.
    log.warning("refused a command: %s", exc)
    return problem(503, "Writer unavailable", f"{exc}; retry", headers={"Retry-After": "1"})


async def _persistence(request: Request, exc: Exception) -> JSONResponse:
    log.exception("storage failed", exc_info=exc)
    return problem(503, "Storage unavailable", "the event store could not be reached; retry")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "Internal error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidCommand, _invalid_command)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(VersionMismatch, _version_mismatch)
    app.add_exception_handler(ViewNotCaughtUp, _not_caught_up)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(WriterUnavailable, _writer_unavailable)
    app.add_exception_handler(PersistenceError, _persistence)
    app.add_exception_handler(Exception, _unexpected)
