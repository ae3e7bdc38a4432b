"""Alert rules: which alerts Keel's log calls for, decided one event at a time.

`AlertRules.observe(event, position)` takes Keel's events in log order and returns the
decisions they lead to: raise an alert, or clear one. It holds state between events
(each team's mood series, changes, wins, blockers), but it reads nothing else: the
decisions depend only on the events, their order and the parameters. Evaluating the
same log twice gives the same decisions, and so the same alert ids (domain/alert.py).

The clock is the log's own. A team's clock is the latest business day among its
events; when an event moves it on:
- the days before it are closed, and each closed day's mood is one point for the
  morale detectors (a check-in for a day already closed is kept by the views, but no
  longer moves the detectors);
- weeks before its week are closed for participation;
- time-based rules (blocker_aging, unrecognised_wins, the end of target churn) are
  evaluated as of the new day.
So a quiet team raises nothing until something happens on it, and replaying history
raises alerts on the business days they would have been raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from domain.alert import DEFAULTS, Rule, Severity, alert_id
from domain.detectors import (
    Baseline,
    CusumParams,
    CusumState,
    EwmaParams,
    EwmaState,
    estimate_baseline,
    ewma_step,
    lower_cusum_step,
    standardise,
)
from domain.goal import Goal
from domain.journal import Journal
from domain.recognition import Recognition
from domain.team import Team
from projections.blockers import working_days_between
from projections.participation import week_of

CHURN_EVENTS = (Goal.TargetChanged, Goal.DueDateChanged, Goal.GoalRedefined)
# A point's evidence lists at most this many events, newest first: enough to follow up.
MAX_EVIDENCE = 50


@dataclass(frozen=True)
class Evidence:
    position: int
    event: str
    id: UUID

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "event": self.event, "id": str(self.id)}


@dataclass(frozen=True)
class Raise:
    team_id: UUID
    rule: Rule
    severity: Severity
    subject_id: UUID | None
    episode: int
    numbers: Mapping[str, float]
    evidence: tuple[Evidence, ...]
    raised_on: date

    @property
    def alert_id(self) -> UUID:
        return alert_id(self.team_id, self.rule, self.subject_id, self.episode)


@dataclass(frozen=True)
class Clear:
    alert_id: UUID
    team_id: UUID
    rule: Rule
    occurred_on: date


Decision = Raise | Clear


class Parameters:
    """Each rule's parameters for a team: the documented defaults, then the
    installation's overrides, then the team's own, then (for a back-test) forced ones."""

    def __init__(
        self,
        installation: Mapping[str, Mapping[str, float]] | None = None,
        forced: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self.installation = {Rule(k): dict(v) for k, v in (installation or {}).items()}
        self.forced = {Rule(k): dict(v) for k, v in (forced or {}).items()}

    def of(self, rule: Rule, team: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        return {
            **DEFAULTS[rule],
            **self.installation.get(rule, {}),
            **team.get(rule.value, {}),
            **self.forced.get(rule, {}),
        }


def _r(value: float) -> float:
    return round(value, 4)


@dataclass
class _Change:
    day: date
    evidence: Evidence
    goal_id: UUID


@dataclass
class _Win:
    day: date
    evidence: Evidence
    recognised_on: date | None = None


@dataclass
class _Blocker:
    day: date
    evidence: Evidence
    alert: UUID | None = None


@dataclass
class _Morale:
    # Open days: day -> member -> (mood, the check-in's evidence).
    days: dict[date, dict[UUID, tuple[int, Evidence]]] = field(default_factory=dict)
    baseline_moods: list[int] = field(default_factory=list)
    baseline_points: int = 0
    baseline: Baseline | None = None
    ewma: EwmaState = field(default_factory=EwmaState)
    cusum: CusumState = field(default_factory=CusumState)
    drop_alert: UUID | None = None
    churn_drop_alert: UUID | None = None


@dataclass
class _Participation:
    weeks: dict[date, set[UUID]] = field(default_factory=dict)
    week_evidence: dict[date, list[Evidence]] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)
    alert: UUID | None = None
    alert_baseline: float = 0.0


@dataclass
class _Team:
    id: UUID
    clock: date
    members: dict[UUID, tuple[date, date | None]] = field(default_factory=dict)
    min_group: int | None = None
    tuned: dict[str, dict[str, float]] = field(default_factory=dict)
    params: dict[Rule, dict[str, float]] = field(default_factory=dict)  # see AlertRules.params
    morale: _Morale = field(default_factory=_Morale)
    participation: _Participation = field(default_factory=_Participation)
    changes: list[_Change] = field(default_factory=list)
    churn_alerts: dict[UUID | None, UUID] = field(default_factory=dict)
    wins: dict[UUID, _Win] = field(default_factory=dict)
    wins_alert: UUID | None = None
    blockers: dict[UUID, _Blocker] = field(default_factory=dict)
    # member -> the flags (setbacks and no progress) of their latest entries, by day.
    entries: dict[UUID, dict[date, tuple[bool, Evidence]]] = field(default_factory=dict)
    streak_alerts: dict[UUID, UUID] = field(default_factory=dict)

    def on_team(self, member_id: UUID, start: date, end: date) -> bool:
        joined, left = self.members.get(member_id, (end + timedelta(days=1), None))
        return joined <= end and (left is None or left >= start)


class AlertRules:
    def __init__(self, parameters: Parameters | None = None, *, min_group: int = 5) -> None:
        self.parameters = parameters or Parameters()
        self.min_group = min_group
        self.teams: dict[UUID, _Team] = {}
        self.team_of: dict[UUID, UUID] = {}  # goal or journal id -> team id
        self.member_of: dict[UUID, UUID] = {}  # journal id -> member id

    def params(self, team: _Team, rule: Rule) -> dict[str, float]:
        # Asked for on every check-in: merged once per team, again after a tuning.
        merged = team.params.get(rule)
        if merged is None:
            merged = team.params[rule] = self.parameters.of(rule, team.tuned)
        return merged

    # --- the entry point -----------------------------------------------------------

    def observe(self, event: object, position: int) -> list[Decision]:
        decisions: list[Decision] = []
        self._observe(event, position, decisions)
        return decisions

    def observe_all(self, events: Iterable[tuple[object, int]]) -> list[Decision]:
        decisions: list[Decision] = []
        for event, position in events:
            self._observe(event, position, decisions)
        return decisions

    @singledispatchmethod
    def _observe(self, event: object, position: int, out: list[Decision]) -> None:
        """Events no rule reads."""

    @_observe.register
    def _(self, event: Team.TeamFormed, position: int, out: list[Decision]) -> None:
        self.teams[event.originator_id] = _Team(event.originator_id, event.occurred_on)

    @_observe.register
    def _(self, event: Team.MemberJoined, position: int, out: list[Decision]) -> None:
        team = self._advanced(event.originator_id, event.occurred_on, position, out)
        if team is not None:
            team.members[event.member_id] = (event.occurred_on, None)

    @_observe.register
    def _(self, event: Team.MemberLeft, position: int, out: list[Decision]) -> None:
        team = self._advanced(event.originator_id, event.occurred_on, position, out)
        if team is not None and event.member_id in team.members:
            team.members[event.member_id] = (team.members[event.member_id][0], event.occurred_on)
            # A streak of someone who has left is nobody's to act on any more.
            streak = team.streak_alerts.pop(event.member_id, None)
            if streak is not None:
                out.append(Clear(streak, team.id, Rule.SETBACK_STREAK, event.occurred_on))

    @_observe.register
    def _(self, event: Team.MinimumGroupSet, position: int, out: list[Decision]) -> None:
        team = self.teams.get(event.originator_id)
        if team is not None:
            team.min_group = event.min_group

    @_observe.register
    def _(self, event: Team.AlertRuleTuned, position: int, out: list[Decision]) -> None:
        team = self.teams.get(event.originator_id)
        if team is not None:
            if event.parameters:
                team.tuned[event.rule] = dict(event.parameters)
            else:
                team.tuned.pop(event.rule, None)
            team.params.pop(Rule(event.rule), None)

    @_observe.register
    def _(self, event: Goal.GoalSet, position: int, out: list[Decision]) -> None:
        self.team_of[event.originator_id] = event.team_id
        self._advanced(event.team_id, event.occurred_on, position, out)

    @_observe.register(Goal.TargetChanged)
    @_observe.register(Goal.DueDateChanged)
    @_observe.register(Goal.GoalRedefined)
    def _(self, event: Goal.Event, position: int, out: list[Decision]) -> None:
        day: date = getattr(event, "occurred_on")  # noqa: B009
        team = self._advanced(self.team_of.get(event.originator_id), day, position, out)
        if team is None:
            return
        change = _Change(day, _evidence(event, position), event.originator_id)
        team.changes.append(change)
        self._check_churn(team, change, position, out)

    @_observe.register
    def _(self, event: Journal.JournalOpened, position: int, out: list[Decision]) -> None:
        self.team_of[event.originator_id] = event.team_id
        self.member_of[event.originator_id] = event.member_id

    @_observe.register
    def _(self, event: Journal.EntryRecorded, position: int, out: list[Decision]) -> None:
        team = self._advanced(
            self.team_of.get(event.originator_id), event.occurred_on, position, out
        )
        if team is None:
            return
        member_id = self.member_of[event.originator_id]
        evidence = _evidence(event, position)
        day = event.occurred_on
        # The clock is now at least `day`: only the clock's own day is still open for
        # morale (a correction replaces the member's mood), and only its week for
        # participation.
        if day == team.clock:
            team.morale.days.setdefault(day, {})[member_id] = (event.mood, evidence)
        week = week_of(day)
        if week == week_of(team.clock):
            team.participation.weeks.setdefault(week, set()).add(member_id)
            team.participation.week_evidence.setdefault(week, []).append(evidence)
        if day > self._wins_forgotten_before(team):
            for item in event.wins:
                win = _Win(day, _item_evidence(event, position, item))
                team.wins.setdefault(UUID(item["id"]), win)
        for item in event.blockers:
            blocker_id = UUID(item["id"])
            if blocker_id not in team.blockers:
                team.blockers[blocker_id] = _Blocker(day, _item_evidence(event, position, item))
        if isinstance(event, Journal.CheckInCorrected):
            for withdrawn in event.withdrawn_win_ids:
                team.wins.pop(UUID(withdrawn), None)
            for withdrawn in event.withdrawn_blocker_ids:
                self._blocker_gone(team, UUID(withdrawn), day, out)
        self._check_streak(team, member_id, event, evidence, out)

    @_observe.register
    def _(self, event: Journal.BlockerCleared, position: int, out: list[Decision]) -> None:
        team = self._advanced(
            self.team_of.get(event.originator_id), event.occurred_on, position, out
        )
        if team is not None:
            self._blocker_gone(team, event.blocker_id, event.occurred_on, out)

    @_observe.register
    def _(self, event: Recognition.RecognitionGiven, position: int, out: list[Decision]) -> None:
        team = self._advanced(event.team_id, event.occurred_on, position, out)
        if team is None or event.win_id is None:
            return
        win = team.wins.get(event.win_id)
        if win is not None and (win.recognised_on is None or event.occurred_on < win.recognised_on):
            win.recognised_on = event.occurred_on

    # --- the clock -------------------------------------------------------------------

    def _advanced(
        self, team_id: UUID | None, day: date, position: int, out: list[Decision]
    ) -> _Team | None:
        """The team, with its clock moved on to `day` (and what that sets off)."""
        team = self.teams.get(team_id) if team_id is not None else None
        if team is None or day <= team.clock:
            return team
        previous, team.clock = team.clock, day
        for open_day in sorted(d for d in team.morale.days if d < day):
            self._close_day(team, open_day, team.morale.days.pop(open_day), out)
        self._close_weeks(team, week_of(previous), week_of(day), position, out)
        self._check_churn_ended(team, out)
        self._check_wins(team, position, out)
        self._check_blockers(team, out)
        return team

    # --- morale_drop and churn_then_drop -------------------------------------------------

    def _close_day(
        self,
        team: _Team,
        day: date,
        entries: dict[UUID, tuple[int, Evidence]],
        out: list[Decision],
    ) -> None:
        moods = [
            (mood, evidence)
            for member_id, (mood, evidence) in entries.items()
            if team.on_team(member_id, day, day)
        ]
        group = team.min_group or self.min_group
        if len(moods) < group:
            return  # too few people to show, so too few to act on
        p = self.params(team, Rule.MORALE_DROP)
        morale = team.morale
        if morale.baseline is None:
            morale.baseline_moods.extend(m for m, _ in moods)
            morale.baseline_points += 1
            if morale.baseline_points >= p["baseline_days"]:
                morale.baseline = estimate_baseline(morale.baseline_moods, p["sd_floor"])
                morale.baseline_moods = []
            return
        mean = sum(m for m, _ in moods) / len(moods)
        z = standardise(mean, len(moods), morale.baseline)
        morale.ewma, ewma = ewma_step(morale.ewma, z, EwmaParams(p["ewma_lambda"], p["ewma_l"]))
        cusum_params = CusumParams(p["cusum_k"], p["cusum_h"])
        morale.cusum, cusum = lower_cusum_step(morale.cusum, z, cusum_params)
        numbers = {
            "mean": _r(mean),
            "respondents": len(moods),
            "baseline_mean": _r(morale.baseline.mean),
            "baseline_sd": _r(morale.baseline.sd),
            "ewma": _r(ewma.statistic),
            "ewma_lower_limit": _r(ewma.lower),
            "cusum": _r(cusum.statistic),
            "cusum_h": p["cusum_h"],
        }
        if cusum.low:
            morale.cusum = CusumState()  # the usual restart after a CUSUM signal
        if morale.drop_alert is not None:
            recovered = ewma.statistic >= ewma.lower / 2 and cusum.statistic <= p["cusum_h"] / 2
            if recovered:
                out.append(Clear(morale.drop_alert, team.id, Rule.MORALE_DROP, day))
                morale.drop_alert = None
                if morale.churn_drop_alert is not None:
                    out.append(Clear(morale.churn_drop_alert, team.id, Rule.CHURN_THEN_DROP, day))
                    morale.churn_drop_alert = None
            return
        if not (ewma.low or cusum.low):
            return
        checkins = sorted((e for _, e in moods), key=lambda e: e.position)
        episode = checkins[-1].position
        window = self.params(team, Rule.CHURN_THEN_DROP)["window_days"]
        changes = [c for c in team.changes if day - timedelta(days=window) <= c.day <= day]
        context = tuple(c.evidence for c in changes)
        drop = Raise(
            team.id,
            Rule.MORALE_DROP,
            Severity.CRITICAL if ewma.low and cusum.low else Severity.WARNING,
            None,
            episode,
            numbers,
            _capped(context + tuple(checkins)),
            day,
        )
        out.append(drop)
        morale.drop_alert = drop.alert_id
        if changes:
            last_change = max(c.day for c in changes)
            churn_drop = Raise(
                team.id,
                Rule.CHURN_THEN_DROP,
                Severity.CRITICAL,
                None,
                episode,
                {**numbers, "changes": len(changes), "days_after_change": (day - last_change).days},
                _capped(context + tuple(checkins)),
                day,
            )
            out.append(churn_drop)
            morale.churn_drop_alert = churn_drop.alert_id

    # --- target_churn --------------------------------------------------------------------

    def _check_churn(
        self, team: _Team, change: _Change, position: int, out: list[Decision]
    ) -> None:
        p = self.params(team, Rule.TARGET_CHURN)
        scopes: list[tuple[UUID | None, float, float]] = [
            (change.goal_id, p["goal_changes"], p["goal_window_days"]),
            (None, p["team_changes"], p["team_window_days"]),
        ]
        for subject, threshold, window in scopes:
            if subject in team.churn_alerts:
                continue
            recent = self._recent_changes(team, subject, change.day, window)
            if len(recent) >= threshold:
                raised = Raise(
                    team.id,
                    Rule.TARGET_CHURN,
                    Severity.WARNING,
                    subject,
                    position,
                    {"changes": len(recent), "window_days": window, "threshold": threshold},
                    _capped(tuple(c.evidence for c in recent)),
                    change.day,
                )
                out.append(raised)
                team.churn_alerts[subject] = raised.alert_id

    def _check_churn_ended(self, team: _Team, out: list[Decision]) -> None:
        if not team.churn_alerts:
            return
        p = self.params(team, Rule.TARGET_CHURN)
        for subject, raised in list(team.churn_alerts.items()):
            threshold, window = (
                (p["goal_changes"], p["goal_window_days"])
                if subject is not None
                else (p["team_changes"], p["team_window_days"])
            )
            if len(self._recent_changes(team, subject, team.clock, window)) < threshold:
                out.append(Clear(raised, team.id, Rule.TARGET_CHURN, team.clock))
                del team.churn_alerts[subject]

    @staticmethod
    def _recent_changes(
        team: _Team, goal_id: UUID | None, day: date, window: float
    ) -> list[_Change]:
        since = day - timedelta(days=window)
        return [
            c
            for c in team.changes
            if since < c.day <= day and (goal_id is None or c.goal_id == goal_id)
        ]

    # --- unrecognised_wins -----------------------------------------------------------------

    def _check_wins(self, team: _Team, position: int, out: list[Decision]) -> None:
        p = self.params(team, Rule.UNRECOGNISED_WINS)
        grace = timedelta(days=p["grace_days"])
        # Wins whose grace is over (a recognition on the last day of grace still
        # counts), reported within the window before that.
        newest = team.clock - grace - timedelta(days=1)
        oldest = self._wins_forgotten_before(team)
        for win_id in [w for w, win in team.wins.items() if win.day <= oldest]:
            del team.wins[win_id]  # too old to count ever again
        due = [w for w in team.wins.values() if w.day <= newest]
        unrecognised = [
            w for w in due if w.recognised_on is None or w.recognised_on > w.day + grace
        ]
        share = len(unrecognised) / len(due) if due else 0.0
        firing = len(due) >= p["min_wins"] and share > p["share"]
        if firing and team.wins_alert is None:
            raised = Raise(
                team.id,
                Rule.UNRECOGNISED_WINS,
                Severity.INFO,
                None,
                position,
                {"wins": len(due), "unrecognised": len(unrecognised), "share": _r(share)},
                _capped(tuple(w.evidence for w in unrecognised)),
                team.clock,
            )
            out.append(raised)
            team.wins_alert = raised.alert_id
        elif not firing and team.wins_alert is not None:
            out.append(Clear(team.wins_alert, team.id, Rule.UNRECOGNISED_WINS, team.clock))
            team.wins_alert = None

    def _wins_forgotten_before(self, team: _Team) -> date:
        """Wins of this day or before can never count again. (A log need not be in
        business-day order: an import, or a backfilled journal, brings old wins after
        newer ones; keeping them would only grow the rules' memory.)"""
        p = self.params(team, Rule.UNRECOGNISED_WINS)
        return team.clock - timedelta(days=p["grace_days"] + 1 + p["window_days"])

    # --- participation_drop ----------------------------------------------------------------

    def _close_weeks(
        self, team: _Team, first: date, current: date, position: int, out: list[Decision]
    ) -> None:
        state = team.participation
        p = self.params(team, Rule.PARTICIPATION_DROP)
        baseline_weeks, drop = int(p["baseline_weeks"]), p["drop_points"] / 100
        week = first
        while week < current:
            end = week + timedelta(days=6)
            on_team = {m for m in team.members if team.on_team(m, week, end)}
            checked = state.weeks.pop(week, set()) & on_team
            evidence = state.week_evidence.pop(week, [])
            week += timedelta(days=7)
            if not on_team:
                continue
            rate = len(checked) / len(on_team)
            history = state.rates[-baseline_weeks:]
            state.rates = [*history, rate]
            if state.alert is not None:
                if rate >= state.alert_baseline - drop / 2:
                    out.append(Clear(state.alert, team.id, Rule.PARTICIPATION_DROP, end))
                    state.alert = None
                continue
            if len(history) < baseline_weeks:
                continue
            baseline = sum(history) / len(history)
            if baseline - rate >= drop:
                raised = Raise(
                    team.id,
                    Rule.PARTICIPATION_DROP,
                    Severity.WARNING,
                    None,
                    position,
                    {
                        "week_rate": _r(rate),
                        "baseline_rate": _r(baseline),
                        "members": len(on_team),
                        "checked_in": len(checked),
                    },
                    _capped(tuple(evidence)),
                    end,
                )
                out.append(raised)
                state.alert, state.alert_baseline = raised.alert_id, baseline

    # --- setback_streak --------------------------------------------------------------------

    def _check_streak(
        self,
        team: _Team,
        member_id: UUID,
        event: Journal.EntryRecorded,
        evidence: Evidence,
        out: list[Decision],
    ) -> None:
        streak = int(self.params(team, Rule.SETBACK_STREAK)["streak"])
        flagged = bool(event.setbacks) and not event.progress
        entries = team.entries.setdefault(member_id, {})
        entries[event.occurred_on] = (flagged, evidence)
        latest = sorted(entries)[-streak:]
        for day in [d for d in entries if d not in latest]:
            del entries[day]
        run = [entries[d] for d in latest]
        open_alert = team.streak_alerts.get(member_id)
        if open_alert is not None:
            if not run[-1][0]:
                out.append(Clear(open_alert, team.id, Rule.SETBACK_STREAK, event.occurred_on))
                del team.streak_alerts[member_id]
        elif len(run) == streak and all(f for f, _ in run):
            raised = Raise(
                team.id,
                Rule.SETBACK_STREAK,
                Severity.WARNING,
                member_id,
                evidence.position,
                {"streak": streak},
                tuple(e for _, e in run),
                event.occurred_on,
            )
            out.append(raised)
            team.streak_alerts[member_id] = raised.alert_id

    # --- blocker_aging ---------------------------------------------------------------------

    def _check_blockers(self, team: _Team, out: list[Decision]) -> None:
        limit = self.params(team, Rule.BLOCKER_AGING)["working_days"]
        for blocker_id, blocker in team.blockers.items():
            if blocker.alert is not None:
                continue
            age = working_days_between(blocker.day, team.clock)
            if age > limit:
                raised = Raise(
                    team.id,
                    Rule.BLOCKER_AGING,
                    Severity.INFO if age <= 2 * limit else Severity.WARNING,
                    blocker_id,
                    blocker.evidence.position,
                    {"working_days_open": age, "limit": limit},
                    (blocker.evidence,),
                    team.clock,
                )
                out.append(raised)
                blocker.alert = raised.alert_id

    def _blocker_gone(self, team: _Team, blocker_id: UUID, day: date, out: list[Decision]) -> None:
        blocker = team.blockers.pop(blocker_id, None)
        if blocker is not None and blocker.alert is not None:
            out.append(Clear(blocker.alert, team.id, Rule.BLOCKER_AGING, day))


def _evidence(event: Any, position: int) -> Evidence:
    return Evidence(position, type(event).__name__, event.originator_id)


def _item_evidence(event: Any, position: int, item: Mapping[str, str]) -> Evidence:
    """A win or a blocker: the check-in that reported it, named by the item's own id."""
    return Evidence(position, type(event).__name__, UUID(item["id"]))


def _capped(evidence: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    return evidence[-MAX_EVIDENCE:]


RulesFactory = Callable[[], AlertRules]
