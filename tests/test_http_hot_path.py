"""The hot routes' own input and output: the same answers as FastAPI's generic path,
checked on a small app that reads a model both ways; and the shortcut that serves a
route ahead of the router, with the same answers as the router gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel

from domain.errors import Conflict
from services.http import problems
from services.http.deps import Actor
from services.http.hot_path import Shortcut, described, read_command, rendered
from services.http.schemas import CheckInIn


class Answer(BaseModel):
    team_id: str
    actor: str
    mood: int


def _app() -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.post("/generic/{team_id}", status_code=201)
    async def generic(team_id: str, body: CheckInIn, actor: Actor = "anonymous") -> Answer:
        return Answer(team_id=team_id, actor=actor, mood=body.mood)

    @app.post(
        "/hot/{team_id}",
        status_code=201,
        response_model=Answer,
        openapi_extra=described(CheckInIn, "team_id"),
    )
    async def hot(request: Request) -> Response:
        return await answer(request)

    # The same endpoint behind a shortcut; the router has it too, and notes each
    # request the shortcut left to it.
    app.add_middleware(Shortcut, method="POST", path="/short/{team_id}", endpoint=answer)

    @app.post("/short/{team_id}", status_code=201, response_model=Answer)
    async def routed(request: Request) -> Response:
        app.state.routed += 1
        return await answer(request)

    app.state.routed = 0
    return app


async def answer(request: Request) -> Response:
    actor, body = await read_command(request, CheckInIn)
    if body.mood == 5:
        raise Conflict("five is the most anyone may feel today")
    if body.mood == 1:
        raise RuntimeError("an error nobody expected")
    answer = Answer(team_id=request.path_params["team_id"], actor=actor, mood=body.mood)
    return rendered(answer, 201, etag=7)


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(_app()) as client:
        yield client


GOOD = {"member_id": "6a3c2f0e-0000-4000-8000-000000000001", "day": "2025-01-06", "mood": 4}

CASES: list[tuple[str, dict[str, Any]]] = [
    ("good", {"json": GOOD, "headers": {"X-Keel-Actor": "kay"}}),
    ("no actor", {"json": GOOD}),
    ("mood 6", {"json": {**GOOD, "mood": 6}}),
    ("mood as text", {"json": {**GOOD, "mood": "4"}}),
    ("unknown field", {"json": {**GOOD, "extra": 1}}),
    ("missing fields", {"json": {}}),
    ("a list, not an object", {"json": [1]}),
    ("bad item", {"json": {**GOOD, "wins": ["", 3]}}),
    ("blank actor", {"json": GOOD, "headers": {"X-Keel-Actor": " "}}),
    ("bad actor and body", {"json": {**GOOD, "mood": 0}, "headers": {"X-Keel-Actor": ""}}),
    ("invalid JSON", {"content": b'{"mood": ', "headers": {"content-type": "application/json"}}),
    ("UTF-8 with a byte order mark", {"content": b"\xef\xbb\xbf" + json.dumps(GOOD).encode()}),
    ("UTF-16", {"content": json.dumps(GOOD).encode("utf-16")}),
    ("a lone surrogate", {"content": json.dumps({**GOOD, "private_note": "\ud800"}).encode()}),
    ("no body", {"headers": {"content-type": "application/json"}}),
]


@pytest.mark.parametrize(("case", "request_args"), CASES, ids=[c for c, _ in CASES])
def test_the_hot_path_answers_as_fastapi_does(
    client: TestClient, case: str, request_args: dict[str, Any]
) -> None:
    if "content" in request_args:
        request_args = {"headers": {"content-type": "application/json"}, **request_args}
    generic = client.post("/generic/t1", **request_args)
    hot = client.post("/hot/t1", **request_args)
    assert hot.status_code == generic.status_code
    assert hot.headers["content-type"] == generic.headers["content-type"]
    if case in ("invalid JSON", "a list, not an object"):
        # pydantic words these differently for bytes and for parsed JSON; both name
        # the body.
        fields = [e["field"] for e in hot.json()["errors"]]
        assert fields == [e["field"] for e in generic.json()["errors"]] == ["body"]
    else:
        assert hot.json() == generic.json()


def test_a_good_command_is_rendered_with_its_etag(client: TestClient) -> None:
    answer = client.post("/hot/t1", json=GOOD, headers={"X-Keel-Actor": "kay"})
    assert answer.status_code == 201
    assert answer.json() == {"team_id": "t1", "actor": "kay", "mood": 4}
    assert answer.headers["ETag"] == '"7"'


def test_the_openapi_document_describes_the_hot_route_as_the_generic_one(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    generic, hot = paths["/generic/{team_id}"]["post"], paths["/hot/{team_id}"]["post"]
    assert [(p["name"], p["in"]) for p in hot["parameters"]] == [
        (p["name"], p["in"]) for p in generic["parameters"]
    ]
    actor = next(p for p in hot["parameters"] if p["name"] == "X-Keel-Actor")
    assert actor["schema"]["maxLength"] == 200
    body = hot["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == set(CheckInIn.model_fields)
    assert set(body["required"]) == {"member_id", "day", "mood"}
    assert hot["responses"] == generic["responses"]  # 201, and 422 for bad input


SHORTCUT_CASES = [
    *CASES,
    ("a refusal", {"json": {**GOOD, "mood": 5}}),
    ("an unexpected error", {"json": {**GOOD, "mood": 1}}),
]


@pytest.mark.parametrize(
    ("case", "request_args"), SHORTCUT_CASES, ids=[c for c, _ in SHORTCUT_CASES]
)
def test_the_shortcut_answers_as_the_router_does(case: str, request_args: dict[str, Any]) -> None:
    if "content" in request_args:
        request_args = {"headers": {"content-type": "application/json"}, **request_args}
    app = _app()
    # The router's error middleware raises an unexpected error again after its 500, for
    # the server to log; the app's own handler has logged it already.
    with TestClient(app, raise_server_exceptions=False) as client:
        routed = client.post("/hot/t1", **request_args)
        short = client.post("/short/t1", **request_args)
    assert app.state.routed == 0, "the router served what the shortcut should have"
    assert (short.status_code, short.headers["content-type"]) == (
        routed.status_code,
        routed.headers["content-type"],
    )
    assert short.json() == routed.json()
    assert short.headers.get("ETag") == routed.headers.get("ETag")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/short/t1", 405), ("POST", "/short/t1/", 201), ("POST", "/short/", 404)],
)
def test_what_the_shortcut_does_not_match_goes_to_the_router(
    method: str, path: str, status: int
) -> None:
    app = _app()
    with TestClient(app) as client:
        answer = client.request(method, path, json=GOOD)
    assert answer.status_code == status
    # The trailing slash is redirected to the route the router has, which is then
    # served by the shortcut: the router itself serves nothing.
    assert app.state.routed == 0


def test_an_unexpected_error_reaches_the_server_as_it_does_through_the_router() -> None:
    # Starlette's error middleware answers 500, then raises the error again for the
    # server to log (the test client raises it here).
    with TestClient(_app()) as client:
        for path in ("/hot/t1", "/short/t1"):
            with pytest.raises(RuntimeError, match="nobody expected"):
                client.post(path, json={**GOOD, "mood": 1})
