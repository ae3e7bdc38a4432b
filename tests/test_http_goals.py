"""The goal endpoints through the real app and runner: every command, the audited
history, goal churn, and the README walk-through on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from domain import calendar
from services.settings import Settings

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def day(offset: int) -> str:
    """A business date `offset` days from today (UTC, as the API counts), as it writes it."""
    return (calendar.today() + timedelta(days=offset)).isoformat()


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"id", "version", "position"}
    assert response.headers["ETag"] == f'"{body["version"]}"'
    return body


def new_team(client: TestClient) -> str:
    body = created(
        client.post(
            "/v1/teams", json={"name": "Platform", "manager": "Maya", "occurred_on": day(-60)}
        )
    )
    return str(body["id"])


def new_goal(client: TestClient, team_id: str, **overrides: Any) -> dict[str, Any]:
    goal = {
        "title": "Checkout latency",
        "metric": "p99 latency",
        "target": 300,
        "unit": "ms",
        "due": day(90),
        "why": "customers abandon slow checkouts",
        "occurred_on": day(-30),
        **overrides,
    }
    return created(
        client.post(f"/v1/teams/{team_id}/goals", json=goal, headers={"X-Keel-Actor": "maya"})
    )


def test_set_goal_and_read_it(client: TestClient) -> None:
    team_id = new_team(client)

    response = client.post(
        f"/v1/teams/{team_id}/goals",
        json={"title": "Uptime", "metric": "availability", "target": 99.9, "due": day(30)},
    )

    body = created(response)
    assert body["version"] == 1
    assert response.headers["Location"] == f"/v1/goals/{body['id']}"
    goal = client.get(f"/v1/goals/{body['id']}")
    assert goal.status_code == 200
    assert goal.headers["ETag"] == '"1"'
    assert goal.json() == {
        "id": body["id"],
        "team_id": team_id,
        "title": "Uptime",
        "metric": "availability",
        "target": 99.9,
        "unit": "",
        "due": day(30),
        "why": None,
        "state": "active",
        "set_by": "anonymous",
        "set_on": day(0),
        "progress": None,
        "progress_on": None,
        "concerns": [],
        "version": 1,
    }


def test_every_goal_command(client: TestClient) -> None:
    goal = new_goal(client, new_team(client))
    url = f"/v1/goals/{goal['id']}"
    ann = {"X-Keel-Actor": "ann"}

    steps = [
        created(client.post(f"{url}/target", json={"target": 250, "reason": "new SLO"})),
        created(
            client.post(
                f"{url}/due-date",
                json={"due": day(120), "reason": "holidays", "occurred_on": day(-5)},
                headers=ann,
            )
        ),
        created(
            client.post(
                f"{url}/redefinition",
                json={"title": "Checkout p99", "reason": "clearer"},
                headers={**ann, "If-Match": 'W/"3"'},
            )
        ),
        created(
            client.post(f"{url}/redefinition", json={"metric": "p99 server", "reason": "scope"})
        ),
        created(client.post(f"{url}/progress", json={"value": 280.5, "note": "cache warmed"})),
        created(client.post(f"{url}/progress", json={"value": 270})),
    ]
    concern = created(
        client.post(
            f"{url}/concerns", json={"kind": "under_resourced", "text": "one person"}, headers=ann
        )
    )
    answer = created(client.post(f"{url}/concerns/{concern['id']}/answer", json={"text": "hiring"}))
    achieved = created(client.post(f"{url}/achievement", json={"reason": "shipped"}))
    steps += [concern, answer, achieved]

    assert [s["version"] for s in steps] == list(range(2, 11))
    positions = [goal["position"]] + [s["position"] for s in steps]
    assert positions == sorted(set(positions))
    assert all(s["id"] == goal["id"] for s in steps if s not in (concern, answer))
    assert concern["id"] != goal["id"]
    assert answer["id"] == concern["id"]

    body = client.get(url).json()
    assert body["version"] == 10
    assert body["state"] == "achieved"
    assert (body["title"], body["metric"], body["target"]) == ("Checkout p99", "p99 server", 250)
    assert body["due"] == day(120)
    assert (body["progress"], body["progress_on"]) == (270.0, day(0))
    assert body["concerns"] == [
        {
            "id": concern["id"],
            "kind": "under_resourced",
            "text": "one person",
            "raised_by": "ann",
            "raised_on": day(0),
            "answer": "hiring",
            "answered_by": "anonymous",
        }
    ]

    history = client.get(f"{url}/history", params={"wait_for": achieved["position"]})
    assert history.status_code == 200
    changes = history.json()["changes"]
    brief = [(c["kind"], c["from"], c["to"], c["by"], c["reason"]) for c in changes]
    assert brief == [
        (
            "goal_set",
            None,
            {
                "title": "Checkout latency",
                "metric": "p99 latency",
                "target": 300.0,
                "unit": "ms",
                "due": day(90),
            },
            "maya",
            "customers abandon slow checkouts",
        ),
        ("target_changed", 300.0, 250.0, "anonymous", "new SLO"),
        ("due_date_changed", day(90), day(120), "ann", "holidays"),
        (
            "goal_redefined",
            {"title": "Checkout latency", "metric": "p99 latency"},
            {"title": "Checkout p99", "metric": "p99 latency"},
            "ann",
            "clearer",
        ),
        (
            "goal_redefined",
            {"title": "Checkout p99", "metric": "p99 latency"},
            {"title": "Checkout p99", "metric": "p99 server"},
            "anonymous",
            "scope",
        ),
        ("goal_achieved", "active", "achieved", "anonymous", "shipped"),
    ]
    # Progress and concerns are not changes to what is asked, so they are not listed.
    assert [c["occurred_on"] for c in changes] == [day(-30), day(0), day(-5), *[day(0)] * 3]


@pytest.mark.parametrize(
    ("ending", "body", "kind", "reason"),
    [
        ("achievement", None, "goal_achieved", None),
        ("achievement", {}, "goal_achieved", None),
        ("achievement", {"reason": "done early"}, "goal_achieved", "done early"),
        ("abandonment", None, "goal_abandoned", None),
        ("abandonment", {"reason": "strategy changed"}, "goal_abandoned", "strategy changed"),
    ],
)
def test_ending_a_goal_with_or_without_a_body(
    client: TestClient,
    ending: str,
    body: dict[str, Any] | None,
    kind: str,
    reason: str | None,
) -> None:
    goal = new_goal(client, new_team(client))
    url = f"/v1/goals/{goal['id']}"

    ended = created(client.post(f"{url}/{ending}", json=body))

    assert (ended["id"], ended["version"]) == (goal["id"], 2)
    assert ended["position"] > goal["position"]
    state = kind.removeprefix("goal_")
    assert client.get(url).json()["state"] == state
    last = client.get(f"{url}/history", params={"wait_for": ended["position"]}).json()["changes"][
        -1
    ]
    assert (last["kind"], last["from"], last["to"], last["reason"]) == (
        kind,
        "active",
        state,
        reason,
    )


def test_if_match_guards_goal_commands(client: TestClient) -> None:
    goal = new_goal(client, new_team(client))
    url = f"/v1/goals/{goal['id']}"
    created(
        client.post(f"{url}/target", json={"target": 250, "reason": "a"}, headers={"If-Match": "1"})
    )

    stale = client.post(
        f"{url}/target", json={"target": 200, "reason": "b"}, headers={"If-Match": "1"}
    )

    assert stale.status_code == 409
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.headers["ETag"] == '"2"'
    assert stale.json()["detail"] == "expected version 1, but it is at version 2"
    assert client.get(url).json()["target"] == 250
    assert client.get(url).headers["ETag"] == '"2"'
    created(
        client.post(
            f"{url}/target", json={"target": 200, "reason": "b"}, headers={"If-Match": '"2"'}
        )
    )


GOAL_COMMANDS = [
    ("target", {"target": 250, "reason": "r"}),
    ("due-date", {"due": "2099-12-31", "reason": "r"}),
    ("redefinition", {"metric": "p95", "reason": "r"}),
    ("progress", {"value": 310}),
    ("concerns", {"kind": "conflicting", "text": "t"}),
    ("achievement", None),
    ("abandonment", {"reason": "r"}),
]


@pytest.mark.parametrize("spelling", ["1", '"1"', 'W/"1"'])
@pytest.mark.parametrize(("command", "body"), GOAL_COMMANDS)
def test_every_goal_command_accepts_the_current_version(
    client: TestClient, command: str, body: dict[str, Any] | None, spelling: str
) -> None:
    goal = new_goal(client, new_team(client))

    response = client.post(
        f"/v1/goals/{goal['id']}/{command}", json=body, headers={"If-Match": spelling}
    )

    assert created(response)["version"] == 2


def test_answering_a_concern_accepts_the_current_version(client: TestClient) -> None:
    goal = new_goal(client, new_team(client))
    url = f"/v1/goals/{goal['id']}"
    concern = created(client.post(f"{url}/concerns", json={"kind": "unclear", "text": "t"}))

    answer = client.post(
        f"{url}/concerns/{concern['id']}/answer", json={"text": "a"}, headers={"If-Match": "2"}
    )

    assert created(answer) == {
        "id": concern["id"],
        "version": 3,
        "position": answer.json()["position"],
    }


def test_history_reads_its_own_writes(client: TestClient) -> None:
    goal = new_goal(client, new_team(client))
    url = f"/v1/goals/{goal['id']}"
    for target in (250, 200, 150, 100, 50):
        last = created(client.post(f"{url}/target", json={"target": target, "reason": "r"}))
        history = client.get(f"{url}/history", params={"wait_for": last["position"]})
        assert history.status_code == 200
        assert history.json()["changes"][-1]["to"] == target
        assert history.json()["changes"][-1]["position"] == last["position"]


def test_goal_churn_window(client: TestClient) -> None:
    team_id = new_team(client)
    goal = new_goal(client, team_id, occurred_on=day(-50))
    url = f"/v1/goals/{goal['id']}"
    created(
        client.post(f"{url}/target", json={"target": 250, "reason": "a", "occurred_on": day(-40)})
    )
    last = created(client.post(f"{url}/target", json={"target": 200, "reason": "b"}))
    churn_url = f"/v1/teams/{team_id}/goal-churn"

    narrow = client.get(churn_url, params={"window_days": 7, "wait_for": last["position"]})

    assert narrow.status_code == 200
    assert narrow.json() == {
        "team_id": team_id,
        "window_days": 7,
        "changes": 1,
        "flagged": False,
        "goals": [
            {
                "goal_id": goal["id"],
                "title": "Checkout latency",
                "changes": 1,
                "flagged": False,
                "median_target_lifetime_days": 40.0,
            }
        ],
    }
    wide = client.get(churn_url, params={"window_days": 365}).json()
    assert (wide["window_days"], wide["changes"], wide["flagged"]) == (365, 2, False)
    assert wide["goals"][0]["flagged"] is True
    assert wide["goals"][0]["median_target_lifetime_days"] == 25.0  # median of 10 and 40


def test_readme_walk_through(
    settings: Settings, client_for: Callable[[Settings], TestClient]
) -> None:
    """The README's walk-through, step by step: a goal set fifty days ago whose target
    moves three times. The history tells who moved it, from what, to what and why;
    goal churn flags the goal and the team; a stale If-Match and bad input are refused
    as the README shows."""
    client = client_for(settings)
    kay, owner = {"X-Keel-Actor": "kay"}, {"X-Keel-Actor": "owner"}
    team_id = created(
        client.post(
            "/v1/teams",
            json={"name": "Customer Success", "manager": "kay", "occurred_on": day(-90)},
            headers=kay,
        )
    )["id"]
    created(
        client.post(
            f"/v1/teams/{team_id}/members",
            json={"name": "Sandra", "role": "account manager"},
            headers=kay,
        )
    )
    goal = created(
        client.post(
            f"/v1/teams/{team_id}/goals",
            json={
                "title": "Renewals",
                "metric": "renewal rate",
                "target": 90,
                "unit": "%",
                "due": "2027-06-30",
                "why": "Grow recurring revenue",
                "occurred_on": day(-50),
            },
            headers=owner,
        )
    )
    url = f"/v1/goals/{goal['id']}"
    moves = [
        {"target": 95, "reason": "Competitor renewed at 94%", "occurred_on": day(-35)},
        {"target": 80, "reason": "Team missed 95, lowering it", "occurred_on": day(-20)},
        {"target": 99, "reason": "New quarter push"},
    ]
    answers = [created(client.post(f"{url}/target", json=m, headers=owner)) for m in moves]
    position = answers[-1]["position"]
    assert [(a["id"], a["version"]) for a in answers] == [(goal["id"], v) for v in (2, 3, 4)]
    assert goal["position"] < answers[0]["position"] < answers[1]["position"] < position

    current = client.get(url)
    assert current.status_code == 200
    assert (current.json()["target"], current.json()["version"]) == (99, 4)

    history = client.get(f"{url}/history", params={"wait_for": position})
    assert history.status_code == 200
    body = history.json()
    assert body["goal_id"] == goal["id"]
    changes = body["changes"]
    assert [
        {k: c[k] for k in ("kind", "from", "to", "by", "reason", "occurred_on")} for c in changes
    ] == [
        {
            "kind": "goal_set",
            "from": None,
            "to": {
                "title": "Renewals",
                "metric": "renewal rate",
                "target": 90,
                "unit": "%",
                "due": "2027-06-30",
            },
            "by": "owner",
            "reason": "Grow recurring revenue",
            "occurred_on": day(-50),
        },
        {
            "kind": "target_changed",
            "from": 90,
            "to": 95,
            "by": "owner",
            "reason": "Competitor renewed at 94%",
            "occurred_on": day(-35),
        },
        {
            "kind": "target_changed",
            "from": 95,
            "to": 80,
            "by": "owner",
            "reason": "Team missed 95, lowering it",
            "occurred_on": day(-20),
        },
        {
            "kind": "target_changed",
            "from": 80,
            "to": 99,
            "by": "owner",
            "reason": "New quarter push",
            "occurred_on": day(0),
        },
    ]
    assert [c["position"] for c in changes] == [goal["position"]] + [a["position"] for a in answers]
    for change in changes:
        assert datetime.fromisoformat(change["recorded_at"]).tzinfo is not None

    churn = client.get(f"/v1/teams/{team_id}/goal-churn", params={"wait_for": position})
    assert churn.status_code == 200
    assert churn.json() == {
        "team_id": team_id,
        "window_days": 60,
        "changes": 3,
        "flagged": True,
        "goals": [
            {
                "goal_id": goal["id"],
                "title": "Renewals",
                "changes": 3,
                "flagged": True,
                "median_target_lifetime_days": 15,  # the targets lived 15, 15 and 20 days
            }
        ],
    }
    # "Try ?window_days=30: only the last two changes fall inside it."
    narrow = client.get(f"/v1/teams/{team_id}/goal-churn", params={"window_days": 30}).json()
    assert (narrow["window_days"], narrow["changes"]) == (30, 2)
    assert narrow["goals"][0]["changes"] == 2

    stale = client.post(
        f"{url}/target", json={"target": 70, "reason": "Stale edit"}, headers={"If-Match": "1"}
    )
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json() == {
        "type": "about:blank",
        "title": "Version conflict",
        "status": 409,
        "detail": "expected version 1, but it is at version 4",
    }

    bad = client.post(f"{url}/target", json={"target": "lots", "reason": ""})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json() == {
        "type": "about:blank",
        "title": "Invalid input",
        "status": 422,
        "detail": "invalid: target, reason",
        "errors": [
            {"field": "target", "message": "Input should be a valid number"},
            {"field": "reason", "message": "String should have at least 1 character"},
        ],
    }

    team = client.get(f"/v1/teams/{team_id}", params={"wait_for": position}).json()
    assert [(g["id"], g["target"]) for g in team["goals"]] == [(goal["id"], 99)]
    assert [m["name"] for m in team["members"]] == ["Sandra"]
    # Every view and the alert rules follow the log a moment behind (at most every
    # 100 ms under a stream of writes): ready once they all reach the last write.
    deadline = time.monotonic() + 5
    while (ready := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.status_code == 200, ready.text
    assert ready.json()["head"] == position


@pytest.mark.parametrize(("if_match", "status"), [("abc", 422), ("1", 409)])
def test_setting_a_goal_honours_if_match(client: TestClient, if_match: str, status: int) -> None:
    team_id = new_team(client)
    created(client.post(f"/v1/teams/{team_id}/members", json={"name": "Bo"}))  # team at v2

    response = client.post(
        f"/v1/teams/{team_id}/goals",
        json={"title": "T", "metric": "m", "target": 1, "due": day(30)},
        headers={"If-Match": if_match},
    )

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
