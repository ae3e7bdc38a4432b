"""The team endpoints through the real app, SQLite and the runner: status and body."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import calendar

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def day(offset: int) -> str:
    """A business date `offset` days from today (UTC, as the API counts), as it writes it."""
    return (calendar.today() + timedelta(days=offset)).isoformat()


def uuid_of(body: dict[str, Any]) -> str:
    return str(UUID(body["id"]))


def form(client: TestClient, name: str = "Platform", **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/teams", json={"name": name, "manager": "Maya", **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_form_team(client: TestClient) -> None:
    response = client.post(
        "/v1/teams",
        json={"name": "  Platform ", "manager": "Maya", "occurred_on": day(-30)},
        headers={"X-Keel-Actor": "maya@example.com"},
    )

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "version", "position"}
    assert (body["version"], body["position"]) == (1, 1)
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/teams/{uuid_of(body)}"

    team = client.get(f"/v1/teams/{body['id']}")
    assert team.status_code == 200
    assert team.headers["ETag"] == '"1"'
    assert team.json() == {
        "id": body["id"],
        "name": "Platform",
        "manager": "Maya",
        "formed_on": day(-30),
        "version": 1,
        "members": [],
        "goals": [],
    }


def test_form_team_defaults_the_business_date_to_today(client: TestClient) -> None:
    team = form(client)
    assert client.get(f"/v1/teams/{team['id']}").json()["formed_on"] == day(0)


def test_add_members_and_record_a_departure(client: TestClient) -> None:
    team = form(client, occurred_on=day(-30))
    base = f"/v1/teams/{team['id']}"

    bo = client.post(
        f"{base}/members", json={"name": "Bo", "role": "developer", "occurred_on": day(-30)}
    )
    assert bo.status_code == 201, bo.text
    assert bo.headers["ETag"] == '"2"'
    bo_body = bo.json()
    assert bo_body["version"] == 2
    assert bo_body["position"] > team["position"]
    assert bo_body["id"] != team["id"], "the answer names the new member"

    cy = client.post(f"{base}/members", json={"name": "Cy"}, headers={"If-Match": '"2"'})
    assert cy.status_code == 201, cy.text
    assert cy.json()["version"] == 3
    assert cy.json()["position"] > bo_body["position"]

    left = client.post(
        f"{base}/members/{bo_body['id']}/departure",
        json={"reason": "transferred", "note": "to Payments"},
        headers={"If-Match": "3"},
    )
    assert left.status_code == 201, left.text
    assert (left.json()["id"], left.json()["version"]) == (bo_body["id"], 4)
    assert left.json()["position"] > cy.json()["position"]
    assert left.headers["ETag"] == '"4"'

    team_view = client.get(base, params={"wait_for": left.json()["position"]})
    assert team_view.status_code == 200
    assert team_view.headers["ETag"] == '"4"'
    body = team_view.json()
    assert body["version"] == 4
    assert body["members"] == [
        {
            "id": bo_body["id"],
            "name": "Bo",
            "role": "developer",
            "joined_on": day(-30),
            "left_on": day(0),
            "left_reason": "transferred",
        },
        {
            "id": cy.json()["id"],
            "name": "Cy",
            "role": None,
            "joined_on": day(0),
            "left_on": None,
            "left_reason": None,
        },
    ]


def test_list_teams_counts_current_members(client: TestClient) -> None:
    assert client.get("/v1/teams").json() == {"teams": []}
    first = form(client, "Platform", occurred_on=day(-30))
    second = form(client, "Payments")
    member = client.post(f"/v1/teams/{first['id']}/members", json={"name": "Bo"}).json()
    client.post(f"/v1/teams/{first['id']}/members", json={"name": "Cy"})
    last = client.post(
        f"/v1/teams/{first['id']}/members/{member['id']}/departure", json={"reason": "resigned"}
    ).json()

    response = client.get("/v1/teams", params={"wait_for": last["position"]})

    assert response.status_code == 200
    assert response.json() == {
        "teams": [
            {
                "id": first["id"],
                "name": "Platform",
                "manager": "Maya",
                "formed_on": day(-30),
                "members": 1,
            },
            {
                "id": second["id"],
                "name": "Payments",
                "manager": "Maya",
                "formed_on": day(0),
                "members": 0,
            },
        ]
    }


def test_team_lists_its_goals(client: TestClient) -> None:
    team = form(client)
    goal = client.post(
        f"/v1/teams/{team['id']}/goals",
        json={
            "title": "Latency",
            "metric": "p99",
            "target": 200,
            "unit": "ms",
            "due": "2099-01-01",
        },
    ).json()

    response = client.get(f"/v1/teams/{team['id']}", params={"wait_for": goal["position"]})

    assert response.status_code == 200
    assert response.json()["goals"] == [
        {
            "id": goal["id"],
            "title": "Latency",
            "metric": "p99",
            "target": 200.0,
            "unit": "ms",
            "due": "2099-01-01",
            "state": "active",
            "set_on": day(0),
        }
    ]


def test_a_stale_if_match_on_a_team_is_a_version_conflict(client: TestClient) -> None:
    team = form(client)
    client.post(f"/v1/teams/{team['id']}/members", json={"name": "Bo"})

    response = client.post(
        f"/v1/teams/{team['id']}/members", json={"name": "Cy"}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["ETag"] == '"2"'
    assert response.json() == {
        "type": "about:blank",
        "title": "Version conflict",
        "status": 409,
        "detail": "expected version 1, but it is at version 2",
    }
    assert len(client.get(f"/v1/teams/{team['id']}").json()["members"]) == 1


def test_goal_churn_of_a_team_without_goals(client: TestClient) -> None:
    team = form(client)

    response = client.get(f"/v1/teams/{team['id']}/goal-churn")

    assert response.status_code == 200
    assert response.json() == {
        "team_id": team["id"],
        "window_days": 60,
        "changes": 0,
        "flagged": False,
        "goals": [],
    }


def test_reads_wait_for_a_position_already_reached(client: TestClient) -> None:
    team = form(client)
    for path in ("/v1/teams", f"/v1/teams/{team['id']}", f"/v1/teams/{team['id']}/goal-churn"):
        response = client.get(path, params={"wait_for": 0})
        assert response.status_code == 200, (path, response.text)


def test_a_date_given_as_a_date_string_is_kept(client: TestClient) -> None:
    day = date(2020, 2, 29)
    team = form(client, occurred_on=day.isoformat())
    assert client.get(f"/v1/teams/{team['id']}").json()["formed_on"] == "2020-02-29"
