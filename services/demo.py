"""`keel demo`: a two-year story, loaded through the Keel application's own commands.

Customer Success lives the pattern Keel exists to show. For fourteen months the owners
move the renewal target every five to eight weeks, concerns go unanswered, blockers
sit for weeks, wins go unnoticed, mood sinks from about 4 to 2.5 and people stop
checking in; after a missed quarter a member is dismissed. Then a new manager arrives:
a few clear goals the team agreed to (one achieved), blockers cleared within days,
small wins recognised within the week, and mood recovers to about 4. Onboarding, a
steadier team, runs beside it for contrast.

The story is seeded, so it is the same for a given `today`; it ends on `today`, since
business dates may not lie in the future. Its teams are formed by DEMO_ACTOR, which is
how a second run sees that the story is already there.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.goal import ConcernKind, Goal
from domain.journal import CheckIn
from domain.team import DepartureReason, Team
from services.keel import Keel

DEMO_ACTOR = "keel demo"
# Picked among seeds 1 to 10 by running the alert rules over each story: with this one
# the steady team trips no morale alarm by chance (a baseline of 20 days leaves room
# for that), and Customer Success's morale drop follows its first target change.
SEED = 10
WEEKS = 104  # the story starts on the Monday 104 weeks before this week's
RECOVERY_WEEK = 61  # about fourteen months in: the new manager arrives
DISMISSAL_WEEK = 44
OWNER, CO_OWNER = "Grant", "Lydia"
CS, ONBOARDING = "Customer Success", "Onboarding"

Beat = Callable[[], object]
Curve = Sequence[tuple[float, float]]  # (week, value) anchors, linearly interpolated


def interpolate(curve: Curve, week: float) -> float:
    if week <= curve[0][0]:
        return curve[0][1]
    for (w0, v0), (w1, v1) in itertools.pairwise(curve):
        if week <= w1:
            return v0 + (v1 - v0) * (week - w0) / (w1 - w0)
    return curve[-1][1]


def add_working_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


# --- who is in the story ----------------------------------------------------------------


@dataclass
class Person:
    name: str
    role: str | None = "account manager"
    joins_week: int = 0
    mood_offset: float = 0.0
    # Days this person does not check in: holidays, leave, or going quiet.
    away: set[date] = field(default_factory=set)
    member_id: UUID | None = None
    left_on: date | None = None

    @property
    def id(self) -> UUID:
        if self.member_id is None:
            raise LookupError(f"{self.name} has not joined yet")
        return self.member_id

    def on_team(self, day: date) -> bool:
        return self.member_id is not None and (self.left_on is None or day <= self.left_on)


@dataclass(frozen=True)
class Care:
    """How a team responds to what its members report: the share of wins the manager
    and the peers recognise, and the share of blockers the manager clears, each after a
    number of working days drawn from a range."""

    manager_recognises: float
    manager_delay: tuple[int, int]
    peers_recognise: float
    peer_delay: tuple[int, int]
    clears: float
    clear_delay: tuple[int, int]


@dataclass(frozen=True)
class Climate:
    """How a team feels and works, week by week."""

    mood: Curve
    mood_noise: float  # the spread of a person's mood from day to day
    engagement: Curve  # the chance that a person checks in at all in a given week
    participation: Curve  # the chance that an engaged person checks in on a workday
    progress: Curve
    setbacks: Curve
    wins: Curve
    blockers: Curve
    private_notes: Curve


@dataclass(frozen=True)
class Texts:
    progress: tuple[str, ...]
    setbacks: tuple[str, ...]
    wins: tuple[str, ...]
    blockers: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass
class TeamInStory:
    name: str
    manager: Person
    people: list[Person]
    climate: Climate
    texts: Texts
    care: Callable[[int], Care]  # by week
    team_id: UUID | None = None
    open_blockers: dict[UUID, UUID] = field(default_factory=dict)  # blocker -> member
    # Days something hit the team hard (a moved target, a dismissal): mood dips, then
    # recovers over a couple of weeks.
    shocks: list[tuple[date, float]] = field(default_factory=list)

    def current(self, day: date) -> list[Person]:
        return [p for p in self.people if p.on_team(day)]

    def person(self, name: str) -> Person:
        return next(p for p in self.people if p.name == name)


ACCOUNTS = (
    "Northwind",
    "Halvorsen",
    "Bluepeak",
    "Quillon",
    "Marisco",
    "Tandem Freight",
    "Orla Health",
    "Vexa",
    "Corvid Labs",
    "Lindqvist",
)

CS_TEXTS = Texts(
    progress=(
        "Renewal call with {account}",
        "Prepared the business review for {account}",
        "Closed five support tickets",
        "Mapped the new stakeholders at {account}",
        "Sent the renewal quote to {account}",
        "Walked {account} through the new reporting",
        "Updated the health scores of my accounts",
    ),
    setbacks=(
        "{account} says they will not renew",
        "Lost a day rebuilding the forecast for the new target",
        "Pipeline review ran two hours over",
        "{account} escalated to the owners directly",
        "Had to redo my renewal plan after the target moved",
        "Our champion at {account} left the company",
    ),
    wins=(
        "{account} renewed for two years",
        "Saved {account} after a rough quarter",
        "{account} agreed to a case study",
        "Upsold {account} to the premium tier",
        "Cleared my overdue tickets",
    ),
    blockers=(
        "No access to the billing system",
        "Waiting on legal for the {account} contract",
        "CRM export broken since the migration",
        "Need a discount approval for {account}",
        "No answer from product on the {account} bug",
    ),
    notes=(
        "Dreading Monday's pipeline review",
        "Not sure what the target is this week",
        "Slept badly again",
        "Updated my CV",
    ),
)

ONBOARDING_TEXTS = Texts(
    progress=(
        "Kick-off call with {account}",
        "Set up single sign-on for {account}",
        "Imported {account}'s data",
        "Ran the admin training for {account}",
        "Improved the setup checklist",
    ),
    setbacks=(
        "{account}'s data import failed twice",
        "Training session with {account} cancelled",
    ),
    wins=(
        "{account} went live a week early",
        "{account} finished setup without a call",
        "New checklist cut setup time in half",
    ),
    blockers=(
        "Waiting on {account}'s IT for firewall rules",
        "Sandbox environment is down",
    ),
    notes=("Good week", "Tired but fine"),
)

MANAGER_THANKS = (
    "That took patience. Well done.",
    "You made that look easy. Thank you.",
    "This is exactly the kind of progress that counts.",
    "Great work, and thank you for sharing it.",
)
PEER_THANKS = ("Nice one!", "Thanks for the help with this.", "Well deserved.")


def actor_of(person: Person) -> str:
    """Keel knows a manager by name and a member by their member id."""
    return person.name if person.role == "manager" else str(person.id)


# --- the story ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLoaded:
    teams: dict[str, UUID]
    first_day: date
    last_day: date
    events: int


class Story:
    def __init__(self, keel: Keel, today: date, seed: int) -> None:
        self.keel = keel
        self.today = today
        self.rng = random.Random(seed)
        self.start = today - timedelta(days=today.weekday(), weeks=WEEKS)
        self.beats: dict[date, list[Beat]] = defaultdict(list)
        self.later: dict[date, list[Beat]] = defaultdict(list)
        # Check-ins whose content the story fixes: (person, day) -> fields of CheckIn.
        self.scripted: dict[tuple[str, date], dict[str, list[str]]] = {}
        self.scripted_wins: dict[tuple[str, date], list[UUID]] = {}
        self.goals: dict[str, UUID] = {}
        self.customer_success = self._customer_success()
        self.onboarding = self._onboarding()
        self.teams = (self.customer_success, self.onboarding)

    def day(self, week: int, weekday: int = 0) -> date:
        return self.start + timedelta(weeks=week, days=weekday)

    def at(self, week: int, weekday: int, beat: Beat) -> None:
        when = self.day(week, weekday)
        if when <= self.today:
            self.beats[when].append(beat)

    def week_of(self, day: date) -> float:
        return (day - self.start).days / 7

    # --- the two teams -----------------------------------------------------------------

    def _people(self, names: Sequence[str], role: str | None) -> list[Person]:
        return [Person(n, role, mood_offset=self.rng.uniform(-0.35, 0.35)) for n in names]

    def _holidays(self, people: Sequence[Person], blocks: int, busy: range = range(0)) -> None:
        """Each person takes `blocks` holidays of one or two weeks over the story; no
        two people of a team are away in the same week, and nobody in the `busy` weeks."""
        free = [w for w in range(1, WEEKS - 1) if w not in busy]
        self.rng.shuffle(free)
        taken: set[int] = set()
        for person in people:
            for _ in range(blocks):
                length = self.rng.choice((1, 2))
                first = next(w for w in free if not taken & set(range(w, w + length)))
                taken.update(range(first, first + length))
                self.away(person, self.day(first), self.day(first + length) - timedelta(days=1))

    @staticmethod
    def away(person: Person, first: date, last: date) -> None:
        person.away.update(first + timedelta(days=d) for d in range((last - first).days + 1))

    def _customer_success(self) -> TeamInStory:
        dana = Person("Dana", "manager")
        kay = Person("Kay", "manager", joins_week=RECOVERY_WEEK, mood_offset=0.2)
        people = [dana, kay]
        people += self._people(["Sandra", "Luis", "Priya", "Tomasz", "Aisha", "Ben", "Mei"], None)
        rosa = Person("Rosa", joins_week=RECOVERY_WEEK, mood_offset=0.1)
        people.append(rosa)
        for person in people[2:]:
            person.role = "account manager"
        # Everyone is in when the new manager starts.
        self._holidays(people[2:], blocks=4, busy=range(RECOVERY_WEEK - 2, RECOVERY_WEEK + 2))

        def care(week: int) -> Care:
            if week < RECOVERY_WEEK:
                return Care(0.05, (8, 20), 0.08, (1, 3), 0.4, (8, 30))
            return Care(0.8, (0, 4), 0.3, (0, 3), 1.0, (0, 2))

        climate = Climate(
            mood=[
                (0, 4.05),
                (5, 4.05),
                (7, 3.6),
                (30, 3.2),
                (43, 2.9),
                (60, 2.5),
                (63, 2.9),
                (70, 3.7),
                (78, 4.1),
                (WEEKS, 4.15),
            ],
            mood_noise=0.55,
            # Everyone turns up in the first week, and in the new manager's first.
            engagement=[
                (0, 1.0),
                (1, 0.98),
                (6, 0.97),
                (20, 0.9),
                (43, 0.8),
                (60, 0.65),
                (61, 1.0),
                (62, 0.9),
                (66, 0.97),
                (WEEKS, 0.97),
            ],
            participation=[
                (0, 0.93),
                (6, 0.9),
                (20, 0.8),
                (43, 0.72),
                (60, 0.62),
                (62, 0.7),
                (70, 0.88),
                (WEEKS, 0.9),
            ],
            progress=[(0, 0.8), (6, 0.75), (60, 0.3), (64, 0.6), (72, 0.85), (WEEKS, 0.85)],
            setbacks=[(0, 0.15), (6, 0.2), (60, 0.65), (64, 0.3), (72, 0.15), (WEEKS, 0.12)],
            wins=[(0, 0.12), (20, 0.09), (60, 0.07), (64, 0.2), (WEEKS, 0.22)],
            blockers=[(0, 0.05), (60, 0.07), (62, 0.08), (WEEKS, 0.05)],
            private_notes=[(0, 0.03), (40, 0.15), (60, 0.2), (70, 0.05), (WEEKS, 0.03)],
        )
        team = TeamInStory(CS, dana, people, climate, CS_TEXTS, care)
        # Going quiet: silence is a signal.
        self.away(team.person("Tomasz"), self.day(20), self.day(22, 4))
        self.away(team.person("Aisha"), self.day(48), self.day(50, 4))
        self.away(team.person("Priya"), self.day(55), self.day(57, 4))
        # The week of the dismissal, most of the team says nothing at all.
        for name in ("Tomasz", "Aisha", "Luis", "Mei"):
            self.away(team.person(name), self.day(DISMISSAL_WEEK), self.day(DISMISSAL_WEEK, 4))
        return team

    def _onboarding(self) -> TeamInStory:
        noor = Person("Noor", "manager", mood_offset=0.2)
        names = ["Jonas", "Elif", "Marek", "Hana", "Tariq", "Zoe", "Ines"]
        people = [noor, *self._people(names, None)]
        for person in people[1:]:
            person.role = "onboarding specialist"
        self._holidays(people[1:], blocks=4)
        steady = Care(0.75, (0, 3), 0.3, (0, 4), 1.0, (0, 3))
        climate = Climate(
            mood=[(0, 4.0), (WEEKS, 4.0)],
            mood_noise=0.35,
            engagement=[(0, 0.99), (WEEKS, 0.99)],
            participation=[(0, 0.9), (WEEKS, 0.9)],
            progress=[(0, 0.8), (WEEKS, 0.8)],
            setbacks=[(0, 0.12), (WEEKS, 0.12)],
            wins=[(0, 0.18), (WEEKS, 0.18)],
            blockers=[(0, 0.04), (WEEKS, 0.04)],
            private_notes=[(0, 0.02), (WEEKS, 0.02)],
        )
        team = TeamInStory(ONBOARDING, noor, people, climate, ONBOARDING_TEXTS, lambda _: steady)
        # On parental leave for the last month: still on the team, silent.
        jonas = team.person("Jonas")
        jonas.away = {d for d in jonas.away if d < self.today - timedelta(days=35)}
        self.away(jonas, self.today - timedelta(days=31), self.today)
        return team

    # --- running it ----------------------------------------------------------------------

    def run(self, on_day: Callable[[int, int], None] | None = None) -> dict[str, UUID]:
        self._plan_customer_success()
        self._plan_onboarding()
        total = (self.today - self.start).days + 1
        for offset in range(total):
            day = self.start + timedelta(days=offset)
            for beat in self.beats.pop(day, []):
                beat()
            if day.weekday() == 0:
                self._decide_who_goes_quiet(day)
            if day.weekday() < 5:
                for team in self.teams:
                    for person in team.current(day):
                        self._maybe_check_in(team, person, day)
            for action in self.later.pop(day, []):
                action()
            if on_day is not None:
                on_day(offset + 1, total)
        return {t.name: self._id(t) for t in self.teams}

    def _decide_who_goes_quiet(self, monday: date) -> None:
        for team in self.teams:
            engagement = interpolate(team.climate.engagement, self.week_of(monday))
            for person in team.current(monday):
                if self.rng.random() >= engagement:
                    self.away(person, monday, monday + timedelta(days=4))

    @staticmethod
    def _id(team: TeamInStory) -> UUID:
        assert team.team_id is not None
        return team.team_id

    def _maybe_check_in(self, team: TeamInStory, person: Person, day: date) -> None:
        scripted = self.scripted.get((person.name, day))
        week = self.week_of(day)
        climate = team.climate
        chance = interpolate(climate.participation, week)
        if scripted is None and (day in person.away or self.rng.random() >= chance):
            return
        mood = self._mood(team, person, day)
        report = scripted or {
            "progress": self._texts(team.texts.progress, climate.progress, week, 2),
            "setbacks": self._texts(team.texts.setbacks, climate.setbacks, week, 1),
            "wins": self._texts(team.texts.wins, climate.wins, week, 1),
            "blockers": self._texts(team.texts.blockers, climate.blockers, week, 1),
        }
        note = None
        if self.rng.random() < interpolate(climate.private_notes, week):
            note = self.rng.choice(team.texts.notes)
        _, entry = self.keel.check_in(
            self._id(team),
            person.id,
            CheckIn(day=day, mood=mood, private_note=note, **report),
            actor=str(person.id),
        )
        if scripted is not None:
            # The story decides what happens to these wins and blockers.
            self.scripted_wins[(person.name, day)] = [UUID(w["id"]) for w in entry.wins]
            return
        care = team.care(int(week))
        for win in entry.wins:
            self._respond_to_win(team, person, UUID(win["id"]), day, care)
        for blocker in entry.blockers:
            blocker_id = UUID(blocker["id"])
            team.open_blockers[blocker_id] = person.id
            if self.rng.random() < care.clears:
                when = add_working_days(day, self.rng.randint(*care.clear_delay))
                self._later(when, self._clearance(team, blocker_id, when))

    def _mood(self, team: TeamInStory, person: Person, day: date) -> int:
        level = interpolate(team.climate.mood, self.week_of(day)) + person.mood_offset
        for shock_day, depth in team.shocks:
            if shock_day <= day:
                level -= depth * math.exp(-(day - shock_day).days / 12)
        return min(5, max(1, round(level + self.rng.gauss(0, team.climate.mood_noise))))

    def _texts(self, choices: Sequence[str], curve: Curve, week: float, most: int) -> list[str]:
        if self.rng.random() >= interpolate(curve, week):
            return []
        count = self.rng.randint(1, most)
        return [
            self.rng.choice(choices).format(account=self.rng.choice(ACCOUNTS)) for _ in range(count)
        ]

    def _later(self, when: date, action: Beat) -> None:
        if when <= self.today:
            self.later[when].append(action)

    def _respond_to_win(
        self, team: TeamInStory, person: Person, win_id: UUID, day: date, care: Care
    ) -> None:
        if person is not team.manager and self.rng.random() < care.manager_recognises:
            when = add_working_days(day, self.rng.randint(*care.manager_delay))
            message = self.rng.choice(MANAGER_THANKS)
            self._later(when, self._recognition(team, team.manager, person, win_id, when, message))
        if self.rng.random() < care.peers_recognise:
            peers = [p for p in team.current(day) if p is not person and p is not team.manager]
            if peers:
                peer = self.rng.choice(peers)
                when = add_working_days(day, self.rng.randint(*care.peer_delay))
                message = self.rng.choice(PEER_THANKS)
                self._later(when, self._recognition(team, peer, person, win_id, when, message))

    def _recognition(
        self, team: TeamInStory, giver: Person, to: Person, win_id: UUID | None, on: date, msg: str
    ) -> Beat:
        def give() -> None:
            # People who have left no longer thank anyone, nor are thanked.
            if not (giver.on_team(on) and to.on_team(on)):
                return
            self.keel.recognise(
                from_member_id=giver.id,
                to_member_id=to.id,
                win_id=win_id,
                message=msg,
                actor=actor_of(giver),
                occurred_on=on,
            )

        return give

    def _clearance(self, team: TeamInStory, blocker_id: UUID, on: date) -> Beat:
        return lambda: self._clear(team, blocker_id, on)

    def _clear(
        self, team: TeamInStory, blocker_id: UUID, on: date, note: str | None = None
    ) -> None:
        member_id = team.open_blockers.pop(blocker_id, None)
        if member_id is not None:
            self.keel.clear_blocker(
                member_id, blocker_id, note=note, actor=team.manager.name, occurred_on=on
            )

    # --- beats -----------------------------------------------------------------------------

    def _form(self, team: TeamInStory) -> None:
        team.team_id = self.keel.form_team(
            name=team.name, manager=team.manager.name, actor=DEMO_ACTOR, occurred_on=self.start
        ).id
        for person in team.people:
            if person.joins_week == 0:
                self._join(team, person, self.start, DEMO_ACTOR)

    def _join(self, team: TeamInStory, person: Person, on: date, actor: str) -> None:
        person.member_id = self.keel.add_member(
            self._id(team), name=person.name, role=person.role, actor=actor, occurred_on=on
        ).id

    def _leave(
        self, team: TeamInStory, name: str, reason: DepartureReason, note: str, actor: str, on: date
    ) -> None:
        person = team.person(name)
        self.keel.record_departure(
            self._id(team), person.id, reason=reason, note=note, actor=actor, occurred_on=on
        )
        person.left_on = on

    def _goal(
        self,
        key: str,
        team: TeamInStory,
        *,
        title: str,
        metric: str,
        target: float,
        unit: str,
        due: date,
        why: str,
        actor: str,
        on: date,
    ) -> None:
        self.goals[key] = self.keel.set_goal(
            self._id(team),
            title=title,
            metric=metric,
            target=target,
            unit=unit,
            due=due,
            why=why,
            actor=actor,
            occurred_on=on,
        ).id

    def _change(self, key: str, command: Callable[[Goal], object]) -> None:
        self.keel.change_goal(self.goals[key], None, command)

    def _retarget(
        self,
        team: TeamInStory,
        key: str,
        week: int,
        weekday: int,
        target: float,
        why: str,
        shock: float = 0.0,
    ) -> None:
        on = self.day(week, weekday)

        def beat() -> None:
            self._change(
                key,
                lambda g: g.change_target(target=target, reason=why, actor=OWNER, occurred_on=on),
            )
            if shock:
                team.shocks.append((on, shock))

        self.at(week, weekday, beat)

    def _move_due(self, key: str, week: int, weekday: int, due: date, why: str) -> None:
        on = self.day(week, weekday)
        self.at(
            week,
            weekday,
            lambda: self._change(
                key, lambda g: g.change_due_date(due=due, reason=why, actor=OWNER, occurred_on=on)
            ),
        )

    def _progress(self, key: str, week: int, value: float, actor: str, note: str | None) -> None:
        on = self.day(week, 4)
        self.at(
            week,
            4,
            lambda: self._change(
                key,
                lambda g: g.record_progress(value=value, note=note, actor=actor, occurred_on=on),
            ),
        )

    def _concern(
        self, key: str, week: int, weekday: int, kind: ConcernKind, text: str, by: Person
    ) -> Callable[[], UUID]:
        """Plan a concern; what is returned gives its id once it has been raised."""
        on = self.day(week, weekday)
        raised: list[UUID] = []
        self.at(
            week,
            weekday,
            lambda: self._change(
                key,
                lambda g: raised.append(
                    g.raise_concern(kind=kind, text=text, actor=actor_of(by), occurred_on=on)
                ),
            ),
        )
        return lambda: raised[0]

    def _plan_customer_success(self) -> None:
        team = self.customer_success
        d = self.day
        self.at(0, 0, lambda: self._form(team))
        self.at(
            0,
            2,
            lambda: self._goal(
                "renewals",
                team,
                title="Renewals",
                metric="gross renewal rate",
                target=90,
                unit="%",
                due=d(12, 4),
                why="Grow recurring revenue",
                actor=OWNER,
                on=d(0, 2),
            ),
        )
        # The owners move the target every five to eight weeks.
        moves = [
            (5, 1, 95, "A competitor renewed at 94%; we should beat that"),
            (13, 1, 85, "Q1 missed; lowering it to something the board will accept"),
            (19, 0, 97, "The new investor deck promises near-total retention"),
            (26, 2, 92, "Board meeting: split the difference"),
            (33, 1, 105, "Net retention is what investors ask about now"),
            (39, 3, 110, "Upsell push for the second half"),
            (47, 0, 98, "Two accounts churned; be realistic"),
            (53, 2, 112, "The board wants a growth story"),
            (59, 1, 102, "Mid-year reset"),
        ]
        for week, weekday, target, why in moves:
            self._retarget(team, "renewals", week, weekday, target, why, shock=0.45)
        self.at(
            33,
            1,
            lambda: self._change(
                "renewals",
                lambda g: g.redefine(
                    title="Revenue retention",
                    metric="net revenue retention",
                    reason="Owners now count upsell too",
                    actor=OWNER,
                    occurred_on=d(33, 1),
                ),
            ),
        )
        self._move_due("renewals", 13, 1, d(25, 4), "New quarter")
        self._move_due("renewals", 26, 2, d(38, 4), "Aligned with the board calendar")
        self._move_due("renewals", 39, 3, d(43, 4), "The board wants Q3 numbers this month")
        self._move_due("renewals", 47, 0, d(64, 4), "Next half-year")
        unattainable = [
            (
                5,
                2,
                "95% in one quarter with seven account managers is not attainable; "
                "our best year was 86%",
            ),
            (19, 1, "97% needs every customer to renew; three have told us they are leaving"),
            (33, 3, "We cannot grow net retention to 105% without an upsell product"),
            (53, 3, "112% is not attainable with six people and no new product"),
        ]
        for week, weekday, text in unattainable:
            self._concern("renewals", week, weekday, ConcernKind.UNATTAINABLE, text, team.manager)
        self._concern(
            "renewals",
            40,
            1,
            ConcernKind.UNCLEAR,
            "Which number counts, gross or net? We have been told both this month",
            team.person("Sandra"),
        )
        gross = [82, 81, 83, 80, 79, 81, 80, 78]
        for index, value in enumerate(gross):
            self._progress("renewals", 4 + 4 * index, value, "Dana", None)
        for index, value in enumerate([97, 95, 96, 94, 93, 95, 94]):
            self._progress("renewals", 36 + 4 * index, value, "Dana", None)
        self._progress("renewals", 43, 94, "Dana", "Q3 closed below target")

        # A second goal churns alongside: three changes within ninety days.
        self.at(
            8,
            0,
            lambda: self._goal(
                "backlog",
                team,
                title="Support backlog",
                metric="open tickets",
                target=40,
                unit="tickets",
                due=d(20, 4),
                why="Customers complain about waiting",
                actor=CO_OWNER,
                on=d(8, 0),
            ),
        )
        self._retarget(team, "backlog", 15, 1, 25, "Saw a competitor's dashboard", shock=0.2)
        self._retarget(team, "backlog", 21, 3, 15, "Still too many complaints", shock=0.2)
        self.at(
            24,
            0,
            lambda: self._change(
                "backlog",
                lambda g: g.redefine(
                    title="First response time",
                    metric="hours to first response",
                    reason="Ticket counts are not what customers feel",
                    actor=CO_OWNER,
                    occurred_on=d(24, 0),
                ),
            ),
        )
        self.at(
            36,
            2,
            lambda: self._change(
                "backlog",
                lambda g: g.abandon(
                    reason="Support moved to the new help desk",
                    actor=CO_OWNER,
                    occurred_on=d(36, 2),
                ),
            ),
        )

        # A missed quarter, and someone pays for it.
        ben = team.person("Ben")
        for offset in range(9):
            day = add_working_days(d(42, 1), offset)
            self.scripted[("Ben", day)] = {
                "setbacks": [f"{ACCOUNTS[offset]} will not renew this quarter"],
                "progress": [],
                "wins": [],
                "blockers": [],
            }
        ben.away.add(d(DISMISSAL_WEEK))  # let go first thing on Monday

        def dismissal() -> None:
            self._leave(
                team,
                "Ben",
                DepartureReason.DISMISSED,
                "Missed the Q3 renewal target",
                OWNER,
                d(DISMISSAL_WEEK, 0),
            )
            team.shocks.append((d(DISMISSAL_WEEK, 0), 0.6))

        self.at(DISMISSAL_WEEK, 0, dismissal)
        self.at(
            52,
            4,
            lambda: self._leave(
                team,
                "Mei",
                DepartureReason.RESIGNED,
                "Took a job with steadier goals",
                "Dana",
                d(52, 4),
            ),
        )
        self._plan_recovery(team)

    def _plan_recovery(self, team: TeamInStory) -> None:
        d = self.day
        week = RECOVERY_WEEK
        kay = team.person("Kay")

        self.at(
            week - 1,
            4,
            lambda: self._leave(
                team,
                "Dana",
                DepartureReason.TRANSFERRED,
                "Moved to partnerships",
                OWNER,
                d(week - 1, 4),
            ),
        )

        def new_manager() -> None:
            self._join(team, kay, d(week, 0), OWNER)
            # Keel has no command for this yet: the domain's own, saved as one.
            aggregate = self.keel.team(self._id(team))
            aggregate.assign_manager(manager=kay.name, actor=OWNER, occurred_on=d(week, 0))
            self.keel.save(aggregate)
            team.manager = kay
            # Hired when Mei left; starts with the new manager.
            self._join(team, team.person("Rosa"), d(week, 0), OWNER)
            self._change(
                "renewals",
                lambda g: g.abandon(
                    reason="Replaced by goals the team agreed with the owners",
                    actor=OWNER,
                    occurred_on=d(week, 0),
                ),
            )

        self.at(week, 0, new_manager)

        def clear_backlog() -> None:
            for blocker_id in list(team.open_blockers):
                self._clear(team, blocker_id, d(week, 1), "Went through the backlog together")

        self.at(week, 1, clear_backlog)
        self.at(
            week,
            3,
            lambda: self.keel.tune_alert_rule(
                self._id(team),
                rule="blocker_aging",
                parameters={"working_days": 3},
                actor="Kay",
                occurred_on=d(week, 3),
            ),
        )
        success = {
            "Sandra": "Finishing one hard thing a day, and knowing it counted",
            "Luis": "Customers who call me before they get angry",
            "Priya": "Leading the business reviews for my top accounts",
            "Tomasz": "A week without a fire drill",
            "Aisha": "Learning the product well enough to train others",
        }
        for index, (name, text) in enumerate(success.items()):
            self.at(week + 1, index, self._success(team, name, text, d(week + 1, index)))

        self.at(
            week + 1,
            0,
            lambda: self._goal(
                "reviews",
                team,
                title="Business reviews",
                metric="business reviews held",
                target=30,
                unit="reviews",
                due=d(week + 13, 4),
                why="The team proposed it: customers who get a review renew",
                actor="Kay",
                on=d(week + 1, 0),
            ),
        )
        for index, value in enumerate([6, 13, 19, 26]):
            self._progress("reviews", week + 3 + 2 * index, value, "Kay", None)
        self.at(
            week + 12,
            3,
            lambda: self._change(
                "reviews",
                lambda g: g.achieve(
                    reason="31 reviews held: every top-50 account had one",
                    actor="Kay",
                    occurred_on=d(week + 12, 3),
                ),
            ),
        )
        self.at(
            week + 1,
            1,
            lambda: self._goal(
                "renewal rate",
                team,
                title="Renewal rate",
                metric="gross renewal rate",
                target=86,
                unit="%",
                due=self.today + timedelta(days=90),
                why="Agreed with the team: our best year was 86%",
                actor=OWNER,
                on=d(week + 1, 1),
            ),
        )
        for index, value in enumerate([82, 83, 84, 85, 86, 87, 87, 88, 88]):
            self._progress("renewal rate", week + 4 + 4 * index, value, "Kay", None)
        self._retarget(
            team,
            "renewal rate",
            week + 19,
            2,
            88,
            "The team beat 86% two quarters running and proposed 88%",
        )
        concern = self._concern(
            "renewal rate",
            week + 2,
            1,
            ConcernKind.UNDER_RESOURCED,
            "Renewal prep and business reviews in the same quarter is a lot for seven people",
            team.person("Luis"),
        )
        self.at(
            week + 2,
            3,
            lambda: self.keel.answer_concern(
                self.goals["renewal rate"],
                concern(),
                text="Agreed: reviews come first, renewal prep starts next month",
                actor=kay.name,
                occurred_on=d(week + 2, 3),
            ),
        )

        # Kay gives Sandra one hard task for the afternoon; she does it in two hours.
        sandra_day = d(week + 2, 2)
        self.scripted[("Sandra", sandra_day)] = {
            "progress": ["Finished the Halvorsen renewal checklist"],
            "setbacks": [],
            "wins": ["Did the Halvorsen checklist in two hours, after months of putting it off"],
            "blockers": [],
        }

        def thank_sandra() -> None:
            win_id = self.scripted_wins[("Sandra", sandra_day)][0]
            self._recognition(
                team,
                kay,
                team.person("Sandra"),
                win_id,
                sandra_day,
                "You did in two hours what has been stuck for months. Thank you.",
            )()

        self._later(sandra_day, thank_sandra)

    def _success(self, team: TeamInStory, name: str, text: str, on: date) -> Beat:
        def define() -> None:
            person = team.person(name)
            self.keel.define_success(person.id, text=text, actor=str(person.id), occurred_on=on)

        return define

    def _plan_onboarding(self) -> None:
        team = self.onboarding
        d = self.day
        self.at(0, 0, lambda: self._form(team))
        self.at(
            0,
            1,
            lambda: self.keel.set_min_group(
                self._id(team), min_group=6, actor="Noor", occurred_on=d(0, 1)
            ),
        )
        goals = [
            ("ttv", "Time to first value", "median days to first value", 14, "days", 1, 27),
            ("activation", "Activation", "accounts active within 30 days", 60, "%", 28, 52),
            ("self-serve", "Self-serve setup", "accounts set up without a call", 40, "%", 53, 79),
        ]
        for key, title, metric, target, unit, set_week, done_week in goals:
            self._steady_goal(key, title, metric, target, unit, set_week, done_week)
        self._move_due("ttv", 20, 1, d(29, 4), "Holiday freeze; the team asked for two more weeks")
        self._retarget(team, "self-serve", 66, 1, 45, "Ahead of plan; the team raised it")
        self.at(
            80,
            0,
            lambda: self._goal(
                "nps",
                team,
                title="Onboarding satisfaction",
                metric="onboarding NPS",
                target=50,
                unit="points",
                due=self.today + timedelta(days=120),
                why="Proposed by the team at the planning day",
                actor="Noor",
                on=d(80, 0),
            ),
        )
        for index, value in enumerate([31, 36, 40, 42, 45, 47]):
            self._progress("nps", 84 + 3 * index, value, "Noor", None)
        # A vendor's fix nobody on the team can speed up: open for over a week.
        stuck = add_working_days(self.today - timedelta(days=14), 1)
        self.scripted[("Marek", stuck)] = {
            "progress": ["Chased the vendor about the SSO fix"],
            "setbacks": [],
            "wins": [],
            "blockers": ["Waiting on the identity vendor's SSO fix"],
        }

    def _steady_goal(
        self,
        key: str,
        title: str,
        metric: str,
        target: float,
        unit: str,
        set_week: int,
        done_week: int,
    ) -> None:
        team, d = self.onboarding, self.day
        self.at(
            set_week,
            0,
            lambda: self._goal(
                key,
                team,
                title=title,
                metric=metric,
                target=target,
                unit=unit,
                due=d(done_week, 4),
                why="Proposed by the team at the planning day",
                actor="Noor",
                on=d(set_week, 0),
            ),
        )
        self.at(
            done_week,
            2,
            lambda: self._change(
                key,
                lambda g: g.achieve(reason="Reached", actor="Noor", occurred_on=d(done_week, 2)),
            ),
        )


def demo_teams(keel: Keel) -> dict[str, UUID]:
    """The teams a previous run of the demo formed, by name (empty if none)."""
    topic = get_topic(Team.TeamFormed)
    found: dict[str, UUID] = {}
    start = 1
    while True:
        page = keel.recorder.select_notifications(start, 1000, topics=[topic])
        for notification in page:
            event = keel.mapper.to_domain_event(notification)
            if isinstance(event, Team.TeamFormed) and event.actor == DEMO_ACTOR:
                found.setdefault(event.name, event.originator_id)
        if len(page) < 1000:
            return found
        start = page[-1].id + 1


class DemoAlreadyLoaded(Exception):
    def __init__(self, teams: dict[str, UUID]) -> None:
        super().__init__(f"the demo is already loaded: {', '.join(sorted(teams))}")
        self.teams = teams


def load_demo(
    keel: Keel,
    *,
    today: date,
    seed: int = SEED,
    force: bool = False,
    on_day: Callable[[int, int], None] | None = None,
) -> DemoLoaded:
    """Load the story, ending on `today`; `on_day(done, total)` follows its days. A
    store that already holds it is left alone, unless `force` asks for another copy."""
    if not force:
        already = demo_teams(keel)
        if already:
            raise DemoAlreadyLoaded(already)
    head = keel.head()
    story = Story(keel, today, seed)
    teams = story.run(on_day)
    return DemoLoaded(teams, story.start, today, keel.head() - head)
