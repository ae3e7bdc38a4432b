"""Liveness and readiness: /readyz is 200 only when every view has reached the log head."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from datetime import date

import pytest

from services.bootstrap import Container, bootstrap
from services.http.app import create_app
from services.settings import Settings

with warnings.catch_warnings():  # as in conftest: starlette prefers httpx2 to httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
VIEWS = {"goal_audit", "team_directory"}  # at least these; later releases add more


def assert_ready(body: dict[str, object], head: int) -> None:
    assert body["status"] == "ready"
    assert body["head"] == head
    views = body["views"]
    assert isinstance(views, dict)
    assert set(views) >= VIEWS
    assert set(views.values()) == {head}, "every view is at the head"


def ready_within(client: TestClient, seconds: float = 5.0) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture
def unstarted(sqlite_settings: Settings) -> Iterator[Container]:
    """A container with events in the log and views that have not read them: nothing
    runs its runner (create_app(container=...) leaves that to the owner)."""
    container = bootstrap(sqlite_settings)
    try:
        team = container.keel.form_team(
            name="Platform", manager="Maya", actor="maya", occurred_on=date(2026, 1, 5)
        )
        container.keel.add_member(
            team.id, name="Bo", role=None, actor="maya", occurred_on=date(2026, 1, 6)
        )
        yield container
    finally:
        container.close()


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_ready_on_an_empty_log(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert_ready(response.json(), 0)


def test_ready_once_the_views_have_caught_up(client: TestClient) -> None:
    team = client.post("/v1/teams", json={"name": "Platform", "manager": "Maya"}).json()
    last = client.post(f"/v1/teams/{team['id']}/members", json={"name": "Bo"}).json()

    assert_ready(ready_within(client), last["position"])


def test_not_ready_while_the_views_are_behind(unstarted: Container) -> None:
    with TestClient(create_app(container=unstarted)) as client:
        assert client.get("/healthz").status_code == 200, "alive, though not ready"

        response = client.get("/readyz")

        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert (body["status"], body["title"]) == (503, "Not ready")
        head = unstarted.keel.head()
        assert f"head {head}" in body["detail"]
        assert "goal_audit" in body["detail"]
        assert "team_directory" in body["detail"]
        assert "alerts" in body["detail"]

        unstarted.runner.catch_up()
        assert client.get("/readyz").status_code == 503, "alerts are not evaluated yet"
        unstarted.alert_process.catch_up()
        unstarted.alert_runner.catch_up()

        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert_ready(ready.json(), head)
    # The app did not own the container: it is still open for its owner to use.
    assert unstarted.keel.head() == head


def test_not_ready_when_only_one_view_is_behind(unstarted: Container) -> None:
    unstarted.runner.catch_up()
    unstarted.goal_audit.reset("Keel")  # as a rebuild does, before it folds the log again
    with TestClient(create_app(container=unstarted)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "goal_audit" in response.json()["detail"]
    assert "team_directory" not in response.json()["detail"]


def test_queries_waiting_for_a_view_that_is_behind_answer_503(unstarted: Container) -> None:
    unstarted.settings.wait_for_timeout_seconds = 0.05
    with TestClient(create_app(container=unstarted)) as client:
        head = unstarted.keel.head()
        response = client.get("/v1/teams", params={"wait_for": head})
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["Retry-After"] == "1"
        assert response.json()["title"] == "View not caught up"

        unstarted.runner.catch_up()

        listed = client.get("/v1/teams", params={"wait_for": head})
        assert listed.status_code == 200
        assert [t["members"] for t in listed.json()["teams"]] == [1]


def test_not_ready_when_projections_are_switched_off(
    sqlite_settings: Settings, client_for: Callable[[Settings], TestClient]
) -> None:
    settings = sqlite_settings.model_copy(update={"run_projections": False})
    client = client_for(settings)
    assert client.get("/readyz").status_code == 200, "nothing to catch up with yet"

    created = client.post("/v1/teams", json={"name": "Platform", "manager": "Maya"})
    assert created.status_code == 201

    time.sleep(0.05)  # a runner (there is none) would have long caught up by now
    response = client.get("/readyz")
    assert response.status_code == 503
    assert f"head {created.json()['position']}" in response.json()["detail"]
