"""The Journal aggregate: one member's progress journal, in their own words.

A member checks in at most once per business day. A same-day correction does not
change the stored check-in: it appends a CheckInCorrected event that supersedes that
day's entry in every view. Wins and blockers whose text is unchanged keep their ids, so
a recognition of a win survives the correction; the ones dropped are listed as
withdrawn in the event.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.calendar import BusinessEvent, check_occurred_on, check_reason
from domain.errors import Conflict, InvalidCommand
from domain.team import ERASED

MOODS = range(1, 6)
_JOURNAL_NAMESPACE = uuid5(NAMESPACE_URL, "https://keel.invalid/journal")

# An item of a check-in as stored in events: {"id": "<uuid>", "text": "..."}.
Item = dict[str, str]


@dataclass(frozen=True)
class Entry:
    """One day's check-in, as it currently stands."""

    day: date
    mood: int
    progress: list[str]
    setbacks: list[str]
    wins: list[Item]
    blockers: list[Item]
    private_note: str | None


@dataclass(frozen=True)
class Blocker:
    id: UUID
    text: str
    day: date
    cleared_on: date | None = None
    cleared_by: str | None = None


@dataclass
class CheckIn:
    """What a member reports for one day; validated before it becomes an event."""

    day: date
    mood: int
    progress: list[str] = field(default_factory=list)
    setbacks: list[str] = field(default_factory=list)
    wins: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    private_note: str | None = None

    def check(self) -> None:
        if isinstance(self.mood, bool) or not isinstance(self.mood, int) or self.mood not in MOODS:
            raise InvalidCommand("mood", f"must be an integer from 1 to 5, not {self.mood}")
        check_occurred_on(self.day, field="day")
        for name in ("progress", "setbacks", "wins", "blockers"):
            for index, text in enumerate(getattr(self, name)):
                if not text.strip():
                    raise InvalidCommand(f"{name}.{index}", "must not be empty")


def _items(texts: list[str], previous: list[Item] | None = None) -> list[Item]:
    """Give each text an id, reusing the id of an identical text in `previous` (each
    previous id at most once, so repeated texts keep all their ids)."""
    unused: dict[str, list[str]] = {}
    for item in previous or []:
        unused.setdefault(item["text"], []).append(item["id"])
    items = []
    for text in (t.strip() for t in texts):
        ids = unused.get(text)
        items.append({"id": ids.pop(0) if ids else str(uuid4()), "text": text})
    return items


def _note(note: str | None) -> str | None:
    """A blank private note is no note."""
    return (note or "").strip() or None


def _entry(report: CheckIn, *, wins: list[Item], blockers: list[Item]) -> dict[str, Any]:
    """The fields a check-in and its correction share, cleaned; wins and blockers come
    with their ids, which a check-in makes and a correction partly reuses."""
    return {
        "mood": report.mood,
        "progress": [t.strip() for t in report.progress],
        "setbacks": [t.strip() for t in report.setbacks],
        "wins": wins,
        "blockers": blockers,
        "private_note": _note(report.private_note),
        "occurred_on": report.day,
    }


class Journal(Aggregate):
    class JournalOpened(Aggregate.Created):
        member_id: UUID
        team_id: UUID
        actor: str
        occurred_on: date

    class EntryRecorded(BusinessEvent):
        """What a day's entry holds; the day is the business date, `occurred_on`."""

        mood: int
        progress: list[str]
        setbacks: list[str]
        wins: list[Item]
        blockers: list[Item]
        private_note: str | None

    class CheckedIn(EntryRecorded):
        pass

    class CheckInCorrected(EntryRecorded):
        withdrawn_win_ids: list[str]
        withdrawn_blocker_ids: list[str]

    class BlockerCleared(BusinessEvent):
        blocker_id: UUID
        note: str | None

    class SuccessDefined(BusinessEvent):
        text: str

    class PersonalDataErased(BusinessEvent):
        """The member's key was deleted. Applying this also wipes the texts from any
        copy of the journal held in memory, in every process that loads it."""

    @staticmethod
    def create_id(member_id: UUID, **_: Any) -> UUID:
        """A member has one journal, so its id follows from the member's."""
        return uuid5(_JOURNAL_NAMESPACE, str(member_id))

    @classmethod
    def id_for(cls, member_id: UUID) -> UUID:
        return cls.create_id(member_id)

    @classmethod
    def open(cls, *, member_id: UUID, team_id: UUID, actor: str, occurred_on: date) -> Journal:
        journal: Journal = cls(
            member_id=member_id, team_id=team_id, actor=actor, occurred_on=occurred_on
        )
        return journal

    @event(JournalOpened)
    def __init__(self, *, member_id: UUID, team_id: UUID, actor: str, occurred_on: date) -> None:
        self.member_id = member_id
        self.team_id = team_id
        self.entries: dict[date, Entry] = {}
        self.blockers: dict[UUID, Blocker] = {}
        self.success: str | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Journal:
        """eventsourcing hands every command a deep copy of the cached journal, and a
        journal holds every day its member checked in. A journal never changes an Entry
        or a Blocker once it holds it, it replaces them, so copying its containers is
        as good as a deep copy, and costs microseconds instead of milliseconds."""
        copy = object.__new__(type(self))
        copy.__dict__.update(
            {
                name: type(value)(value) if type(value) in (dict, list) else value
                for name, value in self.__dict__.items()
            }
        )
        return copy

    # --- checking in ------------------------------------------------------------------

    def check_in(self, report: CheckIn, *, actor: str) -> Entry:
        report.check()
        if report.day in self.entries:
            raise Conflict(
                f"member {self.member_id} already checked in on {report.day}; "
                "send a correction instead"
            )
        self._checked_in(
            **_entry(report, wins=_items(report.wins), blockers=_items(report.blockers)),
            actor=actor,
        )
        return self.entries[report.day]

    @event(CheckedIn)
    def _checked_in(
        self,
        *,
        mood: int,
        progress: list[str],
        setbacks: list[str],
        wins: list[Item],
        blockers: list[Item],
        private_note: str | None,
        actor: str,
        occurred_on: date,
    ) -> None:
        self._enter(Entry(occurred_on, mood, progress, setbacks, wins, blockers, private_note))

    def correct(self, report: CheckIn, *, actor: str) -> Entry:
        report.check()
        previous = self.entries.get(report.day)
        if previous is None:
            raise Conflict(f"member {self.member_id} has no check-in on {report.day} to correct")
        wins = _items(report.wins, previous.wins)
        blockers = _items(report.blockers, previous.blockers)
        kept = {i["id"] for i in wins + blockers}
        self._corrected(
            **_entry(report, wins=wins, blockers=blockers),
            withdrawn_win_ids=[w["id"] for w in previous.wins if w["id"] not in kept],
            withdrawn_blocker_ids=[b["id"] for b in previous.blockers if b["id"] not in kept],
            actor=actor,
        )
        return self.entries[report.day]

    @event(CheckInCorrected)
    def _corrected(
        self,
        *,
        mood: int,
        progress: list[str],
        setbacks: list[str],
        wins: list[Item],
        blockers: list[Item],
        private_note: str | None,
        withdrawn_win_ids: list[str],
        withdrawn_blocker_ids: list[str],
        actor: str,
        occurred_on: date,
    ) -> None:
        for blocker_id in withdrawn_blocker_ids:
            self.blockers.pop(UUID(blocker_id), None)
        self._enter(Entry(occurred_on, mood, progress, setbacks, wins, blockers, private_note))

    def _enter(self, entry: Entry) -> None:
        self.entries[entry.day] = entry
        for item in entry.blockers:
            blocker_id = UUID(item["id"])
            if blocker_id not in self.blockers:
                self.blockers[blocker_id] = Blocker(blocker_id, item["text"], entry.day)

    # --- questions the service asks -------------------------------------------------

    def win_ids(self) -> set[UUID]:
        return {UUID(w["id"]) for entry in self.entries.values() for w in entry.wins}

    # --- blockers and success -------------------------------------------------------

    def clear_blocker(
        self, *, blocker_id: UUID, note: str | None, actor: str, occurred_on: date
    ) -> None:
        blocker = self.blockers.get(blocker_id)
        if blocker is None:
            raise LookupError(f"no blocker {blocker_id} in this journal")
        if blocker.cleared_on is not None:
            raise Conflict(f"blocker {blocker_id} was already cleared on {blocker.cleared_on}")
        check_occurred_on(occurred_on, not_before=blocker.day)
        self._blocker_cleared(
            blocker_id=blocker_id, note=note, actor=actor, occurred_on=occurred_on
        )

    @event(BlockerCleared)
    def _blocker_cleared(
        self, *, blocker_id: UUID, note: str | None, actor: str, occurred_on: date
    ) -> None:
        blocker = self.blockers[blocker_id]
        self.blockers[blocker_id] = replace(blocker, cleared_on=occurred_on, cleared_by=actor)

    def define_success(self, *, text: str, actor: str, occurred_on: date) -> None:
        check_occurred_on(occurred_on)
        text = check_reason(text, "text")
        if text == self.success:
            raise InvalidCommand("text", "this is already the member's definition of success")
        self._success_defined(text=text, actor=actor, occurred_on=occurred_on)

    @event(SuccessDefined)
    def _success_defined(self, *, text: str, actor: str, occurred_on: date) -> None:
        self.success = text

    def record_erasure(self, *, actor: str, occurred_on: date) -> None:
        self._personal_data_erased(actor=actor, occurred_on=occurred_on)

    @event(PersonalDataErased)
    def _personal_data_erased(self, *, actor: str, occurred_on: date) -> None:
        self.entries = {day: _erased(entry) for day, entry in self.entries.items()}
        self.blockers = {i: replace(b, text=ERASED) for i, b in self.blockers.items()}
        if self.success is not None:
            self.success = ERASED


def _erased(entry: Entry) -> Entry:
    return replace(
        entry,
        progress=[ERASED for _ in entry.progress],
        setbacks=[ERASED for _ in entry.setbacks],
        wins=[{**w, "text": ERASED} for w in entry.wins],
        blockers=[{**b, "text": ERASED} for b in entry.blockers],
        private_note=ERASED if entry.private_note is not None else None,
    )
