"""Alerts over HTTP, in embedded mode (no NATS configured): listing a team's alerts,
acknowledging and resolving them, tuning a team's rules, and the server-sent event
stream. The alerts are real: raised by the running alert process from a team's story."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from domain import calendar
from domain.alert import DEFAULTS, Rule, alert_id
from domain.goal import Goal
from domain.journal import CheckIn
from services.bootstrap import Container
from services.keel import Keel
from services.settings import Settings

MANAGER = {"X-Keel-Actor": "kay"}
OWNER = {"X-Keel-Actor": "owner"}
PROBLEM = "application/problem+json"
FORMED = date(2025, 1, 6)  # a Monday
BLOCKED_ON = date(2025, 1, 7)
FIRST_CHANGE, SECOND_CHANGE = date(2025, 1, 20), date(2025, 2, 3)


@dataclass(frozen=True)
class Story:
    team_id: UUID
    goal_id: UUID
    blocker_id: UUID
    blocker_position: int
    change_positions: tuple[int, int]

    @property
    def churn_alert(self) -> UUID:
        return alert_id(self.team_id, Rule.TARGET_CHURN, self.goal_id, self.change_positions[1])

    @property
    def blocker_alert(self) -> UUID:
        return alert_id(self.team_id, Rule.BLOCKER_AGING, self.blocker_id, self.blocker_position)


def retarget(keel: Keel, goal_id: UUID, target: float, day: date) -> int:
    def change(goal: Goal) -> None:
        goal.change_target(target=target, reason="owners", actor="owner", occurred_on=day)

    return keel.change_goal(goal_id, None, change).position


def tell_story(keel: Keel) -> Story:
    """Five people; one reports a blocker on Tuesday 7 January 2025 that nobody clears;
    a goal's target moves on 20 January and 3 February. The first move takes the team's
    clock nine working days past the blocker (limit 5): blocker_aging. The second is the
    goal's second change within 60 days: target_churn."""
    team = keel.form_team(name="CS", manager="kay", actor="kay", occurred_on=FORMED).id
    members = [
        keel.add_member(team, name=name, role=None, actor="kay", occurred_on=FORMED).id
        for name in ("Ana", "Bo", "Cy", "Di", "Ed")
    ]
    report = CheckIn(BLOCKED_ON, 3, progress=["calls"], blockers=["no CRM access"])
    recorded, entry = keel.check_in(team, members[0], report, actor=str(members[0]))
    goal = keel.set_goal(
        team,
        title="Renewals",
        metric="rate",
        target=90,
        unit="%",
        due=date(2025, 6, 30),
        why=None,
        actor="owner",
        occurred_on=FORMED,
    ).id
    first = retarget(keel, goal, 95, FIRST_CHANGE)
    second = retarget(keel, goal, 80, SECOND_CHANGE)
    return Story(team, goal, UUID(entry.blockers[0]["id"]), recorded.position, (first, second))


def container_of(client: TestClient) -> Container:
    app: Any = client.app
    container: Container = app.state.container
    return container


def alerts_when(
    client: TestClient,
    story: Story,
    ready: Callable[[list[dict[str, Any]]], bool],
    headers: dict[str, str] = MANAGER,
    query: str = "",
) -> list[dict[str, Any]]:
    """The team's alerts once `ready` holds (the process and the view run in threads)."""
    deadline = time.monotonic() + 10
    while True:
        response = client.get(f"/v1/teams/{story.team_id}/alerts{query}", headers=headers)
        assert response.status_code == 200, response.text
        alerts: list[dict[str, Any]] = response.json()["alerts"]
        if ready(alerts) or time.monotonic() > deadline:
            return alerts
        time.sleep(0.02)


def two(alerts: list[dict[str, Any]]) -> bool:
    return len(alerts) == 2


def raised(client: TestClient) -> Story:
    story = tell_story(container_of(client).keel)
    assert len(alerts_when(client, story, two)) == 2
    return story


def test_a_team_s_alerts_newest_first_and_the_manager_alone_sees_personal_ones(
    settings: Settings, client_for: Callable[[Settings], TestClient]
) -> None:
    client = client_for(settings)
    story = tell_story(container_of(client).keel)

    alerts = alerts_when(client, story, two)

    first, second = story.change_positions
    assert alerts == [
        {
            "id": str(story.churn_alert),
            "rule": "target_churn",
            "severity": "warning",
            "state": "open",
            "raised_on": "2025-02-03",
            "raised_at": alerts[0]["raised_at"],
            "subject_id": str(story.goal_id),
            "numbers": {"changes": 2, "threshold": 2, "window_days": 60},
            "evidence": [
                {"position": first, "event": "TargetChanged", "id": str(story.goal_id)},
                {"position": second, "event": "TargetChanged", "id": str(story.goal_id)},
            ],
            "acknowledged_by": None,
            "acknowledged_on": None,
            "cleared_on": None,
            "cleared_reason": None,
        },
        {
            "id": str(story.blocker_alert),
            "rule": "blocker_aging",
            "severity": "info",
            "state": "open",
            "raised_on": "2025-01-20",
            "raised_at": alerts[1]["raised_at"],
            "subject_id": str(story.blocker_id),
            "numbers": {"working_days_open": 9, "limit": 5},
            "evidence": [
                {
                    "position": story.blocker_position,
                    "event": "CheckedIn",
                    "id": str(story.blocker_id),
                }
            ],
            "acknowledged_by": None,
            "acknowledged_on": None,
            "cleared_on": None,
            "cleared_reason": None,
        },
    ]
    assert date.fromisoformat(alerts[0]["raised_at"][:10]) == calendar.today()
    seen_by_owner = client.get(f"/v1/teams/{story.team_id}/alerts", headers=OWNER).json()
    assert seen_by_owner == {"team_id": str(story.team_id), "alerts": alerts[:1]}


def test_others_see_that_check_ins_are_evidence_but_not_whose(client: TestClient) -> None:
    """Everyone checks in on the Monday of four weeks, then only Ana: participation
    drops from 100% to 20%. A check-in on the next Monday closes that week."""
    keel = container_of(client).keel
    team = keel.form_team(name="CS", manager="kay", actor="kay", occurred_on=FORMED).id
    members = [
        keel.add_member(team, name=name, role=None, actor="kay", occurred_on=FORMED).id
        for name in ("Ana", "Bo", "Cy", "Di", "Ed")
    ]
    mondays = [FORMED + timedelta(weeks=week) for week in range(6)]
    for monday in mondays[:4]:
        for member in members:
            keel.check_in(team, member, CheckIn(monday, 4, progress=["calls"]), actor=str(member))
    ana = members[0]
    for monday in mondays[4:]:
        keel.check_in(team, ana, CheckIn(monday, 4, progress=["calls"]), actor=str(ana))
    path = f"/v1/teams/{team}/alerts"
    deadline = time.monotonic() + 10
    while not (alerts := client.get(path, headers=MANAGER).json()["alerts"]):
        assert time.monotonic() < deadline, "no alert was raised"
        time.sleep(0.02)

    [drop] = alerts
    assert (drop["rule"], drop["raised_on"]) == ("participation_drop", "2025-02-09")
    assert drop["numbers"] == {
        "week_rate": 0.2,
        "baseline_rate": 1,
        "members": 5,
        "checked_in": 1,
    }
    [evidence] = drop["evidence"]
    assert evidence["event"] == "CheckedIn"
    assert evidence["id"] == str(keel.journal(ana).id)
    [seen_by_owner] = client.get(path, headers=OWNER).json()["alerts"]
    assert seen_by_owner["evidence"] == [{**evidence, "id": None}]
    assert {k: v for k, v in seen_by_owner.items() if k != "evidence"} == {
        k: v for k, v in drop.items() if k != "evidence"
    }


def test_alerts_by_state_and_bad_queries(client: TestClient) -> None:
    story = raised(client)
    path = f"/v1/teams/{story.team_id}/alerts"

    assert len(client.get(f"{path}?state=open", headers=MANAGER).json()["alerts"]) == 2
    assert client.get(f"{path}?state=cleared", headers=MANAGER).json()["alerts"] == []

    bad_state = client.get(f"{path}?state=closed", headers=MANAGER)
    assert bad_state.status_code == 422
    assert bad_state.headers["content-type"] == PROBLEM
    assert [e["field"] for e in bad_state.json()["errors"]] == ["state"]
    beyond = client.get(f"{path}?wait_for=99", headers=MANAGER)
    assert beyond.status_code == 422
    assert beyond.json()["errors"][0]["field"] == "wait_for"
    for team in ("5d0b7a1e-6c1f-4f2e-9a57-0c6a1e4b2d10", "not-a-team"):
        unknown = client.get(f"/v1/teams/{team}/alerts")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == PROBLEM


def test_the_manager_acknowledges_then_resolves_an_alert(
    settings: Settings, client_for: Callable[[Settings], TestClient]
) -> None:
    client = client_for(settings)
    story = raised(client)
    path = f"/v1/alerts/{story.churn_alert}"

    ack = client.post(
        f"{path}/acknowledgement", json={"note": "talking to owners"}, headers=MANAGER
    )

    assert ack.status_code == 201, ack.text
    assert ack.headers["etag"] == '"2"'
    body = ack.json()
    assert body == {
        "id": str(story.churn_alert),
        "state": "acknowledged",
        "version": 2,
        "position": 3,  # the third event of the Alerts log, after the two raised
    }
    query = f"/v1/teams/{story.team_id}/alerts?state=acknowledged&wait_for={body['position']}"
    [acknowledged] = client.get(query, headers=MANAGER).json()["alerts"]
    assert acknowledged["acknowledged_by"] == "kay"
    assert acknowledged["acknowledged_on"] == calendar.today().isoformat()
    assert "talking to owners" not in str(acknowledged)  # the note is never shown
    again = client.post(f"{path}/acknowledgement", json={}, headers=MANAGER)
    assert again.status_code == 409
    assert "already acknowledged by kay" in again.json()["detail"]

    resolved = client.post(f"{path}/resolution", headers=MANAGER)

    assert resolved.status_code == 201, resolved.text
    assert resolved.json()["state"] == "cleared"
    assert resolved.json()["version"] == 3
    query = f"/v1/teams/{story.team_id}/alerts?state=cleared&wait_for={resolved.json()['position']}"
    [cleared] = client.get(query, headers=MANAGER).json()["alerts"]
    assert (cleared["id"], cleared["cleared_reason"]) == (str(story.churn_alert), "resolved")
    assert client.post(f"{path}/acknowledgement", headers=MANAGER).status_code == 409
    assert client.post(f"{path}/resolution", headers=MANAGER).status_code == 409


def test_an_alert_may_be_acknowledged_on_a_past_day_but_not_before_it_was_raised(
    client: TestClient,
) -> None:
    story = raised(client)
    path = f"/v1/alerts/{story.blocker_alert}/acknowledgement"

    early = client.post(path, json={"occurred_on": "2025-01-19"}, headers=MANAGER)
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "occurred_on"
    future = str(calendar.today() + timedelta(days=3))
    assert client.post(path, json={"occurred_on": future}, headers=MANAGER).status_code == 422

    ok = client.post(path, json={"occurred_on": "2025-01-21"}, headers=MANAGER)
    assert ok.status_code == 201, ok.text
    query = f"/v1/teams/{story.team_id}/alerts?state=acknowledged&wait_for={ok.json()['position']}"
    [acknowledged] = client.get(query, headers=MANAGER).json()["alerts"]
    assert acknowledged["acknowledged_on"] == "2025-01-21"


@pytest.mark.parametrize(
    ("alert", "body", "headers", "status", "field"),
    [
        ("churn", {}, OWNER, 403, None),
        ("churn", {}, {}, 403, None),
        ("5d0b7a1e-6c1f-4f2e-9a57-0c6a1e4b2d10", {}, MANAGER, 404, None),
        ("not-an-alert", {}, MANAGER, 422, "alert_id"),
        ("churn", {"note": "  "}, MANAGER, 422, "note"),
        ("churn", {"note": "x" * 2001}, MANAGER, 422, "note"),
        ("churn", {"note": 5}, MANAGER, 422, "note"),
        ("churn", {"by": "kay"}, MANAGER, 422, "by"),
        ("churn", {"occurred_on": "yesterday"}, MANAGER, 422, "occurred_on"),
        ("churn", {}, {**MANAGER, "If-Match": "7"}, 409, None),
        ("churn", {}, {**MANAGER, "If-Match": "seven"}, 422, "If-Match"),
    ],
)
def test_bad_acknowledgements_are_refused_and_change_nothing(
    client: TestClient,
    alert: str,
    body: dict[str, Any],
    headers: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    story = raised(client)
    target = str(story.churn_alert) if alert == "churn" else alert
    head = container_of(client).alerts.head()

    for action in ("acknowledgement", "resolution"):
        # A resolution has no note: there, a note is an unknown field, named as well.
        response = client.post(f"/v1/alerts/{target}/{action}", json=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM
        if field is not None:
            assert field in [e["field"] for e in response.json()["errors"]]

    assert container_of(client).alerts.head() == head


def test_an_acknowledgement_that_is_not_json_is_unsupported(client: TestClient) -> None:
    story = raised(client)
    response = client.post(
        f"/v1/alerts/{story.churn_alert}/acknowledgement",
        content="note=hi",
        headers={**MANAGER, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


# --- tuning -------------------------------------------------------------------------------


def test_a_team_s_rule_parameters_are_defaults_then_installation_then_team(
    sqlite_settings: Settings, client_for: Callable[[Settings], TestClient]
) -> None:
    installation = {"morale_drop": {"ewma_l": 2.8}}
    client = client_for(sqlite_settings.model_copy(update={"alert_rules": installation}))
    team = client.post("/v1/teams", json={"name": "CS", "manager": "kay"}, headers=MANAGER).json()[
        "id"
    ]
    path = f"/v1/teams/{team}/alert-rules"

    before = client.get(path).json()
    assert before["team_id"] == team
    assert [r["rule"] for r in before["rules"]] == [rule.value for rule in Rule]
    morale = before["rules"][0]
    assert morale["parameters"] == {**DEFAULTS[Rule.MORALE_DROP], "ewma_l": 2.8}
    assert morale["team_overrides"] == {}

    tuned = client.put(
        f"{path}/morale_drop", json={"parameters": {"ewma_l": 2.5, "cusum_h": 4}}, headers=MANAGER
    )

    assert tuned.status_code == 200, tuned.text
    assert tuned.json()["version"] == before["version"] + 1
    after = client.get(path).json()
    assert after["rules"][0]["parameters"] == {
        **DEFAULTS[Rule.MORALE_DROP],
        "ewma_l": 2.5,
        "cusum_h": 4,
    }
    assert after["rules"][0]["team_overrides"] == {"ewma_l": 2.5, "cusum_h": 4}
    assert after["rules"][1:] == before["rules"][1:]
    restored = client.put(f"{path}/morale_drop", json={"parameters": {}}, headers=MANAGER)
    assert restored.status_code == 200
    assert client.get(path).json()["rules"] == before["rules"]


@pytest.mark.parametrize(
    ("rule", "body", "headers", "status", "field"),
    [
        ("morale_drop", {"parameters": {"ewma_l": 2.5}}, OWNER, 403, None),
        ("morale_dip", {"parameters": {"ewma_l": 2.5}}, MANAGER, 422, "rule"),
        ("morale_drop", {"parameters": {"ewma_x": 2.5}}, MANAGER, 422, "parameters.ewma_x"),
        ("morale_drop", {"parameters": {"ewma_l": "2.5"}}, MANAGER, 422, "parameters.ewma_l"),
        ("morale_drop", {"parameters": {"ewma_l": True}}, MANAGER, 422, "parameters.ewma_l"),
        ("morale_drop", {"parameters": {"ewma_lambda": 2}}, MANAGER, 422, "parameters.ewma_lambda"),
        (
            "target_churn",
            {"parameters": {"goal_changes": 2.5}},
            MANAGER,
            422,
            "parameters.goal_changes",
        ),
        ("morale_drop", {"parameters": {}}, MANAGER, 422, "parameters"),
        ("morale_drop", {"params": {}}, MANAGER, 422, "params"),
        ("morale_drop", {"parameters": {"ewma_l": 2.5}}, {**MANAGER, "If-Match": "1"}, 409, None),
    ],
)
def test_bad_tuning_is_refused(
    client: TestClient,
    rule: str,
    body: dict[str, Any],
    headers: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    team = client.post("/v1/teams", json={"name": "CS", "manager": "kay"}, headers=MANAGER).json()[
        "id"
    ]
    client.post(f"/v1/teams/{team}/members", json={"name": "Ana"}, headers=MANAGER)

    response = client.put(f"/v1/teams/{team}/alert-rules/{rule}", json=body, headers=headers)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    if field is not None:
        assert field in [e["field"] for e in response.json()["errors"]]
    assert client.get(f"/v1/teams/{team}/alert-rules").json()["version"] == 2


def test_tuning_an_unknown_team_is_not_found(client: TestClient) -> None:
    for team in ("5d0b7a1e-6c1f-4f2e-9a57-0c6a1e4b2d10", "nope"):
        body = {"parameters": {"ewma_l": 2.5}}
        put = client.put(f"/v1/teams/{team}/alert-rules/morale_drop", json=body, headers=MANAGER)
        assert put.status_code == 404
        assert client.get(f"/v1/teams/{team}/alert-rules").status_code == 404


# --- the stream ---------------------------------------------------------------------------


def read_events(response: httpx.Response, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The first `count` server-sent events, their data parsed; if they do not come
    within `timeout`, the stream is closed and the events so far are returned, so a
    test fails, not hangs."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    watchdog = threading.Timer(timeout, response.close)
    watchdog.start()
    try:
        for line in response.iter_lines():
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(": ")
                current[name] = json.loads(value) if name == "data" else value
                continue
            if current:
                events.append(current)
                current = {}
            if len(events) == count:
                break
    except httpx.StreamClosed:
        pass
    finally:
        watchdog.cancel()
    return events


def test_the_stream_replays_from_a_position_and_hides_personal_rules(client: TestClient) -> None:
    story = raised(client)
    path = f"/v1/teams/{story.team_id}/alerts/stream"

    with client.stream("GET", f"{path}?since=0", headers=MANAGER) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response, 2)

    assert [(e["id"], e["event"]) for e in events] == [("1", "alert.raised"), ("2", "alert.raised")]
    # Each event's data is the alert as the list shows it (which is newest first).
    newest_first = alerts_when(client, story, two)
    assert [e["data"] for e in events] == newest_first[::-1]
    with client.stream("GET", f"{path}?since=0", headers=OWNER) as response:
        [only] = read_events(response, 1)
    # The owner's stream skips position 1, blocker_aging, which is about one person.
    assert (only["id"], only["event"]) == ("2", "alert.raised")
    assert only["data"] == newest_first[0]
    assert only["data"]["rule"] == "target_churn"


def test_the_stream_follows_new_alert_events_and_resumes_after_last_event_id(
    client: TestClient,
) -> None:
    story = raised(client)
    container = container_of(client)
    path = f"/v1/teams/{story.team_id}/alerts/stream"

    with client.stream("GET", path, headers=MANAGER) as response:
        ack = client.post(f"/v1/alerts/{story.blocker_alert}/acknowledgement", headers=MANAGER)
        assert ack.status_code == 201
        # A second goal moved twice: the process raises target_churn for it, and for the
        # team (three changes within 90 days).
        goal = container.keel.set_goal(
            story.team_id,
            title="NPS",
            metric="score",
            target=40,
            unit="",
            due=date(2025, 6, 30),
            why=None,
            actor="owner",
            occurred_on=SECOND_CHANGE,
        ).id
        retarget(container.keel, goal, 45, date(2025, 2, 10))
        retarget(container.keel, goal, 50, date(2025, 2, 17))
        events = read_events(response, 3)

    assert [(e["id"], e["event"]) for e in events] == [
        ("3", "alert.acknowledged"),
        ("4", "alert.raised"),
        ("5", "alert.raised"),
    ]
    data = [e["data"] for e in events]
    assert (data[0]["id"], data[0]["state"]) == (str(story.blocker_alert), "acknowledged")
    # On 10 February the team's third change within 90 days; on 17 February the new
    # goal's second within 60.
    assert [(d["rule"], d["subject_id"], d["raised_on"]) for d in data[1:]] == [
        ("target_churn", None, "2025-02-10"),
        ("target_churn", str(goal), "2025-02-17"),
    ]

    with client.stream("GET", path, headers={**MANAGER, "Last-Event-ID": "3"}) as response:
        resumed = read_events(response, 2)
    assert resumed == events[1:]


@pytest.mark.parametrize(
    ("team", "query", "headers", "status", "field"),
    [
        ("known", "", {"Last-Event-ID": "three"}, 422, "Last-Event-ID"),
        ("known", "", {"Last-Event-ID": "-1"}, 422, "Last-Event-ID"),
        ("known", "?since=-1", {}, 422, "since"),
        ("known", "?since=soon", {}, 422, "since"),
        ("5d0b7a1e-6c1f-4f2e-9a57-0c6a1e4b2d10", "", {}, 404, None),
        ("not-a-team", "", {}, 404, None),
    ],
)
def test_a_bad_stream_request_is_refused_before_the_stream_starts(
    client: TestClient,
    team: str,
    query: str,
    headers: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    known = container_of(client).keel.form_team(
        name="CS", manager="kay", actor="kay", occurred_on=FORMED
    )
    path = f"/v1/teams/{known.id if team == 'known' else team}/alerts/stream{query}"

    response = client.get(path, headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    if field is not None:
        assert response.json()["errors"][0]["field"] == field
