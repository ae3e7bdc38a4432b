"""Inner work life: check-ins, wins, blockers and recognitions, as rows for the
morale, progress, recognition, participation and blocker views.

Only numbers, ids and dates reach these tables: what people wrote stays in their
journal, where access rules apply. One store holds all the tables, so a query can join
a team's members with their check-ins, and one transaction per page keeps them in step.
The fold keeps no state between events.
"""

from __future__ import annotations

from functools import singledispatchmethod

from domain.journal import Journal
from domain.recognition import Recognition
from domain.team import Team
from projections.rows import Delete, Patch, Put, RowOp, Table, day_text, id_text

TEAM_SETTINGS = Table(
    "wl_teams", ("team_id", "min_group"), key=("team_id",), types={"min_group": "INTEGER"}
)
MEMBERS = Table(
    "wl_members",
    ("member_id", "team_id", "joined_on", "left_on"),
    key=("member_id",),
    indexes=(("team_id",),),
)
JOURNALS = Table(
    "journals",
    ("journal_id", "member_id", "team_id"),
    key=("journal_id",),
    indexes=(("team_id",),),
)
COUNTS = ("mood", "progress", "setbacks", "wins", "blockers")
CHECKINS = Table(
    "checkins",
    ("journal_id", "day", *COUNTS),
    key=("journal_id", "day"),
    types=dict.fromkeys(COUNTS, "INTEGER"),
)
WINS = Table("wins", ("win_id", "journal_id", "day"), key=("win_id",), indexes=(("journal_id",),))
BLOCKERS = Table(
    "blockers", ("blocker_id", "journal_id", "day"), key=("blocker_id",), indexes=(("journal_id",),)
)
# Apart from BLOCKERS, so that a correction which keeps a blocker never reopens it.
CLEARANCES = Table("clearances", ("blocker_id", "cleared_on", "cleared_by"), key=("blocker_id",))
RECOGNITIONS = Table(
    "recognitions",
    (
        "recognition_id",
        "team_id",
        "from_member_id",
        "to_member_id",
        "win_id",
        "day",
        "from_manager",
    ),
    key=("recognition_id",),
    indexes=(("team_id", "day"), ("win_id",)),
    types={"from_manager": "INTEGER"},
)


def _entry(event: Journal.EntryRecorded) -> list[RowOp]:
    """The rows of one day's entry; a correction's rows replace the original's."""
    journal_id, day = id_text(event.originator_id), day_text(event.occurred_on)
    wins, blockers = event.wins, event.blockers
    row = {
        "journal_id": journal_id,
        "day": day,
        "mood": event.mood,
        "progress": len(event.progress),
        "setbacks": len(event.setbacks),
        "wins": len(wins),
        "blockers": len(blockers),
    }
    ops: list[RowOp] = [Put(CHECKINS, row)]
    for win in wins:
        ops.append(Put(WINS, {"win_id": win["id"], "journal_id": journal_id, "day": day}))
    for blocker in blockers:
        row = {"blocker_id": blocker["id"], "journal_id": journal_id, "day": day}
        ops.append(Put(BLOCKERS, row))
    return ops


class WorkLife:
    name = "work_life"
    tables: tuple[Table, ...] = (
        TEAM_SETTINGS,
        MEMBERS,
        JOURNALS,
        CHECKINS,
        WINS,
        BLOCKERS,
        CLEARANCES,
        RECOGNITIONS,
    )

    @singledispatchmethod
    def fold(self, event: object, position: int) -> list[RowOp]:
        return []

    @fold.register
    def _(self, event: Team.TeamFormed, position: int) -> list[RowOp]:
        return [Put(TEAM_SETTINGS, {"team_id": str(event.originator_id), "min_group": None})]

    @fold.register
    def _(self, event: Team.MinimumGroupSet, position: int) -> list[RowOp]:
        return [Patch(TEAM_SETTINGS, (str(event.originator_id),), {"min_group": event.min_group})]

    @fold.register
    def _(self, event: Team.MemberJoined, position: int) -> list[RowOp]:
        row = {
            "member_id": str(event.member_id),
            "team_id": str(event.originator_id),
            "joined_on": event.occurred_on.isoformat(),
            "left_on": None,
        }
        return [Put(MEMBERS, row)]

    @fold.register
    def _(self, event: Team.MemberLeft, position: int) -> list[RowOp]:
        left_on = event.occurred_on.isoformat()
        return [Patch(MEMBERS, (str(event.member_id),), {"left_on": left_on})]

    @fold.register
    def _(self, event: Journal.JournalOpened, position: int) -> list[RowOp]:
        row = {
            "journal_id": str(event.originator_id),
            "member_id": str(event.member_id),
            "team_id": str(event.team_id),
        }
        return [Put(JOURNALS, row)]

    @fold.register
    def _(self, event: Journal.CheckedIn, position: int) -> list[RowOp]:
        return _entry(event)

    @fold.register
    def _(self, event: Journal.CheckInCorrected, position: int) -> list[RowOp]:
        withdrawn: list[RowOp] = [Delete(WINS, (win_id,)) for win_id in event.withdrawn_win_ids]
        for blocker_id in event.withdrawn_blocker_ids:
            withdrawn += [Delete(BLOCKERS, (blocker_id,)), Delete(CLEARANCES, (blocker_id,))]
        return withdrawn + _entry(event)

    @fold.register
    def _(self, event: Journal.BlockerCleared, position: int) -> list[RowOp]:
        row = {
            "blocker_id": str(event.blocker_id),
            "cleared_on": day_text(event.occurred_on),
            "cleared_by": event.actor,
        }
        return [Put(CLEARANCES, row)]

    @fold.register
    def _(self, event: Recognition.RecognitionGiven, position: int) -> list[RowOp]:
        row = {
            "recognition_id": str(event.originator_id),
            "team_id": id_text(event.team_id),
            "from_member_id": id_text(event.from_member_id),
            "to_member_id": id_text(event.to_member_id),
            "win_id": str(event.win_id) if event.win_id is not None else None,
            "day": day_text(event.occurred_on),
            "from_manager": int(event.from_manager),
        }
        return [Put(RECOGNITIONS, row)]
