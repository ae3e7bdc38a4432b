"""Bad input never reaches a 500: each gets a 4xx application/problem+json that names
the problem (the field, for a 422), and records nothing."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast
from uuid import uuid4

import pytest
from fastapi import FastAPI

from domain import calendar
from services.bootstrap import Container, bootstrap
from services.http.app import create_app
from services.settings import Settings

with warnings.catch_warnings():  # as in conftest: starlette prefers httpx2 to httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
UNSET: Any = object()


def day(offset: int) -> str:
    return (calendar.today() + timedelta(days=offset)).isoformat()


def container_of(client: TestClient) -> Container:
    container: Container = cast(FastAPI, client.app).state.container
    return container


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


GOAL = {"title": "Latency", "metric": "p99", "target": 300, "unit": "ms", "due": day(90)}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the whole module: every request here is refused and records nothing
    (each test checks that), so the world below stays as it was built."""
    data_dir = tmp_path_factory.mktemp("errors") / "var"
    settings = Settings(store="sqlite", data_dir=data_dir, poll_interval_seconds=0.01)
    with TestClient(create_app(settings=settings)) as client:
        yield client


@pytest.fixture(scope="module")
def world(shared: TestClient) -> dict[str, str]:
    """A team with a current and a departed member, an active goal with an open and an
    answered concern, an achieved goal, and an id that names nothing."""
    client = shared
    team = created(
        client.post(
            "/v1/teams", json={"name": "Platform", "manager": "Maya", "occurred_on": day(-30)}
        )
    )["id"]
    member = created(client.post(f"/v1/teams/{team}/members", json={"name": "Bo"}))["id"]
    left = created(client.post(f"/v1/teams/{team}/members", json={"name": "Cy"}))["id"]
    created(client.post(f"/v1/teams/{team}/members/{left}/departure", json={"reason": "resigned"}))
    goal = created(client.post(f"/v1/teams/{team}/goals", json={**GOAL, "occurred_on": day(-10)}))[
        "id"
    ]
    concern = {"kind": "unclear", "text": "which endpoint?"}
    open_concern = created(client.post(f"/v1/goals/{goal}/concerns", json=concern))["id"]
    answered = created(client.post(f"/v1/goals/{goal}/concerns", json=concern))["id"]
    created(client.post(f"/v1/goals/{goal}/concerns/{answered}/answer", json={"text": "checkout"}))
    achieved = created(client.post(f"/v1/teams/{team}/goals", json=GOAL))["id"]
    late = created(client.post(f"/v1/goals/{achieved}/concerns", json=concern))["id"]
    created(client.post(f"/v1/goals/{achieved}/achievement"))
    return {
        "team": team,
        "member": member,
        "left": left,
        "goal": goal,  # at version 4
        "concern": open_concern,
        "answered": answered,
        "achieved": achieved,
        "late": late,  # an open concern on the achieved goal
        "ghost": str(uuid4()),
    }


@dataclass(frozen=True)
class Bad:
    """One bad request: `path` is formatted with the world's ids."""

    method: str
    path: str
    status: int
    culprit: str | None = None  # what a 422's errors[].field must name
    json: Any = UNSET
    content: str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    detail: str | None = None  # a piece of the detail, formatted like the path


def case(id_: str, *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Bad(*args, **kwargs), id=id_)


def raw(text: str | bytes) -> dict[str, Any]:
    """A body sent as it is, labelled as JSON: for what a JSON encoder would not write."""
    return {"content": text, "headers": JSON}


TARGET = "/v1/goals/{goal}/target"
OK_TARGET = {"target": 250, "reason": "new SLO"}
LONG = "x" * 4001

NOT_FOUND = [
    case("team-unknown", "GET", "/v1/teams/{ghost}", 404, detail="no team with id {ghost}"),
    case("team-malformed", "GET", "/v1/teams/not-a-uuid", 404, detail="not-a-uuid"),
    case("team-is-a-goal", "GET", "/v1/teams/{goal}", 404, detail="no team with id {goal}"),
    case("goal-unknown", "GET", "/v1/goals/{ghost}", 404, detail="no goal with id {ghost}"),
    case("goal-malformed", "GET", "/v1/goals/12345", 404, detail="no goal with id 12345"),
    case("goal-is-a-team", "GET", "/v1/goals/{team}", 404, detail="no goal with id {team}"),
    case("history-unknown", "GET", "/v1/goals/{ghost}/history", 404, detail="{ghost}"),
    case("history-malformed", "GET", "/v1/goals/x/history", 404, detail="no goal"),
    case("churn-unknown", "GET", "/v1/teams/{ghost}/goal-churn", 404, detail="{ghost}"),
    case("churn-malformed", "GET", "/v1/teams/{ghost}x/goal-churn", 404, detail="no team"),
    case("member-add-unknown-team", "POST", "/v1/teams/{ghost}/members", 404, json={"name": "B"}),
    case("member-add-malformed-team", "POST", "/v1/teams/-/members", 404, json={"name": "B"}),
    case("goal-set-unknown-team", "POST", "/v1/teams/{ghost}/goals", 404, json=GOAL),
    case("goal-set-on-a-goal", "POST", "/v1/teams/{goal}/goals", 404, json=GOAL),
    case(
        "departure-unknown-member",
        "POST",
        "/v1/teams/{team}/members/{ghost}/departure",
        404,
        json={"reason": "resigned"},
        detail="no member with id {ghost}",
    ),
    case(
        "departure-malformed-member",
        "POST",
        "/v1/teams/{team}/members/bo/departure",
        404,
        json={"reason": "resigned"},
        detail="no member with id bo",
    ),
    case(
        "departure-unknown-team",
        "POST",
        "/v1/teams/{ghost}/members/{member}/departure",
        404,
        json={"reason": "resigned"},
        detail="no team",
    ),
    case("target-unknown-goal", "POST", "/v1/goals/{ghost}/target", 404, json=OK_TARGET),
    case("target-malformed-goal", "POST", "/v1/goals/{ghost}0/target", 404, json=OK_TARGET),
    case("achieve-unknown-goal", "POST", "/v1/goals/{ghost}/achievement", 404),
    case(
        "answer-unknown-concern",
        "POST",
        "/v1/goals/{goal}/concerns/{ghost}/answer",
        404,
        json={"text": "t"},
        detail="no concern with id {ghost}",
    ),
    case(
        "answer-malformed-concern",
        "POST",
        "/v1/goals/{goal}/concerns/c1/answer",
        404,
        json={"text": "t"},
        detail="no concern with id c1",
    ),
    case(
        "answer-concern-of-another-goal",
        "POST",
        "/v1/goals/{achieved}/concerns/{concern}/answer",
        404,
        json={"text": "t"},
        detail="no concern",
    ),
    case("no-such-route", "GET", "/v1/nothing", 404),
]

INVALID = [
    # reasons
    case("reason-empty", "POST", TARGET, 422, "reason", json={"target": 1, "reason": ""}),
    case("reason-blank", "POST", TARGET, 422, "reason", json={"target": 1, "reason": "   "}),
    case("reason-newlines", "POST", TARGET, 422, "reason", json={"target": 1, "reason": "\n\t"}),
    case("reason-missing", "POST", TARGET, 422, "reason", json={"target": 1}),
    case("reason-number", "POST", TARGET, 422, "reason", json={"target": 1, "reason": 7}),
    case(
        "due-reason-blank",
        "POST",
        "/v1/goals/{goal}/due-date",
        422,
        "reason",
        json={"due": day(100), "reason": " "},
    ),
    case(
        "redefinition-reason-empty",
        "POST",
        "/v1/goals/{goal}/redefinition",
        422,
        "reason",
        json={"title": "New", "reason": ""},
    ),
    case("reason-2001", "POST", TARGET, 422, "reason", json={"target": 1, "reason": "r" * 2001}),
    # numbers
    case("target-abc", "POST", TARGET, 422, "target", json={"target": "abc", "reason": "r"}),
    case("target-string-12", "POST", TARGET, 422, "target", json={"target": "12", "reason": "r"}),
    case("target-null", "POST", TARGET, 422, "target", json={"target": None, "reason": "r"}),
    case("target-string-nan", "POST", TARGET, 422, "target", json={"target": "NaN", "reason": "r"}),
    case("target-true", "POST", TARGET, 422, "target", json={"target": True, "reason": "r"}),
    case("target-list", "POST", TARGET, 422, "target", json={"target": [1], "reason": "r"}),
    case("target-missing", "POST", TARGET, 422, "target", json={"reason": "r"}),
    case("target-nan", "POST", TARGET, 422, "target", **raw('{"target": NaN, "reason": "r"}')),
    case("target-inf", "POST", TARGET, 422, "target", **raw('{"target": Infinity, "reason": "r"}')),
    case(
        "target--inf", "POST", TARGET, 422, "target", **raw('{"target": -Infinity, "reason": "r"}')
    ),
    case("target-1e400", "POST", TARGET, 422, "target", **raw('{"target": 1e400, "reason": "r"}')),
    case(
        "target-huge-int",
        "POST",
        TARGET,
        422,
        "target",
        **raw('{"target": 1' + "0" * 400 + ', "reason": "r"}'),
    ),
    case("target-unchanged", "POST", TARGET, 422, "target", json={"target": 300, "reason": "r"}),
    case(
        "goal-target-string",
        "POST",
        "/v1/teams/{team}/goals",
        422,
        "target",
        json={**GOAL, "target": "12"},
    ),
    case(
        "progress-nan",
        "POST",
        "/v1/goals/{goal}/progress",
        422,
        "value",
        **raw('{"value": NaN}'),
    ),
    case("progress-abc", "POST", "/v1/goals/{goal}/progress", 422, "value", json={"value": "abc"}),
    # dates
    *[
        case(
            f"due-{label}",
            "POST",
            "/v1/goals/{goal}/due-date",
            422,
            "due",
            json={"due": value, "reason": "r"},
        )
        for label, value in [
            ("month-13", "2026-13-01"),
            ("feb-30", "2026-02-30"),
            ("yesterday", "yesterday"),
            ("number", 20260101),
            ("empty", ""),
            ("null", None),
        ]
    ],
    *[
        case(
            f"occurred-on-{label}",
            "POST",
            "/v1/teams",
            422,
            "occurred_on",
            json={"name": "T", "manager": "M", "occurred_on": value},
        )
        for label, value in [
            ("month-13", "2026-13-01"),
            ("yesterday", "yesterday"),
            ("number", 20260101),
            ("future", day(2)),
            ("far-future", "2999-01-01"),
        ]
    ],
    case(
        "occurred-on-future-target",
        "POST",
        TARGET,
        422,
        "occurred_on",
        json={**OK_TARGET, "occurred_on": day(2)},
    ),
    case(
        "occurred-on-future-member",
        "POST",
        "/v1/teams/{team}/members",
        422,
        "occurred_on",
        json={"name": "Di", "occurred_on": day(2)},
    ),
    case(
        "occurred-on-before-goal-was-set",
        "POST",
        TARGET,
        422,
        "occurred_on",
        json={**OK_TARGET, "occurred_on": day(-11)},
    ),
    case(
        "goal-due-before-it-was-set",
        "POST",
        "/v1/teams/{team}/goals",
        422,
        "due",
        json={**GOAL, "due": day(-2), "occurred_on": day(-1)},
    ),
    case(
        "goal-due-malformed",
        "POST",
        "/v1/teams/{team}/goals",
        422,
        "due",
        json={**GOAL, "due": "soon"},
    ),
    case(
        "due-date-before-goal-was-set",
        "POST",
        "/v1/goals/{goal}/due-date",
        422,
        "due",
        json={"due": day(-20), "reason": "r"},
    ),
    # lengths
    case(
        "title-201",
        "POST",
        "/v1/teams/{team}/goals",
        422,
        "title",
        json={**GOAL, "title": "t" * 201},
    ),
    case(
        "title-blank", "POST", "/v1/teams/{team}/goals", 422, "title", json={**GOAL, "title": " "}
    ),
    case(
        "why-2001", "POST", "/v1/teams/{team}/goals", 422, "why", json={**GOAL, "why": "w" * 2001}
    ),
    case("unit-51", "POST", "/v1/teams/{team}/goals", 422, "unit", json={**GOAL, "unit": "u" * 51}),
    case(
        "team-name-201", "POST", "/v1/teams", 422, "name", json={"name": "n" * 201, "manager": "M"}
    ),
    case("manager-blank", "POST", "/v1/teams", 422, "manager", json={"name": "N", "manager": "\t"}),
    case(
        "member-role-201",
        "POST",
        "/v1/teams/{team}/members",
        422,
        "role",
        json={"name": "B", "role": "r" * 201},
    ),
    case(
        "concern-text-4001",
        "POST",
        "/v1/goals/{goal}/concerns",
        422,
        "text",
        json={"kind": "unclear", "text": LONG},
    ),
    case(
        "answer-text-blank",
        "POST",
        "/v1/goals/{goal}/concerns/{concern}/answer",
        422,
        "text",
        json={"text": " "},
    ),
    case(
        "progress-note-2001",
        "POST",
        "/v1/goals/{goal}/progress",
        422,
        "note",
        json={"value": 1, "note": "n" * 2001},
    ),
    case(
        "redefinition-changes-nothing",
        "POST",
        "/v1/goals/{goal}/redefinition",
        422,
        "title",
        json={"title": "Latency", "reason": "r"},
    ),
    # enumerations and unknown fields
    case(
        "departure-reason-unknown",
        "POST",
        "/v1/teams/{team}/members/{member}/departure",
        422,
        "reason",
        json={"reason": "fired"},
    ),
    case(
        "departure-reason-upper",
        "POST",
        "/v1/teams/{team}/members/{member}/departure",
        422,
        "reason",
        json={"reason": "RESIGNED"},
    ),
    case(
        "departure-reason-missing",
        "POST",
        "/v1/teams/{team}/members/{member}/departure",
        422,
        "reason",
        json={"note": "n"},
    ),
    case(
        "concern-kind-unknown",
        "POST",
        "/v1/goals/{goal}/concerns",
        422,
        "kind",
        json={"kind": "scary", "text": "t"},
    ),
    case("unknown-field", "POST", TARGET, 422, "colour", json={**OK_TARGET, "colour": "red"}),
    case(
        "unknown-field-id",
        "POST",
        "/v1/teams",
        422,
        "id",
        json={"id": "x", "name": "N", "manager": "M"},
    ),
    case(
        "unknown-field-ending",
        "POST",
        "/v1/goals/{goal}/achievement",
        422,
        "when",
        json={"when": "now"},
    ),
    # bodies
    case("invalid-json", "POST", TARGET, 422, "body", **raw('{"target": 1, "reason": }')),
    case("invalid-json-trailing", "POST", "/v1/teams", 422, "body", **raw('{"name": "N"} x')),
    case("empty-body-json", "POST", TARGET, 422, "body", **raw("")),
    case("no-body", "POST", TARGET, 422, "body"),
    case("no-body-team", "POST", "/v1/teams", 422, "body"),
    case("array-body", "POST", TARGET, 422, "body", json=[OK_TARGET]),
    case("array-body-team", "POST", "/v1/teams", 422, "body", json=[]),
    case("string-body", "POST", "/v1/teams", 422, "body", json="Platform"),
    case("null-body", "POST", TARGET, 422, "body", json=None),
    case("empty-object-team", "POST", "/v1/teams", 422, "name", json={}),
    case("array-body-ending", "POST", "/v1/goals/{goal}/achievement", 422, "body", json=["done"]),
    # headers
    *[
        case(
            f"if-match-{label}",
            "POST",
            TARGET,
            422,
            "If-Match",
            json=OK_TARGET,
            headers={"If-Match": value},
        )
        for label, value in [
            ("abc", "abc"),
            ("negative", "-1"),
            ("decimal", "1.5"),
            ("long", "1" * 41),
        ]
    ],
    case(
        "if-match-abc-member",
        "POST",
        "/v1/teams/{team}/members",
        422,
        "If-Match",
        json={"name": "B"},
        headers={"If-Match": "abc"},
    ),
    case(
        "actor-empty",
        "POST",
        TARGET,
        422,
        "X-Keel-Actor",
        json=OK_TARGET,
        headers={"X-Keel-Actor": ""},
    ),
    case(
        "actor-blank",
        "POST",
        TARGET,
        422,
        "X-Keel-Actor",
        json=OK_TARGET,
        headers={"X-Keel-Actor": "   "},
    ),
    case(
        "actor-201",
        "POST",
        TARGET,
        422,
        "X-Keel-Actor",
        json=OK_TARGET,
        headers={"X-Keel-Actor": "a" * 201},
    ),
    # queries
    *[
        case(f"wait-for-{label}-{name}", "GET", path, 422, "wait_for", params={"wait_for": value})
        for label, value in [("negative", "-1"), ("x", "x"), ("decimal", "1.5")]
        for name, path in [
            ("teams", "/v1/teams"),
            ("team", "/v1/teams/{team}"),
            ("history", "/v1/goals/{goal}/history"),
            ("churn", "/v1/teams/{team}/goal-churn"),
        ]
    ],
    *[
        case(
            f"window-days-{label}",
            "GET",
            "/v1/teams/{team}/goal-churn",
            422,
            "window_days",
            params={"window_days": value},
        )
        for label, value in [("zero", "0"), ("negative", "-3"), ("x", "x"), ("too-big", "3651")]
    ],
]

MEDIA = [
    case(
        "text-plain",
        "POST",
        TARGET,
        415,
        content="target=1",
        headers={"content-type": "text/plain"},
    ),
    case(
        "form",
        "POST",
        "/v1/teams",
        415,
        content="name=N&manager=M",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    case(
        "xml",
        "POST",
        "/v1/teams",
        415,
        content="<team/>",
        headers={"content-type": "application/xml"},
    ),
    case("no-content-type", "POST", "/v1/teams", 415, content='{"name": "N", "manager": "M"}'),
    # The busiest route is served ahead of the router (services/http/hot_path.py), and
    # still behind this check.
    case(
        "check-in-as-text",
        "POST",
        "/v1/teams/{team}/check-ins",
        415,
        content='{"member_id": "{member}", "day": "2025-01-06", "mood": 3}',
        headers={"content-type": "text/plain"},
    ),
    case(
        "text-plain-ending",
        "POST",
        "/v1/goals/{goal}/achievement",
        415,
        content="done",
        headers={"content-type": "text/plain"},
    ),
]

CONFLICTS = [
    case(
        "stale-if-match",
        "POST",
        TARGET,
        409,
        json=OK_TARGET,
        headers={"If-Match": "3"},
        detail="version 4",
    ),
    case(
        "stale-if-match-member",
        "POST",
        "/v1/teams/{team}/members",
        409,
        json={"name": "D"},
        headers={"If-Match": '"1"'},
    ),
    case(
        "stale-if-match-departure",
        "POST",
        "/v1/teams/{team}/members/{member}/departure",
        409,
        json={"reason": "resigned"},
        headers={"If-Match": "2"},
    ),
    case(
        "stale-if-match-answer",
        "POST",
        "/v1/goals/{goal}/concerns/{concern}/answer",
        409,
        json={"text": "t"},
        headers={"If-Match": "2"},
    ),
    *[
        case(
            f"stale-if-match-{name}",
            "POST",
            f"/v1/goals/{{goal}}/{name}",
            409,
            json=body,
            headers={"If-Match": "3"},
            detail="expected version 3, but it is at version 4",
        )
        for name, body in [
            ("due-date", {"due": day(100), "reason": "r"}),
            ("redefinition", {"title": "New", "reason": "r"}),
            ("progress", {"value": 1}),
            ("concerns", {"kind": "unclear", "text": "t"}),
            ("achievement", UNSET),
            ("abandonment", {"reason": "r"}),
        ]
    ],
    case(
        "departing-twice",
        "POST",
        "/v1/teams/{team}/members/{left}/departure",
        409,
        json={"reason": "resigned"},
        detail="already left",
    ),
    case(
        "answering-on-an-ended-goal",
        "POST",
        "/v1/goals/{achieved}/concerns/{late}/answer",
        409,
        json={"text": "too late"},
        detail="is achieved",
    ),
    case(
        "answering-twice",
        "POST",
        "/v1/goals/{goal}/concerns/{answered}/answer",
        409,
        json={"text": "again"},
        detail="already answered",
    ),
    *[
        case(
            f"achieved-goal-{name}",
            "POST",
            f"/v1/goals/{{achieved}}/{name}",
            409,
            json=body,
            detail="is achieved",
        )
        for name, body in [
            ("target", OK_TARGET),
            ("due-date", {"due": day(100), "reason": "r"}),
            ("redefinition", {"title": "New", "reason": "r"}),
            ("progress", {"value": 1}),
            ("concerns", {"kind": "unclear", "text": "t"}),
            ("achievement", UNSET),
            ("abandonment", {"reason": "too late"}),
        ]
    ],
]

OTHER = [
    case("method-not-allowed", "PUT", "/v1/teams", 405, json={"name": "N"}),
    case("delete-goal", "DELETE", "/v1/goals/{goal}", 405),
]


def send(client: TestClient, bad: Bad, ids: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": bad.headers, "params": bad.params}
    if bad.json is not UNSET:
        kwargs["json"] = bad.json
    if bad.content is not None:
        kwargs["content"] = bad.content
    return client.request(bad.method, bad.path.format(**ids), **kwargs)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    assert body["title"]
    assert body["detail"]
    return body


@pytest.mark.parametrize("bad", NOT_FOUND + INVALID + MEDIA + CONFLICTS + OTHER)
def test_bad_request_is_a_problem(shared: TestClient, world: dict[str, str], bad: Bad) -> None:
    keel = container_of(shared).keel
    head = keel.head()

    response = send(shared, bad, world)

    body = assert_problem(response, bad.status)
    if bad.status == 422:
        errors = body["errors"]
        assert errors, body
        assert all(set(e) == {"field", "message"} and e["message"] for e in errors)
        assert bad.culprit in [e["field"] for e in errors], errors
        assert bad.culprit in body["detail"]
    else:
        assert "errors" not in body
    if bad.detail is not None:
        assert bad.detail.format(**world) in body["detail"]
    if bad.status == 409 and "If-Match" in bad.headers:
        assert response.headers["ETag"].strip('"').isdigit()
    assert keel.head() == head, "a refused command records nothing"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"target": 5, "reason": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'{"target": 1' + b"0" * 5000 + b', "reason": "r"}', id="5000-digit-number"),
    ],
)
def test_undecodable_bodies_are_a_client_error(
    shared: TestClient, world: dict[str, str], body: bytes
) -> None:
    """Python's JSON reader refuses these before validation: still a 4xx problem.
    (They come back as 400 "Error", where other unreadable JSON is a 422 on `body`.)"""
    head = container_of(shared).keel.head()
    response = shared.post(TARGET.format(**world), content=body, headers=JSON)
    assert 400 <= response.status_code < 500
    assert container_of(shared).keel.head() == head
    assert_problem(response, response.status_code)


def test_a_lone_surrogate_is_refused(shared: TestClient, world: dict[str, str]) -> None:
    response = shared.post(
        TARGET.format(**world), content='{"target": 5, "reason": "\\ud800"}', headers=JSON
    )
    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["reason"]


def test_wait_for_beyond_the_head_is_refused_at_once(
    sqlite_settings: Settings, client_for: Callable[[Settings], TestClient]
) -> None:
    # A long timeout: the refusal must not wait for it.
    client = client_for(sqlite_settings.model_copy(update={"wait_for_timeout_seconds": 30}))
    response = client.get("/v1/teams", params={"wait_for": 10**6})
    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["wait_for"]
    assert "1000000" in body["detail"]


def test_wait_for_a_view_that_lags_is_503_after_the_timeout(sqlite_settings: Settings) -> None:
    container = bootstrap(sqlite_settings.model_copy(update={"wait_for_timeout_seconds": 0.05}))
    position = container.keel.form_team(
        name="T", manager="M", actor="a", occurred_on=date(2025, 1, 1)
    ).position
    # The runner is not started, so the view never reaches the position.
    with TestClient(create_app(container=container)) as client:
        response = client.get("/v1/teams", params={"wait_for": position})
    container.close()
    body = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert str(position) in body["detail"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("path", "payload", "field_name"),
    [
        pytest.param(TARGET, {"target": 5, "reason": "a\u0000b"}, "reason", id="reason"),
        pytest.param(
            "/v1/teams", {"name": "Plat\u0000form", "manager": "M"}, "name", id="team-name"
        ),
    ],
)
def test_a_nul_character_never_stops_the_views(
    postgres_settings: Settings,
    client_for: Callable[[Settings], TestClient],
    path: str,
    payload: dict[str, Any],
    field_name: str,
) -> None:
    client = client_for(postgres_settings.model_copy(update={"wait_for_timeout_seconds": 0.5}))
    team = created(client.post("/v1/teams", json={"name": "P", "manager": "M"}))["id"]
    goal = created(client.post(f"/v1/teams/{team}/goals", json=GOAL))["id"]

    response = client.post(path.format(goal=goal), json=payload)

    if response.status_code == 201:  # accepted: then every view must still catch up
        position = response.json()["position"]
        for view in ("/v1/teams", f"/v1/goals/{goal}/history"):
            assert client.get(view, params={"wait_for": position}).status_code == 200
    else:  # or refused, naming the field
        body = assert_problem(response, 422)
        assert field_name in [e["field"] for e in body["errors"]]


def test_a_non_ascii_actor_is_recorded_as_sent_or_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/teams",
        json={"name": "Platform", "manager": "Maya"},
        headers={"X-Keel-Actor": "José".encode()},
    )
    if response.status_code == 422:
        assert [e["field"] for e in assert_problem(response, 422)["errors"]] == ["X-Keel-Actor"]
        return
    team = created(response)["id"]
    goal = created(
        client.post(f"/v1/teams/{team}/goals", json=GOAL, headers={"X-Keel-Actor": "José".encode()})
    )
    assert client.get(f"/v1/goals/{goal['id']}").json()["set_by"] == "José"
