"""The busiest command routes read their request and render their answer themselves.

FastAPI's generic path resolves every parameter through its dependency machinery, reads
the body with `json.loads`, validates the result, then validates the returned model
once more before rendering it: for a check-in, that was about half of the route's own
CPU (measured in process, without uvicorn: 282 us a request against 156 with these
helpers). Here pydantic parses and validates the raw bytes in one pass, the path
parameter and the actor header are read directly, and the answer goes from the model
straight to bytes.

Nothing a client sees changes. A bad body, path or header raises the same
`RequestValidationError` as FastAPI would, located the same way ("body", "header"), so
the same problem+json handler answers it; and the OpenAPI document still describes the
body, the parameters and the answer (`described`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.http.deps import ACTOR_DESCRIPTION, ACTOR_HEADER, ACTOR_RULES

M = TypeVar("M", bound=BaseModel)

_ACTOR: TypeAdapter[str] = TypeAdapter(Annotated[str, StringConstraints(**ACTOR_RULES)])
_ACTOR_KEY = ACTOR_HEADER.lower()


def described(body: type[BaseModel], *path_parameters: str) -> dict[str, Any]:
    """`openapi_extra` for a route that reads `body`, its path and the actor itself."""
    schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    actor = {**_ACTOR.json_schema(), "default": "anonymous"}
    return {
        "parameters": [
            *(
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in path_parameters
            ),
            {
                "name": ACTOR_HEADER,
                "in": "header",
                "required": False,
                "schema": actor,
                "description": ACTOR_DESCRIPTION,
            },
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        # What FastAPI lists for a route whose parameters it reads itself.
        "responses": {
            "422": {
                "description": "Validation Error",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
                    }
                },
            }
        },
    }


async def read_command(request: Request, model: type[M]) -> tuple[str, M]:
    """The actor and the body, or a 422 naming every field at fault in either."""
    errors: list[Any] = []
    actor = "anonymous"
    raw_actor = request.headers.get(_ACTOR_KEY)
    if raw_actor is not None:
        try:
            actor = _ACTOR.validate_python(raw_actor)
        except ValidationError as error:
            errors += _located(error, "header", ACTOR_HEADER)
    raw = await request.body()
    body: M | None = None
    if not raw:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required"})
    else:
        try:
            body = model.model_validate_json(raw)
        except ValidationError as error:
            body, more = _read_as_fastapi_does(raw, model, error)
            errors += more
    if errors or body is None:
        raise RequestValidationError(errors)
    return actor, body


def _read_as_fastapi_does(
    raw: bytes, model: type[M], error: ValidationError
) -> tuple[M | None, list[Any]]:
    """pydantic reads JSON as UTF-8 only; FastAPI's `json.loads` also takes a byte
    order mark, UTF-16 and UTF-32, and lone surrogate escapes. What pydantic cannot
    parse goes that way, so every body FastAPI took is still taken, and read alike."""
    if not any(e["type"] == "json_invalid" for e in error.errors()):
        return None, _located(error, "body")
    try:
        parsed = json.loads(raw)
    except ValueError:  # not JSON for either: pydantic's error says where
        return None, _located(error, "body")
    try:
        return model.model_validate(parsed), []
    except ValidationError as again:
        return None, _located(again, "body")


def rendered(answer: BaseModel | bytes, status: int, *, etag: int | None = None) -> Response:
    """The answer as JSON: a model, or its JSON already written."""
    headers = {"ETag": f'"{etag}"'} if etag is not None else None
    body = answer if isinstance(answer, bytes) else answer.model_dump_json()
    return Response(body, status, headers=headers, media_type="application/json")


def _located(error: ValidationError, *where: str) -> list[Any]:
    return [{**e, "loc": (*where, *e["loc"])} for e in error.errors(include_url=False)]


Endpoint = Callable[[Request], Awaitable[Response]]


class Shortcut:
    """Serve one route's requests before Starlette's routing and FastAPI's request
    handling see them.

    Between the user middleware and a route, a request passes the exception
    middleware, the exit-stack middleware, the router trying each route, FastAPI's
    request handler and its dependency solver: for a check-in, about a fifth of the
    event loop's CPU (py-spy, under the check-in benchmark's load). A shortcut calls the
    route's own endpoint instead, and answers its exceptions with the app's own
    handlers, so a client sees the same answers. It sits inside the other user
    middleware (the 415 check), and the body-size limit and the 500 handler stay
    outside it. Anything it does not match exactly (another method, a trailing slash,
    a root path) goes to the app as before.
    """

    def __init__(self, app: ASGIApp, *, method: str, path: str, endpoint: Endpoint) -> None:
        self.app = app
        self.method = method
        # "/v1/teams/{team_id}/check-ins" -> Starlette's own pattern for a str parameter.
        self.pattern = re.compile("^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", path) + "$")
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            self.pattern.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == self.method
            else None
        )
        if found is None or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        scope["path_params"] = found.groupdict()
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Exception as error:
            response = await _handled(request, error)
        await response(scope, receive, send)


async def _handled(request: Request, error: Exception) -> Response:
    """The app's answer to `error`: its handler for the nearest class, as Starlette's
    exception middleware chooses. An error no handler below Exception takes goes on to
    the error middleware outside, which answers 500 and hands it to the server to log,
    as it does for the router."""
    handlers = request.app.exception_handlers
    for cls in type(error).__mro__:
        if cls is Exception:
            break
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = await handler(request, error)
            return response
    raise error
