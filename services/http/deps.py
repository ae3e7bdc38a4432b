"""Request-scoped dependencies: the container, the actor, If-Match, ids, dates."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Query, Request

from domain import calendar
from domain.errors import InvalidCommand
from services.bootstrap import Container
from services.errors import NotFound
from services.keel import Keel
from services.writer_process import Commands

# The dependencies here are `async def` although they never await: FastAPI runs a plain
# `def` dependency in its thread pool, one hop per dependency per request, and those
# hops cost more than a whole bare request. They do no I/O, so they block nothing.


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def keel_of(request: Request) -> Keel:
    container: Container = request.app.state.container
    return container.keel


def commands_of(request: Request) -> Commands:
    container: Container = request.app.state.container
    return container.commands


async def get_commands(request: Request) -> Commands:
    return commands_of(request)


async def get_keel(request: Request) -> Keel:
    # Straight from the app state, not through get_container: one dependency level
    # less on every command.
    return keel_of(request)


def get_if_match(
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None,
) -> int | None:
    """Accept `3`, `"3"` and `W/"3"`: the aggregate version the client last saw."""
    if if_match is None:
        return None
    found = re.fullmatch(r'\s*(?:W/)?"?(\d{1,12})"?\s*', if_match)
    if found is None:
        raise InvalidCommand("If-Match", f"expected an aggregate version, got {if_match!r}")
    return int(found.group(1))


async def if_match_header(
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None,
) -> int | None:
    """`get_if_match` as a dependency that runs on the event loop (see above)."""
    return get_if_match(if_match)


def parse_id(kind: str, raw: str) -> UUID:
    """An id that cannot exist is simply not found."""
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(kind, raw) from None


def business_date(occurred_on: date | None) -> date:
    return occurred_on if occurred_on is not None else calendar.today()


ContainerDep = Annotated[Container, Depends(get_container)]
KeelDep = Annotated[Keel, Depends(get_keel)]
# The busiest commands go through this: see services/writer_process.py.
CommandsDep = Annotated[Commands, Depends(get_commands)]
# Header values are ASCII (RFC 9110): anything else would be stored garbled, so it is
# refused. Printable, with no space at either end.
ACTOR_HEADER = "X-Keel-Actor"
ACTOR_RULES: dict[str, Any] = {
    "min_length": 1,
    "max_length": 200,
    "pattern": r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
}
ACTOR_DESCRIPTION = "Who is acting: a member id or a name, in printable ASCII."
Actor = Annotated[str, Header(alias=ACTOR_HEADER, description=ACTOR_DESCRIPTION, **ACTOR_RULES)]
IfMatch = Annotated[int | None, Depends(if_match_header)]
WaitFor = Annotated[
    int | None,
    Query(ge=0, description="Wait until the view has processed this log position."),
]
