"""The alert rules, fed domain events directly: no infrastructure. Expected numbers are
worked out by hand in the comments."""

from __future__ import annotations

import math
from datetime import date, timedelta
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from domain.alert import Rule, Severity, alert_id
from domain.goal import Goal
from domain.journal import CheckIn, Journal
from domain.recognition import Recognition
from domain.team import DepartureReason, Team
from projections.alert_rules import AlertRules, Clear, Decision, Parameters, Raise

START = date(2025, 1, 6)  # a Monday


class Story:
    """Builds a team with real aggregates and keeps their events in log order."""

    def __init__(self, members: int = 6, start: date = START) -> None:
        self.events: list[tuple[object, int]] = []
        self.team = Team.form(name="Platform", manager="Mia", actor="Mia", occurred_on=start)
        self.member_ids = [
            self.team.add_member(name=f"P{i}", role=None, actor="Mia", occurred_on=start)
            for i in range(members)
        ]
        self.journals = {
            m: Journal.open(member_id=m, team_id=self.team.id, actor="Mia", occurred_on=start)
            for m in self.member_ids
        }
        self.record(self.team, *self.journals.values())
        self.goal = Goal.set(
            team_id=self.team.id,
            title="Ship",
            metric="features",
            target=10,
            unit="features",
            due=start + timedelta(days=365),
            why=None,
            actor="owner",
            occurred_on=start,
        )
        self.record(self.goal)

    def record(self, *aggregates: Aggregate) -> list[int]:
        positions = []
        for aggregate in aggregates:
            for event in aggregate.collect_events():
                self.events.append((event, len(self.events) + 1))
                positions.append(len(self.events))
        return positions

    def day(
        self,
        day: date,
        moods: list[int],
        *,
        progress: int = 1,
        setbacks: int = 0,
        wins: int = 0,
        blockers: int = 0,
    ) -> list[int]:
        """The first len(moods) members check in on `day`."""
        positions = []
        for member_id, mood in zip(self.member_ids, moods, strict=False):
            report = CheckIn(
                day=day,
                mood=mood,
                progress=[f"p{i}" for i in range(progress)],
                setbacks=[f"s{i}" for i in range(setbacks)],
                wins=[f"w{i}" for i in range(wins)],
                blockers=[f"b{i}" for i in range(blockers)],
            )
            self.journals[member_id].check_in(report, actor=str(member_id))
            positions += self.record(self.journals[member_id])
        return positions

    def stable_days(self, count: int, mood: int = 4) -> date:
        """`count` days on which every member answers `mood`; returns the next day."""
        day = START
        for _ in range(count):
            self.day(day, [mood] * len(self.member_ids))
            day += timedelta(days=1)
        return day

    def change_target(self, target: float, day: date) -> int:
        self.goal.change_target(target=target, reason="push", actor="owner", occurred_on=day)
        return self.record(self.goal)[0]

    def decisions(self, rules: AlertRules | None = None) -> list[Decision]:
        return (rules or AlertRules()).observe_all(self.events)


def raised(decisions: list[Decision], rule: Rule) -> list[Raise]:
    return [d for d in decisions if isinstance(d, Raise) and d.rule is rule]


def cleared(decisions: list[Decision], rule: Rule) -> list[Clear]:
    return [d for d in decisions if isinstance(d, Clear) and d.rule is rule]


# --- morale_drop and churn_then_drop ---------------------------------------------------


def test_a_drop_after_two_target_changes_raises_all_three_rules_with_the_changes_as_evidence() -> (
    None
):
    story = Story()
    day = story.stable_days(20)  # the baseline: mean 4, sd 0, floored to 0.5
    first = story.change_target(12, day)
    day += timedelta(days=1)
    story.day(day, [4] * 6)
    second = story.change_target(15, day)
    day += timedelta(days=1)
    drop_day = day
    drop = story.day(drop_day, [2] * 6)
    story.day(drop_day + timedelta(days=1), [2] * 6)  # closes the drop day

    decisions = story.decisions()

    [churn] = raised(decisions, Rule.TARGET_CHURN)
    assert churn.subject_id == story.goal.id
    assert [e.position for e in churn.evidence] == [first, second]
    assert {e.event for e in churn.evidence} == {"TargetChanged"}

    [morale] = raised(decisions, Rule.MORALE_DROP)
    # z = (2 - 4) / (0.5 / sqrt(6)) = -9.798; EWMA = 0.2 * z = -1.9596, below the
    # asymptotic limit -3 * sqrt(0.2 / 1.8) = -1.0; CUSUM = 9.798 - 0.5 = 9.298 > 5.
    assert morale.raised_on == drop_day
    assert morale.severity is Severity.CRITICAL  # both detectors signalled
    assert morale.numbers["mean"] == 2
    assert morale.numbers["respondents"] == 6
    assert morale.numbers["ewma"] == pytest.approx(-1.9596, abs=1e-4)
    assert morale.numbers["ewma_lower_limit"] == pytest.approx(-1.0, abs=1e-4)
    assert morale.numbers["cusum"] == pytest.approx(9.2980, abs=1e-4)
    assert [e.position for e in morale.evidence] == [first, second, *drop]
    assert morale.episode == drop[-1]

    [both] = raised(decisions, Rule.CHURN_THEN_DROP)
    assert both.numbers["changes"] == 2
    assert both.numbers["days_after_change"] == 1
    assert [e.position for e in both.evidence][:2] == [first, second]
    assert both.alert_id == alert_id(story.team.id, Rule.CHURN_THEN_DROP, None, drop[-1])


def test_the_same_log_gives_the_same_decisions_and_ids() -> None:
    story = Story()
    day = story.stable_days(20)
    story.change_target(12, day)
    story.change_target(13, day + timedelta(days=2))
    story.day(day + timedelta(days=3), [1] * 6)
    story.day(day + timedelta(days=4), [1] * 6)
    assert story.decisions() == story.decisions()
    assert len({d.alert_id for d in story.decisions()}) == len(story.decisions())


def test_no_morale_point_while_the_baseline_is_being_learned() -> None:
    story = Story()
    story.stable_days(5, mood=4)
    story.day(START + timedelta(days=5), [1] * 6)
    story.day(START + timedelta(days=6), [1] * 6)
    assert raised(story.decisions(), Rule.MORALE_DROP) == []


def test_morale_drop_never_fires_on_fewer_respondents_than_the_minimum_group() -> None:
    story = Story()
    day = story.stable_days(20)
    for offset in range(10):
        story.day(day + timedelta(days=offset), [1] * 4)  # 4 < min_group 5
    story.day(day + timedelta(days=10), [4] * 6)
    assert raised(story.decisions(), Rule.MORALE_DROP) == []


def test_a_team_minimum_group_is_respected() -> None:
    story = Story(members=6)
    story.team.set_min_group(min_group=7, actor="Mia", occurred_on=START)
    story.record(story.team)
    day = story.stable_days(30)
    story.day(day, [1] * 6)
    story.day(day + timedelta(days=1), [1] * 6)
    assert raised(story.decisions(), Rule.MORALE_DROP) == []


def test_a_late_check_in_for_a_closed_day_does_not_move_the_detectors() -> None:
    story = Story()
    day = story.stable_days(20)
    story.day(day, [4] * 6)
    story.day(day + timedelta(days=1), [4] * 6)  # closes `day`
    # A correction of the closed day arrives late; as a point, it would have been a drop.
    journal = story.journals[story.member_ids[0]]
    journal.correct(CheckIn(day=day, mood=1, progress=["p"]), actor="x")
    story.record(journal)
    story.day(day + timedelta(days=2), [4] * 6)
    assert raised(story.decisions(), Rule.MORALE_DROP) == []


def test_morale_recovery_clears_the_drop_and_the_churn_then_drop() -> None:
    story = Story()
    day = story.stable_days(20)
    story.change_target(12, day)
    day += timedelta(days=1)
    story.day(day, [2] * 6)
    for offset in range(1, 10):
        story.day(day + timedelta(days=offset), [4] * 6)
    decisions = story.decisions()
    [drop] = raised(decisions, Rule.MORALE_DROP)
    [both] = raised(decisions, Rule.CHURN_THEN_DROP)
    # Each good day (z = 0) multiplies the EWMA by 0.8: -1.568, -1.254, -1.003, -0.803,
    # -0.642, -0.514, -0.411. The 7th is above half the lower limit (-0.5), and the
    # CUSUM restarted at the signal and stays 0: recovered.
    [drop_cleared] = cleared(decisions, Rule.MORALE_DROP)
    [both_cleared] = cleared(decisions, Rule.CHURN_THEN_DROP)
    assert drop_cleared.alert_id == drop.alert_id
    assert both_cleared.alert_id == both.alert_id
    ewma = -1.9596
    days = 0
    while ewma < -0.5:
        ewma *= 0.8
        days += 1
    assert drop_cleared.occurred_on == day + timedelta(days=days)


# --- target_churn ----------------------------------------------------------------------


def test_target_churn_fires_once_per_episode_and_clears_when_the_window_passes() -> None:
    story = Story()
    first = story.change_target(11, START + timedelta(days=10))
    second = story.change_target(12, START + timedelta(days=40))
    story.change_target(13, START + timedelta(days=50))  # still churning: no new alert
    story.day(START + timedelta(days=40 + 61), [4] * 6)  # 60 days after the 2nd change
    decisions = story.decisions()
    goal_alerts = [r for r in raised(decisions, Rule.TARGET_CHURN) if r.subject_id]
    team_alerts = [r for r in raised(decisions, Rule.TARGET_CHURN) if r.subject_id is None]
    assert [[e.position for e in r.evidence] for r in goal_alerts] == [[first, second]]
    assert goal_alerts[0].episode == second
    assert len(team_alerts) == 1  # three changes in 90 days
    assert team_alerts[0].numbers == {"changes": 3, "window_days": 90, "threshold": 3}
    # On day 101 the goal's last 60 days (42-101) hold one change (day 50), and the
    # team's last 90 days (12-101) hold two (days 40, 50): both below threshold, cleared.
    assert {c.alert_id for c in cleared(decisions, Rule.TARGET_CHURN)} == {
        goal_alerts[0].alert_id,
        team_alerts[0].alert_id,
    }


def test_changes_further_apart_than_the_window_do_not_churn() -> None:
    story = Story()
    story.change_target(11, START + timedelta(days=1))
    story.change_target(12, START + timedelta(days=62))
    assert raised(story.decisions(), Rule.TARGET_CHURN) == []


# --- setback_streak --------------------------------------------------------------------


def test_three_check_ins_of_setbacks_without_progress_raise_then_progress_clears() -> None:
    story = Story()
    member = story.member_ids[0]
    positions = []
    for offset in range(3):
        positions += story.day(START + timedelta(days=offset), [3], progress=0, setbacks=1)
    story.day(START + timedelta(days=3), [3], progress=1, setbacks=1)
    decisions = story.decisions()
    [streak] = raised(decisions, Rule.SETBACK_STREAK)
    assert streak.subject_id == member
    assert [e.position for e in streak.evidence] == positions
    assert streak.raised_on == START + timedelta(days=2)
    [done] = cleared(decisions, Rule.SETBACK_STREAK)
    assert done.alert_id == streak.alert_id
    assert done.occurred_on == START + timedelta(days=3)


def test_a_team_can_tune_the_streak() -> None:
    story = Story()
    story.team.tune_alert_rule(
        rule="setback_streak", parameters={"streak": 2}, actor="Mia", occurred_on=START
    )
    story.record(story.team)
    for offset in range(2):
        story.day(START + timedelta(days=offset), [3], progress=0, setbacks=2)
    assert len(raised(story.decisions(), Rule.SETBACK_STREAK)) == 1
    # Forced parameters (a back-test) win over the team's.
    forced = AlertRules(Parameters(forced={"setback_streak": {"streak": 3}}))
    assert raised(story.decisions(forced), Rule.SETBACK_STREAK) == []


# --- blocker_aging ---------------------------------------------------------------------


def test_a_blocker_open_more_than_five_working_days_raises_and_clearing_it_clears() -> None:
    story = Story()
    [reported] = story.day(START, [4], blockers=1)  # Monday
    story.day(START + timedelta(days=7), [4])  # next Monday: 5 working days, not more
    assert raised(story.decisions(), Rule.BLOCKER_AGING) == []
    story.day(START + timedelta(days=8), [4])  # Tuesday: 6 working days
    journal = story.journals[story.member_ids[0]]
    [blocker_id] = journal.blockers
    journal.clear_blocker(
        blocker_id=blocker_id, note=None, actor="Mia", occurred_on=START + timedelta(days=9)
    )
    story.record(journal)
    decisions = story.decisions()
    [aging] = raised(decisions, Rule.BLOCKER_AGING)
    assert aging.subject_id == blocker_id
    assert aging.numbers == {"working_days_open": 6, "limit": 5}
    assert [(e.position, e.id) for e in aging.evidence] == [(reported, blocker_id)]
    [done] = cleared(decisions, Rule.BLOCKER_AGING)
    assert done.alert_id == aging.alert_id


# --- unrecognised_wins -----------------------------------------------------------------


def test_most_wins_unrecognised_after_seven_days_raises_and_recognition_later_clears() -> None:
    story = Story()
    story.day(START, [4, 4, 4], wins=1)  # three wins on day 0
    story.day(START + timedelta(days=7), [4])  # grace not over yet: day 0 + 7
    assert raised(story.decisions(), Rule.UNRECOGNISED_WINS) == []
    story.day(START + timedelta(days=8), [4])
    decisions = story.decisions()
    [unrecognised] = raised(decisions, Rule.UNRECOGNISED_WINS)
    assert unrecognised.numbers == {"wins": 3, "unrecognised": 3, "share": 1.0}
    assert unrecognised.raised_on == START + timedelta(days=8)
    # New wins, recognised promptly, outnumber the old ones within the 30-day window.
    day = START + timedelta(days=10)
    for offset in range(4):
        story.day(day + timedelta(days=offset), [4], wins=1)
        journal = story.journals[story.member_ids[0]]
        newest = max(journal.win_ids(), key=lambda w: _win_day(journal, w))
        recognition = Recognition.give(
            team_id=story.team.id,
            from_member_id=story.member_ids[1],
            to_member_id=story.member_ids[0],
            win_id=newest,
            from_manager=False,
            message="nice",
            actor="x",
            occurred_on=day + timedelta(days=offset),
        )
        story.record(recognition)
    story.day(day + timedelta(days=12), [4])
    [done] = cleared(story.decisions(), Rule.UNRECOGNISED_WINS)
    assert done.alert_id == unrecognised.alert_id


def _win_day(journal: Journal, win_id: UUID) -> date:
    for entry in journal.entries.values():
        if any(UUID(w["id"]) == win_id for w in entry.wins):
            return entry.day
    raise AssertionError(win_id)


# --- participation_drop ----------------------------------------------------------------


def test_a_week_thirty_points_below_the_last_four_raises() -> None:
    story = Story()
    for week in range(4):
        story.day(START + timedelta(weeks=week), [4] * 6)  # everyone, every week
    low_week = START + timedelta(weeks=4)
    story.day(low_week, [4] * 2)  # 2 of 6: 33% against 100%
    story.day(START + timedelta(weeks=5), [4] * 6)
    story.day(START + timedelta(weeks=6), [4] * 6)  # closes the week before
    decisions = story.decisions()
    [drop] = raised(decisions, Rule.PARTICIPATION_DROP)
    assert drop.raised_on == low_week + timedelta(days=6)
    assert drop.numbers["baseline_rate"] == 1.0
    assert math.isclose(drop.numbers["week_rate"], 0.3333)
    # The next week (6 of 6) is back above 1.0 - 0.15: cleared.
    [done] = cleared(decisions, Rule.PARTICIPATION_DROP)
    assert done.alert_id == drop.alert_id


def test_a_silent_week_counts_as_zero() -> None:
    story = Story()
    for week in range(4):
        story.day(START + timedelta(weeks=week), [4] * 6)
    story.day(START + timedelta(weeks=6), [4] * 6)  # week 4 and 5 nobody checked in
    [drop] = raised(story.decisions(), Rule.PARTICIPATION_DROP)
    assert drop.numbers["week_rate"] == 0.0
    assert drop.raised_on == START + timedelta(weeks=4, days=6)


def test_a_departure_clears_the_members_streak() -> None:
    story = Story()
    member = story.member_ids[0]
    for offset in range(3):
        story.day(START + timedelta(days=offset), [3], progress=0, setbacks=1)
    story.team.record_departure(
        member_id=member,
        reason=DepartureReason.DISMISSED,
        note=None,
        actor="Mia",
        occurred_on=START + timedelta(days=3),
    )
    story.record(story.team)
    decisions = story.decisions()
    [streak] = raised(decisions, Rule.SETBACK_STREAK)
    [done] = cleared(decisions, Rule.SETBACK_STREAK)
    assert done.alert_id == streak.alert_id
    assert done.occurred_on == START + timedelta(days=3)


def test_wins_too_old_to_count_are_not_kept_when_they_arrive_late() -> None:
    story = Story()
    late = story.member_ids[1]
    story.day(START + timedelta(days=100), [4])  # the team's clock is now day 100
    for offset in range(50):  # a backfilled journal: wins of days 0-49, after day 100
        report = CheckIn(day=START + timedelta(days=offset), mood=4, wins=["w"])
        story.journals[late].check_in(report, actor="x")
        story.record(story.journals[late])
    rules = AlertRules()
    rules.observe_all(story.events)
    # Day 100 - 7 (grace) - 1 - 30 (window) = day 62: nothing before it can count.
    assert rules.teams[story.team.id].wins == {}
    assert raised(story.decisions(), Rule.UNRECOGNISED_WINS) == []
