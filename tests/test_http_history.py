"""History over HTTP, on both backends: the team and goal as of random days and instants
against a fold of the log computed here, independently; the current state; the
timeline's order, pages, filters and privacy; and every bad input named."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain import calendar
from domain.goal import Goal
from domain.journal import CheckIn, Journal
from domain.recognition import Recognition
from domain.team import DepartureReason, Team
from projections.churn import AuditEntry, team_churn
from projections.morale import Mood, team_morale
from projections.timeline import KINDS as KINDS_ALL
from services import history
from services.bootstrap import Container, bootstrap
from services.demo import load_demo
from services.http.app import create_app
from services.settings import Settings

MANAGER = {"X-Keel-Actor": "kay"}
STORY_MANAGER = {"X-Keel-Actor": "noor"}  # the story's manager from week 11
OWNER = {"X-Keel-Actor": "owner"}
PROBLEM = "application/problem+json"
TODAY = calendar.today()
START = TODAY - timedelta(weeks=16)
PROGRESS_TEXT = "Closed the Hartley renewal"
PRIVATE_NOTE = "I am thinking of quitting"


@dataclass
class Story:
    """A team's sixteen weeks, written through Keel's commands: check-ins on most
    workdays, goals whose targets, due dates and titles move, a departure, a new
    manager, and, recorded last, backdated changes and a late correction."""

    container: Container
    rng: random.Random
    team: UUID = field(init=False)
    members: list[UUID] = field(default_factory=list)
    goals: list[UUID] = field(default_factory=list)
    checked: dict[UUID, set[date]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keel = self.container.keel
        self.team = keel.form_team(name="Support", manager="kay", actor="hr", occurred_on=START).id
        for name in ("Ana", "Ben", "Chen", "Dara", "Eli", "Femi"):
            recorded = keel.add_member(
                self.team, name=name, role="agent", actor="kay", occurred_on=START
            )
            self.members.append(recorded.id)

    def days(self) -> Iterator[date]:
        day = START
        while day < TODAY:
            yield day
            day += timedelta(days=1)

    def write(self) -> None:
        keel, rng = self.container.keel, self.rng
        leaver = self.members[1]
        for day in self.days():
            week = (day - START).days // 7
            if day.weekday() == 0 and week % 5 == 0:
                self.goals.append(self.set_goal(day))
            for goal in self.goals:
                self.move(goal, day)
            if day == START + timedelta(weeks=9):
                keel.record_departure(
                    self.team,
                    leaver,
                    reason=DepartureReason.MOVED_ON,
                    note="went to a rival",
                    actor="kay",
                    occurred_on=day,
                )
            if day == START + timedelta(weeks=11):
                team = keel.team(self.team)
                team.assign_manager(manager="noor", actor="hr", occurred_on=day)
                keel.save(team)
            if day.weekday() >= 5:
                continue
            for member in self.members:
                left = keel.team(self.team).members[member].left_on
                if (left is None or day <= left) and rng.random() < 0.85:
                    self.check_in(member, day, rng.randint(1, 5))
        self.write_personal()

    def write_personal(self) -> None:
        """Today: what only the manager sees on the timeline, one of each."""
        keel, (ana, _, chen, dara, eli, femi) = self.container.keel, self.members
        keel.define_success(ana, text="Calm weeks", actor=str(ana), occurred_on=TODAY)
        keel.recognise(
            from_member_id=dara,
            to_member_id=eli,
            win_id=None,
            message="Thanks for the cover",
            actor=str(dara),
            occurred_on=TODAY,
        )
        report = CheckIn(day=TODAY, mood=3, blockers=["VPN down"])
        _, entry = keel.check_in(self.team, femi, report, actor=str(femi))
        self.checked.setdefault(femi, set()).add(TODAY)
        blocker = UUID(entry.blockers[0]["id"])
        keel.clear_blocker(femi, blocker, note=None, actor="noor", occurred_on=TODAY)
        keel.erase_member(chen, actor="noor", occurred_on=TODAY)

    def set_goal(self, day: date) -> UUID:
        return self.container.keel.set_goal(
            self.team,
            title=f"Goal {len(self.goals) + 1}",
            metric="tickets",
            target=float(self.rng.randint(50, 100)),
            unit="",
            due=day + timedelta(weeks=6),
            why="the quarter's focus",
            actor="owner",
            occurred_on=day,
        ).id

    def move(self, goal_id: UUID, day: date) -> None:
        goal, roll = self.container.keel.goal(goal_id), self.rng.random()
        if goal.state.value != "active" or goal.set_on == day:
            return
        if day >= goal.due:
            goal.achieve(reason="done", actor="owner", occurred_on=day)
        elif roll < 0.05:
            target = goal.target + self.rng.choice([-10, 5, 15])
            goal.change_target(target=target, reason="ask", actor="owner", occurred_on=day)
        elif roll < 0.07:
            due = goal.due + timedelta(days=7)
            goal.change_due_date(due=due, reason="slipped", actor="owner", occurred_on=day)
        elif roll < 0.08:
            title = f"{goal.title}+"
            goal.redefine(title=title, metric=None, reason="why", actor="owner", occurred_on=day)
        elif roll < 0.15:
            value = float(self.rng.randint(0, 100))
            goal.record_progress(value=value, note=None, actor="owner", occurred_on=day)
        else:
            return
        self.container.keel.save(goal)

    def check_in(self, member: UUID, day: date, mood: int) -> None:
        report = CheckIn(day=day, mood=mood, progress=[PROGRESS_TEXT], private_note=PRIVATE_NOTE)
        self.container.keel.check_in(self.team, member, report, actor=str(member))
        self.checked.setdefault(member, set()).add(day)

    def write_late(self) -> None:
        """Recorded last, about the past: a backfilled check-in, a correction of an old
        day, and a target change backdated into the goal's life."""
        keel, first, third = self.container.keel, self.members[0], self.members[2]
        old_day = min(self.checked[first])
        keel.correct_check_in(first, CheckIn(day=old_day, mood=1), actor=str(first))
        missing = next(d for d in self.days() if d.weekday() < 5 and d not in self.checked[third])
        self.check_in(third, missing, 5)
        open_goal = next(g for g in self.goals if keel.goal(g).state.value == "active")
        goal = keel.goal(open_goal)
        backdated = goal.set_on + timedelta(days=1)
        keel.change_goal(
            open_goal,
            None,
            lambda g: g.change_target(
                target=goal.target + 1, reason="backfill", actor="owner", occurred_on=backdated
            ),
        )


# --- the independent fold -------------------------------------------------------------------


def log_of(container: Container) -> list[tuple[Any, int]]:
    keel = container.keel
    notifications = keel.recorder.select_notifications(1, limit=keel.head())
    return [(keel.mapper.to_domain_event(n), n.id) for n in notifications]


def of_team(events: list[tuple[Any, int]], team_id: UUID) -> list[tuple[Any, int]]:
    """The team's own events: its own, its goals', its members' journals' and its
    recognitions."""
    streams = {team_id}
    for event, _ in events:
        if isinstance(event, Goal.GoalSet | Journal.JournalOpened) and event.team_id == team_id:
            streams.add(event.originator_id)
    return [
        (e, p)
        for e, p in events
        if e.originator_id in streams
        or (isinstance(e, Recognition.RecognitionGiven) and e.team_id == team_id)
    ]


def expected_state(
    container: Container,
    team_id: UUID,
    events: list[tuple[Any, int]],
    day: date,
    weeks_through: date,
) -> dict[str, Any]:
    """The team on `day`, from the given events (of this team only), applied one by one
    in log order."""
    events = of_team(events, team_id)
    team: dict[str, Any] = {}
    members: dict[str, dict[str, Any]] = {}
    goals: dict[str, dict[str, Any]] = {}
    entries: list[AuditEntry] = []
    moods: dict[tuple[str, date], int] = {}
    journals = {str(Journal.id_for(m)): str(m) for m in container.keel.team(team_id).members}
    for event, position in events:
        stream = str(event.originator_id)
        match event:
            case Team.TeamFormed():
                team = {
                    "name": event.name,
                    "manager": event.manager,
                    "formed_on": event.occurred_on,
                }
            case Team.ManagerAssigned():
                team["manager"] = event.manager
            case Team.MemberJoined():
                members[str(event.member_id)] = {
                    "id": str(event.member_id),
                    "role": event.role,
                    "joined_on": event.occurred_on.isoformat(),
                    "left_on": None,
                    "left_reason": None,
                }
            case Team.MemberLeft():
                members[str(event.member_id)]["left_on"] = event.occurred_on.isoformat()
                members[str(event.member_id)]["left_reason"] = event.reason
            case Goal.GoalSet():
                goals[stream] = {
                    "id": stream,
                    "title": event.title,
                    "metric": event.metric,
                    "target": event.target,
                    "unit": event.unit,
                    "due": event.due.isoformat(),
                    "state": "active",
                    "set_on": event.occurred_on.isoformat(),
                }
            case Goal.TargetChanged():
                goals[stream]["target"] = event.new
            case Goal.DueDateChanged():
                goals[stream]["due"] = event.new.isoformat()
            case Goal.GoalRedefined():
                goals[stream]["title"] = event.new_title
                goals[stream]["metric"] = event.new_metric
            case Goal.GoalAchieved():
                goals[stream]["state"] = "achieved"
            case Goal.GoalAbandoned():
                goals[stream]["state"] = "abandoned"
            case Journal.EntryRecorded():
                moods[(journals[stream], event.occurred_on)] = event.mood
        audited: dict[type, str] = {
            Goal.GoalSet: "goal_set",
            Goal.TargetChanged: "target_changed",
            Goal.DueDateChanged: "due_date_changed",
            Goal.GoalRedefined: "goal_redefined",
        }
        kind = audited.get(type(event))
        if kind is not None:
            entries.append(AuditEntry(stream, kind, event.occurred_on, position))
    settings = container.settings
    churn = team_churn(
        {g["id"]: g["title"] for g in goals.values()},
        entries,
        today=day,
        window_days=settings.churn_window_days,
        thresholds=container.thresholds,
    )
    group = container.keel.team(team_id).min_group or settings.min_group
    points = team_morale(
        [Mood(member, on, mood) for (member, on), mood in moods.items()], "week", group
    )
    return {
        **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in team.items()},
        "members": sorted(members.values(), key=lambda m: (m["joined_on"], m["id"])),
        "goals": sorted(goals.values(), key=lambda g: (g["set_on"], g["id"])),
        "churn": {
            **{k: v for k, v in churn.__dict__.items() if k != "goals"},
            "goals": [g.__dict__ for g in churn.goals],
        },
        "morale": [
            {
                **p.__dict__,
                "period_start": p.period_start.isoformat(),
                "distribution": p.distribution and {str(k): v for k, v in p.distribution.items()},
            }
            for p in points
            if p.period_start + timedelta(days=6) <= weeks_through
        ],
    }


def answered_state(body: dict[str, Any]) -> dict[str, Any]:
    """The parts of a state answer the independent fold computes."""
    return {
        "name": body["name"],
        "manager": body["manager"],
        "formed_on": body["formed_on"],
        "members": [{k: v for k, v in m.items() if k != "name"} for m in body["members"]],
        "goals": body["goals"],
        "churn": body["churn"],
        "morale": body["morale"]["points"],
    }


@pytest.fixture
def story_client(container: Container) -> Iterator[tuple[TestClient, Story]]:
    """A written story, the views caught up, and the API over the same container."""
    story = Story(container, random.Random(5))
    story.write()
    container.runner.catch_up()
    with TestClient(create_app(container=container)) as client:
        yield client, story


def get(client: TestClient, path: str, headers: dict[str, str] = MANAGER) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def check_random_days(client: TestClient, story: Story, rng: random.Random, count: int) -> None:
    events = log_of(story.container)
    span = (TODAY - START).days + 4  # from three days before the team to today
    for day in sorted(START - timedelta(days=3 - rng.randrange(span)) for _ in range(count)):
        response = client.get(f"/v1/teams/{story.team}/state?as_of={day}")
        if day < START:
            assert response.status_code == 404, response.text
            continue
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["as_of"], body["basis"]) == (day.isoformat(), "occurred")
        chosen = [(e, p) for e, p in events if e.occurred_on <= day]
        assert answered_state(body) == expected_state(story.container, story.team, chosen, day, day)


def check_random_instants(client: TestClient, story: Story, rng: random.Random, count: int) -> None:
    events = log_of(story.container)
    for event, _ in rng.sample(events, count):
        moment: datetime = event.timestamp
        instant = moment.isoformat().replace("+00:00", "Z")
        body = get(client, f"/v1/teams/{story.team}/state?as_of={instant}&basis=recorded")
        chosen = [(e, p) for e, p in events if e.timestamp <= moment]
        end_of_day = moment.time() == datetime.max.time()
        through = moment.date() if end_of_day else moment.date() - timedelta(days=1)
        assert answered_state(body) == expected_state(
            story.container, story.team, chosen, moment.date(), through
        )


def test_as_of_random_days_and_instants_equals_a_fold_of_the_log_up_to_then(
    story_client: tuple[TestClient, Story], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, story = story_client
    # Snapshot often, so that most answers start from one, some of them taken before the
    # late events below were recorded.
    monkeypatch.setattr(history, "SNAPSHOT_ROWS", 40)
    rng = random.Random(11)
    check_random_days(client, story, rng, 12)
    check_random_instants(client, story, rng, 6)
    snapshots = story.container.history.select("SELECT COUNT(*) AS n FROM history_snapshots")
    assert snapshots[0]["n"] > 0

    story.write_late()
    story.container.runner.catch_up()
    check_random_days(client, story, rng, 12)
    check_random_instants(client, story, rng, 6)


def test_as_of_today_equals_the_current_state_from_the_current_views(
    story_client: tuple[TestClient, Story],
) -> None:
    client, story = story_client
    now = get(client, f"/v1/teams/{story.team}/state")
    then = get(client, f"/v1/teams/{story.team}/state?as_of={TODAY}")
    assert (now["as_of"], then["as_of"]) == (None, TODAY.isoformat())
    assert {k: v for k, v in now.items() if k not in ("as_of", "basis")} == {
        k: v for k, v in then.items() if k not in ("as_of", "basis")
    }
    assert now["manager"] == "noor"
    names = sorted(m["name"] for m in now["members"])
    assert names == ["Ana", "Ben", "Dara", "Eli", "Femi", "[erased]"]


# --- a goal as it stood ---------------------------------------------------------------------


def post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body, headers=OWNER)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    """The API over the `container` fixture (so on both backends), views followed."""
    container.runner.start()
    with TestClient(create_app(container=container)) as client:
        yield client


def test_a_goal_as_of_each_day_of_its_life_with_its_version(api: TestClient) -> None:
    team = post(api, "/v1/teams", {"name": "CS", "manager": "kay", "occurred_on": "2025-01-01"})
    goal = post(
        api,
        f"/v1/teams/{team['id']}/goals",
        {"title": "Renewals", "metric": "rate", "target": 90, "unit": "%", "due": "2025-06-30",
         "occurred_on": "2025-01-10"},
    )  # fmt: skip
    path = f"/v1/goals/{goal['id']}"
    post(api, f"{path}/target", {"target": 95, "reason": "push", "occurred_on": "2025-02-01"})
    post(
        api,
        f"{path}/due-date",
        {"due": "2025-07-31", "reason": "slip", "occurred_on": "2025-03-01"},
    )
    post(
        api,
        f"{path}/redefinition",
        {"title": "Net renewals", "reason": "churn", "occurred_on": "2025-04-01"},
    )
    last = post(api, f"{path}/achievement", {"occurred_on": "2025-05-01"})

    def then(as_of: str) -> tuple[Any, ...]:
        response = api.get(f"{path}?as_of={as_of}&wait_for={last['position']}")
        assert response.status_code == 200, response.text
        b = response.json()
        assert response.headers["ETag"] == f'"{b["version"]}"'
        return b["title"], b["target"], b["due"], b["state"], b["version"]

    assert then("2025-01-10") == ("Renewals", 90, "2025-06-30", "active", 1)
    assert then("2025-02-15") == ("Renewals", 95, "2025-06-30", "active", 2)
    assert then("2025-03-01T12:00:00Z") == ("Renewals", 95, "2025-07-31", "active", 3)
    assert then("2025-04-30") == ("Net renewals", 95, "2025-07-31", "active", 4)
    assert then("2025-05-01") == ("Net renewals", 95, "2025-07-31", "achieved", 5)
    before = api.get(f"{path}?as_of=2025-01-09")
    assert (before.status_code, before.headers["content-type"]) == (404, PROBLEM)

    # Recorded basis: as Keel knew it the instant the target change was recorded.
    changes = get(api, f"{path}/history")["changes"]
    recorded = changes[1]["recorded_at"].replace("+00:00", "Z")
    known = get(api, f"{path}?as_of={recorded}&basis=recorded")
    assert (known["target"], known["due"], known["version"], known["basis"]) == (
        95,
        "2025-06-30",
        2,
        "recorded",
    )
    set_at = datetime.fromisoformat(changes[0]["recorded_at"]) - timedelta(microseconds=1)
    assert (
        api.get(
            f"{path}?as_of={set_at.isoformat().replace('+00:00', 'Z')}&basis=recorded"
        ).status_code
        == 404
    )

    # Without as_of, the goal now, as GET /v1/goals/{id} always answered.
    now = get(api, path)
    assert (now["title"], now["state"], now["version"], now["concerns"]) == (
        "Net renewals",
        "achieved",
        5,
        [],
    )


# --- the timeline -----------------------------------------------------------------------------


def entries(
    client: TestClient, team: UUID, query: str = "", headers: dict[str, str] = STORY_MANAGER
) -> list[dict[str, Any]]:
    """Every entry, page by page through `next_cursor`."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = get(client, f"/v1/teams/{team}/timeline?limit=7{query}{cursor}", headers)
        found += page["entries"]
        if page["next_cursor"] is None:
            return found
        cursor = f"&cursor={page['next_cursor']}"


def test_the_timeline_is_the_teams_merged_history_in_log_order(
    story_client: tuple[TestClient, Story],
) -> None:
    client, story = story_client
    events = log_of(story.container)
    streams = {
        str(story.team),
        *map(str, story.goals),
        *(str(Journal.id_for(m)) for m in story.members),
    }
    left_out = (
        Journal.JournalOpened,
        Journal.CheckedIn,
        Journal.CheckInCorrected,
        Journal.PersonalDataErased,  # its twin on the team is the entry
    )
    expected = [
        (p, str(e.originator_id), e.originator_version)
        for e, p in events
        if (str(e.originator_id) in streams or isinstance(e, Recognition.RecognitionGiven))
        and not isinstance(e, left_out)
    ]
    paged = entries(client, story.team)
    assert [(x["position"], x["originator_id"], x["originator_version"]) for x in paged] == expected
    assert all(x["event_id"] == f"{x['originator_id']}:{x['originator_version']}" for x in paged)
    whole = get(client, f"/v1/teams/{story.team}/timeline?limit=1000", STORY_MANAGER)
    assert whole["entries"] == paged
    assert whole["next_cursor"] is None

    texts = [x["text"] for x in paged]
    assert "team 'Support' formed, managed by kay" in texts
    assert "noor now manages the team (by hr)" in texts
    assert "Ben left: moved on" in texts
    # Which goal the story's dice move first depends on today's date: any will do.
    assert any(
        t.startswith("target of 'Goal ") and " → " in t and t.endswith(": 'ask'") for t in texts
    )


def test_check_ins_are_for_the_manager_only_and_never_say_what_was_written(
    story_client: tuple[TestClient, Story],
) -> None:
    client, story = story_client
    check_ins = entries(client, story.team, "&kinds=checked_in")
    assert len(check_ins) == sum(len(days) for days in story.checked.values())
    names = {"Ana", "Ben", "[erased]", "Dara", "Eli", "Femi"}
    assert {x["text"].removeprefix("a check-in was recorded for ") for x in check_ins} == names
    assert all(x["by"] is None for x in check_ins)
    every_kind = ",".join(sorted(KINDS_ALL))
    every = get(
        client, f"/v1/teams/{story.team}/timeline?limit=1000&kinds={every_kind}", STORY_MANAGER
    )
    said = str(every)
    assert PROGRESS_TEXT not in said
    assert PRIVATE_NOTE not in said

    # An owner, or a member, sees no entry about one person, and may not ask for one.
    for viewer in (OWNER, MANAGER, {"X-Keel-Actor": str(story.members[0])}):
        seen = entries(client, story.team, headers=viewer)
        assert not {x["kind"] for x in seen} & {"checked_in", "personal_data_erased"}
        assert len(seen) < len(entries(client, story.team))  # the manager's view has more
        refused = client.get(f"/v1/teams/{story.team}/timeline?kinds=checked_in", headers=viewer)
        assert (refused.status_code, refused.headers["content-type"]) == (403, PROBLEM)


def test_the_timeline_filters_by_business_date_and_kind(
    story_client: tuple[TestClient, Story],
) -> None:
    client, story = story_client
    everything = entries(client, story.team)
    since, until = START + timedelta(weeks=3), START + timedelta(weeks=6)
    window = entries(client, story.team, f"&from={since}&to={until}")
    assert window == [
        x for x in everything if since.isoformat() <= x["occurred_on"] <= until.isoformat()
    ]
    assert window
    moves = entries(client, story.team, "&kinds=target_changed, due_date_changed")
    assert moves == [x for x in everything if x["kind"] in ("target_changed", "due_date_changed")]
    assert moves


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "status"),
    [
        ("state?as_of=yesterday", "as_of", 422),
        ("state?as_of=2999-01-01", "as_of", 422),
        ("state?as_of=2999-01-01T00:00:00Z&basis=recorded", "as_of", 422),
        ("state?as_of=2025-01-01&basis=business", "basis", 422),
        ("state?window_days=0", "window_days", 422),
        ("timeline?kinds=checked_in,gossip", "kinds", 422),
        ("timeline?kinds=,", "kinds", 422),
        ("timeline?cursor=-1", "cursor", 422),
        ("timeline?cursor=abc", "cursor", 422),
        ("timeline?limit=0", "limit", 422),
        ("timeline?limit=1001", "limit", 422),
        ("timeline?from=2025-02-01&to=2025-01-01", "to", 422),
        ("timeline?from=someday", "from", 422),
        ("state?wait_for=-1", "wait_for", 422),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    client: TestClient, query: str, field: str, status: int
) -> None:
    team = client.post("/v1/teams", json={"name": "T", "manager": "kay"}, headers=MANAGER).json()
    response = client.get(f"/v1/teams/{team['id']}/{query}", headers=MANAGER)
    assert (response.status_code, response.headers["content-type"]) == (status, PROBLEM)
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/teams/{UUID(int=7)}/state?as_of=2025-01-01",
        f"/v1/teams/{UUID(int=7)}/state",
        f"/v1/teams/{UUID(int=7)}/timeline",
        "/v1/teams/not-an-id/timeline",
        f"/v1/goals/{UUID(int=7)}?as_of=2025-01-01",
    ],
)
def test_what_does_not_exist_is_not_found(client: TestClient, path: str) -> None:
    response = client.get(path, headers=MANAGER)
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)


def test_an_erased_members_name_reads_erased_in_the_state_and_the_timeline(
    client: TestClient,
) -> None:
    team = client.post(
        "/v1/teams",
        json={"name": "T", "manager": "kay", "occurred_on": "2025-01-01"},
        headers=MANAGER,
    ).json()
    member = client.post(
        f"/v1/teams/{team['id']}/members",
        json={"name": "Zoe Quist", "occurred_on": "2025-01-01"},
        headers=MANAGER,
    ).json()
    erased = client.post(f"/v1/members/{member['id']}/erasure", headers=MANAGER).json()
    wait = f"wait_for={erased['position']}"
    state = get(client, f"/v1/teams/{team['id']}/state?as_of=2025-01-02&{wait}")
    assert [m["name"] for m in state["members"]] == ["[erased]"]
    timeline = get(client, f"/v1/teams/{team['id']}/timeline?{wait}")
    assert "Zoe Quist" not in str(timeline)
    assert [x["text"] for x in timeline["entries"]][-2:] == [
        "[erased] joined",
        "a member's personal data was erased by kay",
    ]


# --- the demo story ------------------------------------------------------------------------


def test_as_of_random_days_of_the_demo_story_equals_a_fold_of_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acceptance test of issue 5 on `keel demo`'s two teams and two years (SQLite
    only: the story above runs on both backends)."""
    monkeypatch.setattr(history, "SNAPSHOT_ROWS", 200)
    settings = Settings(store="sqlite", data_dir=tmp_path, sqlite_synchronous="NORMAL")
    container = bootstrap(settings)
    try:
        loaded = load_demo(container.keel, today=TODAY)
        container.runner.catch_up()
        events = log_of(container)
        rng = random.Random(23)
        span = (TODAY - loaded.first_day).days
        with TestClient(create_app(container=container)) as client:
            for name, team in sorted(loaded.teams.items()):
                for _ in range(10):
                    day = loaded.first_day + timedelta(days=rng.randrange(span + 1))
                    body = get(client, f"/v1/teams/{team}/state?as_of={day}")
                    chosen = [(e, p) for e, p in events if e.occurred_on <= day]
                    expected = expected_state(container, team, chosen, day, day)
                    assert answered_state(body) == expected, (name, day)
                    assert body["members"], (name, day)
                for event, _ in rng.sample(events, 3):
                    moment = event.timestamp
                    instant = moment.isoformat().replace("+00:00", "Z")
                    path = f"/v1/teams/{team}/state?as_of={instant}&basis=recorded"
                    chosen = [(e, p) for e, p in events if e.timestamp <= moment]
                    if not of_team(chosen, team):
                        assert client.get(path).status_code == 404, (name, instant)
                        continue
                    body = get(client, path)
                    through = moment.date() - timedelta(days=1)
                    expected = expected_state(container, team, chosen, moment.date(), through)
                    assert answered_state(body) == expected, (name, instant)
        assert container.history.select("SELECT COUNT(*) AS n FROM history_snapshots")[0]["n"]
    finally:
        container.close()
