"""The demo story, loaded once into a fresh SQLite store and read through the views."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from statistics import fmean, median
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Mapper
from typer.testing import CliRunner

from domain.alert import Rule
from domain.goal import Goal, GoalState
from domain.team import DepartureReason, Member, Team
from projections.blockers import working_days_between
from services import queries, work_life
from services.bootstrap import Container, bootstrap
from services.cli import app
from services.demo import (
    CS,
    DISMISSAL_WEEK,
    ONBOARDING,
    RECOVERY_WEEK,
    DemoAlreadyLoaded,
    DemoLoaded,
    demo_teams,
    load_demo,
)
from services.keel import Keel
from services.settings import Settings

# The story ends on this Wednesday: a fixed day keeps every run of the test the same.
DAY = date(2026, 3, 18)


@dataclass(frozen=True)
class Demo:
    container: Container
    loaded: DemoLoaded
    data_dir: Path

    @property
    def keel(self) -> Keel:
        return self.container.keel

    @property
    def cs(self) -> UUID:
        return self.loaded.teams[CS]

    @property
    def onboarding(self) -> UUID:
        return self.loaded.teams[ONBOARDING]

    def day(self, week: int, weekday: int = 0) -> date:
        return self.loaded.first_day + timedelta(weeks=week, days=weekday)

    def member(self, team_id: UUID, name: str) -> Member:
        return next(m for m in self.keel.team(team_id).members.values() if m.name == name)

    def goal_id(self, team_id: UUID, title: str) -> UUID:
        goals = queries.team_goals(self.container.goal_audit, team_id)
        return UUID(next(g["id"] for g in goals if g["title"] == title))

    def check_ins(self, member_id: UUID) -> list[dict[str, object]]:
        return self.container.work_life.select(
            "SELECT c.day, c.mood, c.progress, c.setbacks FROM journals j "
            "JOIN checkins c ON c.journal_id = j.journal_id WHERE j.member_id = ? ORDER BY c.day",
            (str(member_id),),
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("demo") / "var"
    # Durability is not under test here: NORMAL spares a disk sync per event.
    settings = Settings(store="sqlite", data_dir=data_dir, sqlite_synchronous="NORMAL")
    container = bootstrap(settings)
    try:
        loaded = load_demo(container.keel, today=DAY)
        container.runner.catch_up()
        yield Demo(container, loaded, data_dir)
    finally:
        container.close()


def test_the_story_runs_two_years_up_to_the_day(demo: Demo) -> None:
    assert demo.loaded.first_day.weekday() == 0
    assert 728 <= (DAY - demo.loaded.first_day).days < 735
    assert demo.loaded.last_day == DAY
    assert demo.loaded.events == demo.keel.head() > 5000
    teams = {t["name"]: t for t in queries.list_teams(demo.container.team_directory)}
    assert set(teams) == {CS, ONBOARDING}
    assert teams[CS]["members"] >= 6
    assert teams[ONBOARDING]["members"] >= 6
    last_day = demo.container.work_life.select("SELECT MAX(day) AS day FROM checkins")[0]["day"]
    assert last_day <= DAY.isoformat()


def test_loading_it_again_adds_nothing(demo: Demo) -> None:
    head = demo.keel.head()
    with pytest.raises(DemoAlreadyLoaded) as refused:
        load_demo(demo.keel, today=DAY)
    assert refused.value.teams == demo.loaded.teams
    assert demo_teams(demo.keel) == demo.loaded.teams

    env = {"KEEL_STORE": "sqlite", "KEEL_DATA_DIR": str(demo.data_dir), "COLUMNS": "120"}
    result = CliRunner().invoke(app, ["demo"], env=env)

    assert result.exit_code == 0, result.output
    assert "already loaded" in result.output
    assert demo.keel.head() == head


def test_a_store_without_the_demo_has_no_demo_teams(tmp_path: Path) -> None:
    container = bootstrap(Settings(store="sqlite", data_dir=tmp_path / "var"))
    try:
        keel = container.keel
        keel.form_team(name=CS, manager="Kay", actor="kay", occurred_on=DAY)
        assert demo_teams(keel) == {}
    finally:
        container.close()


def test_owners_move_the_target_every_five_to_eight_weeks_and_ignore_concerns(
    demo: Demo,
) -> None:
    goal_id = demo.goal_id(demo.cs, "Revenue retention")
    history = queries.goal_history(demo.container.goal_audit, goal_id)
    days = [date.fromisoformat(c["occurred_on"]) for c in history if c["kind"] == "target_changed"]
    assert len(days) == 9
    assert all(35 <= (later - earlier).days <= 56 for earlier, later in itertools.pairwise(days))
    goal = demo.keel.goal(goal_id)
    assert goal.state is GoalState.ABANDONED
    assert len(goal.concerns) == 5
    assert all(c.answer is None for c in goal.concerns.values())

    def churn(team_id: UUID, today: date, window_days: int) -> bool:
        report = queries.goal_churn(
            demo.container.goal_audit,
            team_id,
            today=today,
            window_days=window_days,
            thresholds=demo.container.thresholds,
        )
        return report.flagged

    assert churn(demo.cs, demo.day(40), 90)
    assert not churn(demo.cs, DAY, 60)
    assert not churn(demo.onboarding, DAY, 730)


def test_a_member_is_dismissed_after_the_missed_quarter(demo: Demo) -> None:
    ben = demo.member(demo.cs, "Ben")
    assert ben.left_reason is DepartureReason.DISMISSED
    assert ben.left_on == demo.day(DISMISSAL_WEEK)
    goal_id = demo.goal_id(demo.cs, "Revenue retention")
    events = list(demo.keel.events.get(goal_id))
    before = [e for e in events if e.occurred_on < ben.left_on]  # type: ignore[attr-defined]
    target = [e for e in before if isinstance(e, Goal.TargetChanged)][-1].new
    due = [e for e in before if isinstance(e, Goal.DueDateChanged)][-1].new
    progress = [e for e in before if isinstance(e, Goal.ProgressRecorded)][-1]
    # The quarter ended the Friday before, well short of the target of the day.
    assert due == progress.occurred_on == ben.left_on - timedelta(days=3)
    assert progress.value < target - 10
    # His last three check-ins: setbacks, and no progress.
    last_three = demo.check_ins(ben.id)[-3:]
    assert all(c["setbacks"] and not c["progress"] for c in last_three)


def test_a_new_manager_takes_over(demo: Demo) -> None:
    team: Team = demo.keel.team(demo.cs)
    assert team.manager == "Kay"
    assert demo.member(demo.cs, "Dana").left_reason is DepartureReason.TRANSFERRED
    assert demo.member(demo.cs, "Kay").joined_on == demo.day(RECOVERY_WEEK)
    assert team.alert_rules == {"blocker_aging": {"working_days": 3.0}}
    reviews = demo.keel.goal(demo.goal_id(demo.cs, "Business reviews"))
    assert reviews.state is GoalState.ACHIEVED
    renewal = demo.keel.goal(demo.goal_id(demo.cs, "Renewal rate"))
    assert [c.answer is not None for c in renewal.concerns.values()] == [True]
    history = queries.goal_history(demo.container.goal_audit, renewal.id)
    assert [c["kind"] for c in history].count("target_changed") == 1
    sandra = demo.keel.journal(demo.member(demo.cs, "Sandra").id)
    assert sandra.success is not None


def weekly_morale(demo: Demo, team_id: UUID) -> tuple[dict[int, float], int]:
    """Mean mood by week of the story, for the weeks shown; and how many are hidden."""
    store = demo.container.work_life
    group = work_life.min_group(store, team_id, demo.container.settings.min_group)
    points = work_life.morale(
        store, team_id, granularity="week", group=group, since=None, until=None
    )
    shown = {
        (p.period_start - demo.loaded.first_day).days // 7: p.mean
        for p in points
        if p.mean is not None
    }
    return shown, sum(p.suppressed for p in points)


def test_morale_sinks_then_recovers_and_small_groups_stay_hidden(demo: Demo) -> None:
    shown, hidden = weekly_morale(demo, demo.cs)
    assert hidden > 0
    assert shown[0] >= 3.8
    late_phase_one = [m for w, m in shown.items() if 30 <= w < RECOVERY_WEEK]
    recovered = [m for w, m in shown.items() if w >= 90]
    assert late_phase_one
    assert max(late_phase_one) <= 3.3
    assert recovered
    assert min(recovered) >= 3.9
    steady, _ = weekly_morale(demo, demo.onboarding)
    assert len(steady) > 30
    assert 3.6 <= min(steady.values()) <= max(steady.values()) <= 4.3


def shares(demo: Demo, team_id: UUID, first_week: int, last_week: int) -> tuple[float, float]:
    """The progress ledger's shares of check-in days with progress and with setbacks."""
    line, _ = work_life.progress(
        demo.container.work_life,
        team_id,
        setback_weight=demo.container.settings.setback_weight,
        since=demo.day(first_week),
        until=demo.day(last_week, 6),
    )
    assert line.progress_share is not None
    assert line.setback_share is not None
    return line.progress_share, line.setback_share


def test_setbacks_dominate_before_and_progress_after(demo: Demo) -> None:
    progress, setbacks = shares(demo, demo.cs, 40, RECOVERY_WEEK - 1)
    assert setbacks >= 0.5
    assert progress <= 0.5
    progress, setbacks = shares(demo, demo.cs, 80, 103)
    assert progress >= 0.75
    assert setbacks <= 0.2
    _, setbacks = shares(demo, demo.onboarding, 0, 103)
    assert setbacks <= 0.2


def recognised_within_a_week(demo: Demo, team_id: UUID, first: date, last: date) -> float:
    store = demo.container.work_life
    wins = store.select(
        "SELECT w.win_id, w.day FROM journals j JOIN wins w ON w.journal_id = j.journal_id "
        "WHERE j.team_id = ? AND w.day BETWEEN ? AND ?",
        (str(team_id), first.isoformat(), last.isoformat()),
    )
    given: dict[str, date] = {}
    for row in store.select(
        "SELECT win_id, day FROM recognitions WHERE team_id = ? AND win_id IS NOT NULL",
        (str(team_id),),
    ):
        day = date.fromisoformat(row["day"])
        given[row["win_id"]] = min(day, given.get(row["win_id"], day))
    prompt = [
        w
        for w in wins
        if w["win_id"] in given and (given[w["win_id"]] - date.fromisoformat(w["day"])).days <= 7
    ]
    assert len(wins) >= 20
    return len(prompt) / len(wins)


def test_wins_go_unnoticed_then_get_recognised(demo: Demo) -> None:
    recovery = demo.day(RECOVERY_WEEK)
    assert recognised_within_a_week(demo, demo.cs, demo.day(0), recovery) < 0.2
    assert recognised_within_a_week(demo, demo.cs, recovery + timedelta(weeks=2), DAY) > 0.7
    report = work_life.recognition(demo.container.work_life, demo.cs, today=DAY)
    assert any(w.day < recovery for w in report.unrecognised_wins)
    assert report.manager_30d > 0
    assert report.peer_30d > 0


def test_people_fall_silent_and_come_back(demo: Demo) -> None:
    store = demo.container.work_life
    weeks, _ = work_life.participation(store, demo.cs, since=None, until=DAY, today=DAY)
    share = {(w.week_start - demo.loaded.first_day).days // 7: w.share or 0.0 for w in weeks}
    before = fmean(share[DISMISSAL_WEEK - k] for k in range(1, 5))
    assert share[DISMISSAL_WEEK] <= before - 0.3
    assert fmean(share[w] for w in range(50, RECOVERY_WEEK)) < 0.7
    assert fmean(share[w] for w in range(80, 100)) >= 0.85

    tomasz = demo.member(demo.cs, "Tomasz")
    days = [date.fromisoformat(str(c["day"])) for c in demo.check_ins(tomasz.id)]
    assert max((b - a).days for a, b in itertools.pairwise(days)) >= 14

    _, silent = work_life.participation(store, demo.onboarding, since=None, until=DAY, today=DAY)
    jonas = demo.member(demo.onboarding, "Jonas")
    assert [(s.member_id, s.days_silent >= 14) for s in silent] == [(str(jonas.id), True)]


def test_blockers_wait_for_weeks_then_for_days(demo: Demo) -> None:
    store = demo.container.work_life
    still_open, cleared = work_life.blockers(store, demo.cs, today=DAY)
    recovery = demo.day(RECOVERY_WEEK)
    old = [b for b in cleared if b.day < recovery]
    new = [b for b in cleared if b.day >= recovery]
    assert median(b.working_days_open for b in old) > 5
    assert any(b.cleared_on == demo.day(RECOVERY_WEEK, 1) and b.cleared_by == "Kay" for b in old)
    assert new
    assert all(b.cleared_by == "Kay" and b.working_days_open <= 2 for b in new)
    assert all(b.age_working_days <= 2 for b in still_open)

    still_open, cleared = work_life.blockers(store, demo.onboarding, today=DAY)
    marek = demo.member(demo.onboarding, "Marek")
    stuck = [b for b in still_open if b.member_id == str(marek.id)]
    assert stuck
    assert stuck[0].age_working_days == working_days_between(stuck[0].day, DAY) > 5
    assert all(b.cleared_by == "Noor" and b.working_days_open <= 3 for b in cleared)


def test_the_story_trips_every_alert_rule_and_recovers(demo: Demo) -> None:
    # The rules are being written beside the story; until they land, this waits.
    alert_rules = pytest.importorskip("projections.alert_rules")
    rules = alert_rules.AlertRules(
        alert_rules.Parameters(), min_group=demo.container.settings.min_group
    )
    # Like the alert process, the rules read events with their personal text sealed.
    mapper: Mapper[UUID] = Mapper(demo.keel.mapper.transcoder)
    decisions: list[Any] = []
    position = 0
    while page := demo.keel.recorder.select_notifications(position + 1, 1000):
        decisions += rules.observe_all((mapper.to_domain_event(n), n.id) for n in page)
        position = page[-1].id

    def rules_that(kind: Any, team_id: UUID) -> set[str]:
        return {d.rule.value for d in decisions if isinstance(d, kind) and d.team_id == team_id}

    every_rule = {rule.value for rule in Rule}
    assert rules_that(alert_rules.Raise, demo.cs) == every_rule
    assert rules_that(alert_rules.Clear, demo.cs) == every_rule
    # The steady team: only the vendor's blocker, still open today.
    assert rules_that(alert_rules.Raise, demo.onboarding) == {"blocker_aging"}
    assert rules_that(alert_rules.Clear, demo.onboarding) == set()
