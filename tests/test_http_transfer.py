"""GET /v1/teams/{team_id}/export over real HTTP: the team's events as JSON lines, for
its manager only, with private notes withheld."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from services.keel import Keel
from services.settings import Settings
from services.transfer import import_events, read_jsonl

DAY = "2025-03-03"


def post(client: TestClient, path: str, body: dict[str, Any], actor: str = "kay") -> Any:
    response = client.post(path, json=body, headers={"X-Keel-Actor": actor})
    assert response.status_code == 201, response.text
    return response.json()


def story(client: TestClient) -> tuple[str, str]:
    """Team CS (manager kay) with Sandra, who checked in with a private note; and
    another team. Returns CS's id and Sandra's member id."""
    team = post(client, "/v1/teams", {"name": "CS", "manager": "kay", "occurred_on": DAY})["id"]
    sandra = post(client, f"/v1/teams/{team}/members", {"name": "Sandra", "occurred_on": DAY})
    post(
        client,
        f"/v1/teams/{team}/goals",
        {
            "title": "Renewals",
            "metric": "rate",
            "target": 90,
            "unit": "%",
            "due": "2025-12-31",
            "occurred_on": DAY,
        },
        actor="owner",
    )
    body = {
        "member_id": sandra["id"],
        "day": DAY,
        "mood": 2,
        "progress": ["calls"],
        "setbacks": [],
        "wins": [],
        "blockers": [],
        "private_note": "thinking of leaving",
    }
    post(client, f"/v1/teams/{team}/check-ins", body, actor=sandra["id"])
    post(client, "/v1/teams", {"name": "Ops", "manager": "mo", "occurred_on": DAY})
    return team, sandra["id"]


def test_the_manager_exports_the_team_as_json_lines(client: TestClient, tmp_path: Path) -> None:
    team, sandra = story(client)

    response = client.get(f"/v1/teams/{team}/export", headers={"X-Keel-Actor": "kay"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert "attachment" in response.headers["content-disposition"]
    records = [json.loads(line) for line in response.text.splitlines()]
    kinds = [r["type"].rsplit(".", 1)[-1] for r in records]
    assert kinds == ["TeamFormed", "MemberJoined", "JournalOpened", "GoalSet", "CheckedIn"]
    assert [r["position"] for r in records] == [1, 2, 3, 4, 5]  # Ops, at 6, is not there
    checked_in = records[-1]
    assert checked_in["data"]["private_note"] is None
    assert checked_in["withheld"] == ["private_note"]
    assert "thinking of leaving" not in response.text
    assert records[1]["data"]["name"] == "Sandra"

    # The file imports into an empty store; the private note stays behind.
    keel = Keel(
        env=Settings(store="sqlite", data_dir=tmp_path / "new").eventsourcing_env(Keel.name)
    )
    try:
        lines = (line.encode() for line in response.text.splitlines())
        assert import_events(keel, read_jsonl(lines)).added == 5
        entry = next(iter(keel.journal(UUID(sandra)).entries.values()))
        assert (entry.mood, entry.progress, entry.private_note) == (2, ["calls"], None)
    finally:
        keel.close()


def test_only_the_manager_may_export(client: TestClient) -> None:
    team, sandra = story(client)
    for actor in ("owner", sandra, "anonymous"):
        response = client.get(f"/v1/teams/{team}/export", headers={"X-Keel-Actor": actor})
        assert response.status_code == 403, actor
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == f"only the manager of team {team} may export its events"
    assert client.get(f"/v1/teams/{team}/export").status_code == 403


def test_an_unknown_team_is_not_found(client: TestClient) -> None:
    for team in ("00000000-0000-0000-0000-000000000001", "nope"):
        response = client.get(f"/v1/teams/{team}/export", headers={"X-Keel-Actor": "kay"})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert team in response.json()["detail"]
