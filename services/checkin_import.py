"""Check-ins from a spreadsheet: one CSV row per member per day, with the columns
`day, member, mood, progress, setbacks, wins, blockers` (lists separated by `;`).

`member` is a member id, or, with a team given, the name of one current or past member
of that team. Every row is checked before anything is written; the rows are then
recorded one by one through the Keel application, so every domain rule applies. A row
whose member already checked in that day with the same content is skipped, so a second
run of the same file adds nothing (and an interrupted run can simply be run again).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO
from uuid import UUID

from domain.errors import DomainError, InvalidCommand
from domain.journal import CheckIn, Entry, Journal
from domain.team import Member, Team
from services.errors import NotFound, VersionMismatch
from services.keel import Keel
from services.transfer import ImportRefused, LineError, Progress

COLUMNS = ("day", "member", "mood", "progress", "setbacks", "wins", "blockers")


@dataclass(frozen=True)
class CheckInImportResult:
    rows: int
    added: int
    skipped: int  # already recorded with the same content
    head: int


@dataclass(frozen=True)
class _Row:
    line: int
    team_id: UUID
    member_id: UUID
    report: CheckIn


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _same(entry: Entry, report: CheckIn) -> bool:
    return (
        entry.mood == report.mood
        and entry.progress == report.progress
        and entry.setbacks == report.setbacks
        and [w["text"] for w in entry.wins] == report.wins
        and [b["text"] for b in entry.blockers] == report.blockers
    )


class _Checker:
    """Checks rows against the store, loading each team and journal once."""

    def __init__(self, keel: Keel, team_id: UUID | None) -> None:
        self.keel = keel
        self.team_id = team_id
        self.teams: dict[UUID, Team] = {}
        self.journals: dict[UUID, Journal] = {}
        self.seen: dict[tuple[UUID, date], int] = {}  # (member, day) -> line

    def team(self, team_id: UUID) -> Team:
        if team_id not in self.teams:
            self.teams[team_id] = self.keel.team(team_id)
        return self.teams[team_id]

    def journal(self, member_id: UUID) -> Journal:
        if member_id not in self.journals:
            self.journals[member_id] = self.keel.journal(member_id)
        return self.journals[member_id]

    def member(self, cell: str) -> tuple[Team, Member]:
        try:
            member_id = UUID(cell)
        except ValueError:
            return self._named(cell)
        try:
            team = self.team(self.journal(member_id).team_id)
        except NotFound:
            raise InvalidCommand("member", f"no member with id {member_id}") from None
        if self.team_id is not None and team.id != self.team_id:
            raise InvalidCommand("member", f"{member_id} is not a member of team {self.team_id}")
        return team, team.members[member_id]

    def _named(self, name: str) -> tuple[Team, Member]:
        if self.team_id is None:
            raise InvalidCommand(
                "member", f"{name!r} is not a member id; name the team to use names"
            )
        team = self.team(self.team_id)
        wanted = name.strip().casefold()
        # An erased member's name reads "[erased]": it names nobody.
        found = [m for m in team.members.values() if not m.erased and m.name.casefold() == wanted]
        if not found:
            raise InvalidCommand("member", f"no member named {name!r} on team {team.id}")
        if len(found) > 1:
            raise InvalidCommand(
                "member", f"{len(found)} members of team {team.id} are named {name!r}: use their id"
            )
        return team, found[0]

    def row(self, line: int, cells: dict[str, str]) -> _Row | None:
        """The row to record, None if it already is; InvalidCommand if it is wrong."""
        try:
            day = date.fromisoformat(cells["day"].strip())
        except ValueError:
            raise InvalidCommand("day", f"{cells['day']!r} is not a date (YYYY-MM-DD)") from None
        try:
            mood = int(cells["mood"].strip())
        except ValueError:
            raise InvalidCommand("mood", f"{cells['mood']!r} is not a whole number") from None
        report = CheckIn(
            day,
            mood,
            progress=_split(cells["progress"]),
            setbacks=_split(cells["setbacks"]),
            wins=_split(cells["wins"]),
            blockers=_split(cells["blockers"]),
        )
        report.check()
        team, member = self.member(cells["member"].strip())
        if not member.was_on_team(day):
            raise InvalidCommand("day", f"member {member.id} was not on the team on {day}")
        earlier = self.seen.setdefault((member.id, day), line)
        if earlier != line:
            raise InvalidCommand(
                "day", f"line {earlier} is already {member.id}'s check-in on {day}"
            )
        entry = self.journal(member.id).entries.get(day)
        if entry is None:
            return _Row(line, team.id, member.id, report)
        if _same(entry, report):
            return None
        raise InvalidCommand(
            "day",
            f"{member.id} already checked in on {day} with other content; "
            "send a correction instead",
        )


def read_rows(text: IO[str]) -> Iterator[tuple[int, dict[str, str] | LineError]]:
    reader = csv.DictReader(text)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        reasons = [f"missing columns: {', '.join(missing)}"] if missing else []
        reasons += [f"unknown columns: {', '.join(unknown)}"] if unknown else []
        yield 1, LineError(1, f"{'; '.join(reasons)} (expected {', '.join(COLUMNS)})")
        return
    reader.fieldnames = header
    for cells in reader:
        if None in cells or any(cells[c] is None for c in COLUMNS):
            yield reader.line_num, LineError(reader.line_num, f"expected {len(COLUMNS)} cells")
        elif any(value.strip() for value in cells.values()):
            yield reader.line_num, cells


Rows = Iterator[tuple[int, dict[str, str] | LineError]]


def import_checkins(
    keel: Keel,
    rows: Rows,
    *,
    team_id: UUID | None = None,
    actor: str,
    progress: Progress | None = None,
) -> CheckInImportResult:
    """Check every row, then record the new ones. Raises ImportRefused naming each bad
    row by its line; when a write is refused (someone checked in meanwhile), the rows
    before it are kept, and running the file again skips them."""
    if team_id is not None:
        keel.team(team_id)  # NotFound for an unknown team
    checker = _Checker(keel, team_id)
    errors: list[LineError] = []
    new: list[_Row] = []
    count = 0
    for line, cells in rows:
        count += 1
        if isinstance(cells, LineError):
            errors.append(cells)
            continue
        try:
            row = checker.row(line, cells)
        except InvalidCommand as error:
            errors.append(LineError(line, f"{error.field}: {error.message}"))
        else:
            if row is not None:
                new.append(row)
        if progress is not None:
            progress("validated", 1)
    if errors:
        raise ImportRefused(errors)
    if progress is not None:
        progress("writing", len(new))
    for done, row in enumerate(new):
        try:
            keel.check_in(row.team_id, row.member_id, row.report, actor=actor)
        except (DomainError, VersionMismatch) as error:
            raise ImportRefused(
                [LineError(row.line, f"{error} ({done} rows before it were recorded)")]
            ) from None
        if progress is not None:
            progress("written", 1)
    return CheckInImportResult(count, len(new), count - len(new), keel.head())
