"""Inner work life end to end over HTTP: check-ins, corrections, recognitions, blockers,
and the five team views plus the journal, with hand-computed expected values."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from domain.journal import Entry
from services.http.work_life import _check_in_json, _check_in_out
from services.keel import Recorded

MANAGER = {"X-Keel-Actor": "kay"}
OWNER = {"X-Keel-Actor": "owner"}
PROBLEM = "application/problem+json"


def post(client: TestClient, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post(path, json=body, headers=headers or MANAGER)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def team_with(client: TestClient, names: list[str], since: date) -> tuple[str, dict[str, str]]:
    team = post(client, "/v1/teams", {"name": "CS", "manager": "kay", "occurred_on": str(since)})
    members = {
        name: post(
            client, f"/v1/teams/{team['id']}/members", {"name": name, "occurred_on": str(since)}
        )["id"]
        for name in names
    }
    return team["id"], members


def check_in(
    client: TestClient, team: str, member: str, day: date, mood: int, **lists: Any
) -> dict[str, Any]:
    return post(
        client,
        f"/v1/teams/{team}/check-ins",
        {"member_id": member, "day": str(day), "mood": mood, **lists},
        **{"X-Keel-Actor": member},
    )


def view(client: TestClient, path: str, position: int, headers: dict[str, str] = MANAGER) -> Any:
    sep = "&" if "?" in path else "?"
    response = client.get(f"{path}{sep}wait_for={position}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


MON, TUE, WED = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
MOODS = {  # member -> moods on Mon, Tue, Wed (None: no check-in)
    "A": (5, 4, 3),
    "B": (4, 4, 3),
    "C": (3, 4, 3),
    "D": (2, 4, 3),
    "E": (1, 4, None),
}


def test_morale_by_day_and_week_with_the_minimum_group(client: TestClient) -> None:
    team, members = team_with(client, list(MOODS), date(2025, 12, 1))
    last = 0
    for name, moods in MOODS.items():
        for day, mood in zip((MON, TUE, WED), moods, strict=True):
            if mood is not None:
                last = check_in(client, team, members[name], day, mood)["position"]

    daily = view(client, f"/v1/teams/{team}/morale?granularity=day", last, OWNER)
    assert daily["min_group"] == 5
    # Wednesday has only 4 people, fewer than 5: hidden. The week is shown, so Monday and
    # Tuesday are hidden too: the week minus them would give Wednesday away.
    assert [
        (p["period_start"], p["respondents"], p["mean"], p["suppressed"]) for p in daily["points"]
    ] == [
        ("2026-01-05", 5, None, True),
        ("2026-01-06", 5, None, True),
        ("2026-01-07", 4, None, True),
    ]
    # E checks in on Thursday too: every day of the week now has 5 people, all shown.
    last = check_in(client, team, members["E"], date(2026, 1, 7), 2)["position"]
    daily = view(client, f"/v1/teams/{team}/morale?granularity=day", last, OWNER)
    assert daily["points"] == [
        # Mon: (5+4+3+2+1)/5 = 3.0, one of each mood
        {
            "period_start": "2026-01-05",
            "respondents": 5,
            "mean": 3.0,
            "distribution": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1},
            "suppressed": False,
        },
        {
            "period_start": "2026-01-06",
            "respondents": 5,
            "mean": 4.0,
            "distribution": {"1": 0, "2": 0, "3": 0, "4": 5, "5": 0},
            "suppressed": False,
        },
        # Wed: (3+3+3+3+2)/5 = 2.8
        {
            "period_start": "2026-01-07",
            "respondents": 5,
            "mean": 2.8,
            "distribution": {"1": 0, "2": 1, "3": 4, "4": 0, "5": 0},
            "suppressed": False,
        },
    ]
    weekly = view(client, f"/v1/teams/{team}/morale?granularity=week", last, OWNER)
    # Each member's own mean: A 4, B 11/3, C 10/3, D 3, E (1+4+2)/3 = 7/3
    # -> (4 + 11/3 + 10/3 + 3 + 7/3) / 5 = (49/3) / 5 = 3.267
    assert weekly["points"] == [
        {
            "period_start": "2026-01-05",
            "respondents": 5,
            "mean": 3.267,
            "distribution": {"1": 1, "2": 2, "3": 5, "4": 6, "5": 1},
            "suppressed": False,
        }
    ]
    only_tuesday = view(
        client, f"/v1/teams/{team}/morale?granularity=day&from=2026-01-06&to=2026-01-06", last
    )
    assert [p["period_start"] for p in only_tuesday["points"]] == ["2026-01-06"]


def test_a_figure_that_would_single_out_a_newcomer_is_hidden(client: TestClient) -> None:
    team, members = team_with(client, list(MOODS), date(2025, 12, 1))
    for member in members.values():
        check_in(client, team, member, MON, 3)
    next_monday = MON + timedelta(days=7)
    newcomer = post(
        client, f"/v1/teams/{team}/members", {"name": "F", "occurred_on": str(next_monday)}
    )["id"]
    for member in [*members.values(), newcomer]:
        last = check_in(client, team, member, next_monday, 3)["position"]
    points = view(client, f"/v1/teams/{team}/morale?granularity=day", last)["points"]
    # The next Monday's 6 respondents differ from Monday's 5 by one person: comparing
    # the two means would give away F's mood, so it is hidden though 6 >= 5.
    assert [(p["respondents"], p["suppressed"]) for p in points] == [(5, False), (6, True)]


def test_a_team_may_lower_its_minimum_group_but_never_below_three(client: TestClient) -> None:
    team, members = team_with(client, ["A", "B", "C"], date(2025, 12, 1))
    for mood, member in zip((2, 3, 4), members.values(), strict=True):
        last = check_in(client, team, member, MON, mood)["position"]
    assert view(client, f"/v1/teams/{team}/morale", last)["points"][0]["suppressed"] is True

    refused = client.post(f"/v1/teams/{team}/min-group", json={"min_group": 2}, headers=MANAGER)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "min_group"
    position = post(client, f"/v1/teams/{team}/min-group", {"min_group": 3})["position"]
    points = view(client, f"/v1/teams/{team}/morale", position)
    assert points["min_group"] == 3
    assert points["points"][0]["mean"] == 3.0


def test_progress_ledger_weighs_a_setback_twice(client: TestClient) -> None:
    team, members = team_with(client, ["A", "B"], date(2025, 12, 1))
    a, b = members["A"], members["B"]
    check_in(client, team, a, MON, 4, progress=["shipped"], wins=["first deal"])
    check_in(client, team, a, TUE, 3, progress=["call", "email"], setbacks=["lost lead"])
    check_in(client, team, a, WED, 2, setbacks=["outage"])
    last = check_in(client, team, b, MON, 4, progress=["docs"])["position"]

    body = view(client, f"/v1/teams/{team}/progress", last)
    # Team: 4 check-in days; progress on 3, setbacks on 2, wins on 1.
    # balance = 3 - 2 x 2 = -1
    assert body["team"] == {
        "check_in_days": 4,
        "progress_days": 3,
        "setback_days": 2,
        "win_days": 1,
        "progress_share": 0.75,
        "setback_share": 0.5,
        "win_share": 0.25,
        "balance": -1.0,
    }
    lines = {m["member_id"]: m for m in body["members"]}
    # A: 3 days, progress 2, setbacks 2 -> balance 2 - 4 = -2; shares 2/3 = 0.6667
    assert (lines[a]["progress_share"], lines[a]["balance"]) == (0.6667, -2.0)
    assert (lines[b]["progress_share"], lines[b]["balance"]) == (1.0, 1.0)
    # An owner sees the team line only; a member sees their own line only.
    assert view(client, f"/v1/teams/{team}/progress", last, OWNER)["members"] == []
    own = view(client, f"/v1/teams/{team}/progress", last, {"X-Keel-Actor": b})["members"]
    assert [m["member_id"] for m in own] == [b]


def test_recognition_and_unrecognised_wins(client: TestClient) -> None:
    today = date.today()
    team, members = team_with(client, ["A", "B", "kay"], today - timedelta(days=60))
    a, b, kay = members["A"], members["B"], members["kay"]
    old = check_in(client, team, a, today - timedelta(days=10), 4, wins=["big deal", "nice demo"])
    fresh = check_in(client, team, b, today - timedelta(days=3), 4, wins=["quick fix"])
    post(
        client,
        "/v1/recognitions",
        {"from_member_id": b, "to_member_id": a, "win_id": old["win_ids"][0], "message": "bravo"},
    )
    last = post(
        client, "/v1/recognitions", {"from_member_id": kay, "to_member_id": b, "message": "thanks"}
    )["position"]

    body = view(client, f"/v1/teams/{team}/recognition", last)
    # B's recognition of A is a peer's; kay is the manager by name.
    assert (body["peer_30d"], body["manager_30d"]) == (1, 1)
    # A's second win is 10 days old and unrecognised; B's win is only 3 days old.
    assert body["unrecognised_wins"] == [
        {"win_id": old["win_ids"][1], "member_id": a, "day": str(today - timedelta(days=10))}
    ]
    assert fresh["win_ids"][0] not in {w["win_id"] for w in body["unrecognised_wins"]}
    by_member = {m["member_id"]: m for m in body["members"]}
    assert by_member[a] == {"member_id": a, "last_recognised_on": str(today), "recognitions_30d": 1}
    assert by_member[kay]["last_recognised_on"] is None


def test_participation_and_silence(client: TestClient) -> None:
    today = date.today()
    monday = today - timedelta(days=today.weekday())
    team, members = team_with(client, ["A", "B", "C", "D"], monday - timedelta(days=21))
    for name in ("A", "B", "C"):
        check_in(client, team, members[name], monday - timedelta(days=7), 3)
    last = check_in(client, team, members["A"], monday - timedelta(days=14), 3)["position"]

    body = view(client, f"/v1/teams/{team}/participation?from={monday - timedelta(days=14)}", last)
    assert [(w["week_start"], w["checked_in"], w["share"]) for w in body["weeks"]] == [
        (str(monday - timedelta(days=14)), 1, 0.25),
        (str(monday - timedelta(days=7)), 3, 0.75),
        (str(monday), 0, 0.0),
    ]
    # D never checked in and joined 21+ days ago: silent.
    silent = {s["member_id"]: s for s in body["silent"]}
    assert members["D"] in silent
    assert silent[members["D"]]["last_check_in"] is None
    assert body["silent_count"] == len(body["silent"])


def test_blockers_are_cleared_by_the_manager_and_age_in_working_days(client: TestClient) -> None:
    team, members = team_with(client, ["A"], date(2025, 12, 1))
    reported = check_in(client, team, members["A"], MON, 2, blockers=["no VPN", "no laptop"])
    vpn, laptop = reported["blocker_ids"]
    cleared = post(
        client, f"/v1/blockers/{vpn}/clearance", {"note": "sorted", "occurred_on": str(WED)}
    )
    assert cleared["id"] == vpn

    body = view(client, f"/v1/teams/{team}/blockers", cleared["position"])
    assert body["cleared"] == [
        {
            "blocker_id": vpn,
            "member_id": members["A"],
            "day": "2026-01-05",
            "cleared_on": "2026-01-07",
            "cleared_by": "kay",
            "working_days_open": 2,
        }
    ]
    assert [b["blocker_id"] for b in body["open"]] == [laptop]
    again = client.post(f"/v1/blockers/{vpn}/clearance", json={}, headers=MANAGER)
    assert again.status_code == 409


def test_a_same_day_correction_supersedes_the_check_in(client: TestClient) -> None:
    team, members = team_with(client, list(MOODS), date(2025, 12, 1))
    a = members["A"]
    first = check_in(client, team, a, MON, 1, wins=["demo"], blockers=["no access"])
    for name in ("B", "C", "D", "E"):
        check_in(client, team, members[name], MON, 3)
    response = client.post(
        f"/v1/members/{a}/check-ins/{MON}/correction",
        json={"mood": 5, "wins": ["demo"], "private_note": "typo earlier"},
        headers={"X-Keel-Actor": a},
    )
    assert response.status_code == 201, response.text
    corrected = response.json()
    assert corrected["id"] == first["id"]  # the same check-in: one member, one day
    assert corrected["win_ids"] == first["win_ids"]  # an unchanged win keeps its id
    assert corrected["blocker_ids"] == []

    points = view(client, f"/v1/teams/{team}/morale?granularity=day", corrected["position"])[
        "points"
    ]
    assert points[0]["mean"] == (5 + 3 * 4) / 5  # 3.4: the correction, not the original
    journal = client.get(f"/v1/members/{a}/journal", headers={"X-Keel-Actor": a}).json()
    assert [(e["mood"], e["private_note"]) for e in journal["entries"]] == [(5, "typo earlier")]


def test_the_journal_is_private(client: TestClient) -> None:
    team, members = team_with(client, ["A", "B"], date(2025, 12, 1))
    a = members["A"]
    check_in(client, team, a, MON, 4, progress=["wrote tests"], private_note="tired")
    post(
        client,
        f"/v1/members/{a}/success-definition",
        {"text": "Learning every week"},
        **{"X-Keel-Actor": a},
    )

    own = client.get(f"/v1/members/{a}/journal", headers={"X-Keel-Actor": a}).json()
    assert own["success"] == "Learning every week"
    assert own["entries"][0]["private_note"] == "tired"
    assert own["trend"] == [{"period_start": "2026-01-05", "check_ins": 1, "mean": 4.0}]

    managers = client.get(f"/v1/members/{a}/journal", headers=MANAGER).json()
    assert managers["entries"][0]["progress"] == ["wrote tests"]
    assert "private_note" not in managers["entries"][0]

    for outsider in ("owner", members["B"]):
        denied = client.get(f"/v1/members/{a}/journal", headers={"X-Keel-Actor": outsider})
        assert denied.status_code == 403
        assert denied.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"mood": 0}, 422, "mood"),
        ({"mood": 6}, 422, "mood"),
        ({"mood": 3.5}, 422, "mood"),
        ({"mood": "3"}, 422, "mood"),
        ({"day": "2999-01-01"}, 422, "day"),
        ({"day": "2026-02-30"}, 422, "day"),
        ({"wins": [""]}, 422, "wins.0"),
        ({"wins": ["x" * 501]}, 422, "wins.0"),
        ({"member_id": "other-team"}, 422, "member_id"),
        ({"member_id": "not-a-uuid"}, 422, "member_id"),
        ({"surprise": 1}, 422, "surprise"),
        ({"day": "2025-11-01"}, 422, "day"),  # before the member joined
    ],
)
def test_bad_check_ins_name_the_field(
    client: TestClient, change: dict[str, Any], status: int, field: str
) -> None:
    team, members = team_with(client, ["A"], date(2025, 12, 1))
    _, others = team_with(client, ["Z"], date(2025, 12, 1))
    body: dict[str, Any] = {"member_id": members["A"], "day": str(MON), "mood": 3, **change}
    if body["member_id"] == "other-team":
        body["member_id"] = others["Z"]
    response = client.post(f"/v1/teams/{team}/check-ins", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_second_check_in_the_same_day_is_a_conflict(client: TestClient) -> None:
    team, members = team_with(client, ["A"], date(2025, 12, 1))
    check_in(client, team, members["A"], MON, 3)
    again = client.post(
        f"/v1/teams/{team}/check-ins", json={"member_id": members["A"], "day": str(MON), "mood": 4}
    )
    assert again.status_code == 409
    assert "correction" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"from_member_id": "A", "to_member_id": "A", "message": "me!"}, 422, "to_member_id"),
        (
            {"from_member_id": "B", "to_member_id": "A", "win_id": "unknown", "message": "x"},
            422,
            "win_id",
        ),
        ({"from_member_id": "Z", "to_member_id": "A", "message": "x"}, 422, "from_member_id"),
        ({"from_member_id": "B", "to_member_id": "A", "message": " "}, 422, "message"),
    ],
)
def test_bad_recognitions_name_the_field(
    client: TestClient, body: dict[str, Any], status: int, field: str
) -> None:
    _, members = team_with(client, ["A", "B"], date(2025, 12, 1))
    _, others = team_with(client, ["Z"], date(2025, 12, 1))
    ids = {**members, **others, "unknown": "00000000-0000-4000-8000-000000000000"}
    resolved = {k: ids.get(v, v) if k.endswith("_id") else v for k, v in body.items()}
    response = client.post("/v1/recognitions", json=resolved)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_unknown_members_and_blockers_are_not_found(client: TestClient) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    for method, path, body in [
        ("GET", f"/v1/members/{unknown}/journal", None),
        ("POST", f"/v1/members/{unknown}/success-definition", {"text": "x"}),
        ("POST", f"/v1/blockers/{unknown}/clearance", {}),
        ("POST", f"/v1/members/{unknown}/check-ins/2026-01-05/correction", {"mood": 3}),
        (
            "POST",
            "/v1/recognitions",
            {
                "from_member_id": unknown,
                "to_member_id": unknown.replace("0000-4", "0001-4"),
                "message": "x",
            },
        ),
        ("GET", f"/v1/teams/{unknown}/morale", None),
    ]:
        response = client.request(method, path, json=body)
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"] == PROBLEM


def test_erasing_a_member_over_http(client: TestClient) -> None:
    team, members = team_with(client, ["Ana", "Bo"], date(2025, 12, 1))
    ana = members["Ana"]
    check_in(client, team, ana, MON, 4, progress=["wrote tests"], private_note="tired")
    erased = post(client, f"/v1/members/{ana}/erasure", {}, **{"X-Keel-Actor": ana})
    assert erased["id"] == ana

    journal = client.get(f"/v1/members/{ana}/journal", headers={"X-Keel-Actor": ana}).json()
    assert journal["entries"][0]["progress"] == ["[erased]"]
    assert journal["entries"][0]["private_note"] == "[erased]"
    assert journal["entries"][0]["mood"] == 4  # numbers stay, so team history is unchanged
    names = [m["name"] for m in client.get(f"/v1/teams/{team}").json()["members"]]
    assert names == ["[erased]", "Bo"]
    again = client.post(f"/v1/members/{ana}/erasure", json={})
    assert again.status_code == 409


@pytest.mark.parametrize(("wins", "blockers"), [(0, 0), (2, 1)])
def test_a_check_in_is_answered_with_the_json_its_model_would_give(
    wins: int, blockers: int
) -> None:
    recorded = Recorded(uuid4(), 12, 3456)
    items = [{"id": str(uuid4()), "text": f"item {i}"} for i in range(wins + blockers)]
    entry = Entry(date(2026, 1, 5), 3, ["a"], [], items[:wins], items[wins:], None)
    member = uuid4()
    assert _check_in_json(member, recorded, entry) == (
        _check_in_out(member, recorded, entry).model_dump_json().encode()
    )
