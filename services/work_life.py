"""Read side of the inner-work-life views: SQL over the work_life store, shaped by the
pure reports in projections/. Every query reads one team's rows through an index, so
its cost follows the team's history, not the size of the whole log."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from projections.blockers import BlockerRow, ClearedBlocker, OpenBlocker, blocker_report
from projections.ledger import DayCounts, LedgerLine, ledger_by_member, ledger_line
from projections.morale import Granularity, Mood, MoralePoint, team_morale
from projections.participation import (
    Membership,
    Silence,
    Week,
    silent_members,
    weekly_participation,
)
from projections.recognition import Given, RecognitionReport, Win, recognition_report
from services.views import ViewStore

_TEAM_CHECKINS = (
    "FROM journals j JOIN checkins c ON c.journal_id = j.journal_id WHERE j.team_id = ?"
)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def min_group(store: ViewStore, team_id: UUID, default: int) -> int:
    rows = store.select("SELECT min_group FROM wl_teams WHERE team_id = ?", (str(team_id),))
    chosen = rows[0]["min_group"] if rows else None
    return int(chosen) if chosen is not None else default


def morale(
    store: ViewStore,
    team_id: UUID,
    *,
    granularity: Granularity,
    group: int,
    since: date | None,
    until: date | None,
) -> list[MoralePoint]:
    rows = store.select(f"SELECT j.member_id, c.day, c.mood {_TEAM_CHECKINS}", (str(team_id),))
    moods = [Mood(r["member_id"], date.fromisoformat(r["day"]), r["mood"]) for r in rows]
    # Suppression is decided over the whole history, then the window is cut.
    points = team_morale(moods, granularity, group)
    return [
        p
        for p in points
        if (since is None or p.period_start >= since) and (until is None or p.period_start <= until)
    ]


def progress(
    store: ViewStore,
    team_id: UUID,
    *,
    setback_weight: float,
    since: date | None,
    until: date | None,
) -> tuple[LedgerLine, dict[str, LedgerLine]]:
    sql = f"SELECT j.member_id, c.day, c.progress, c.setbacks, c.wins {_TEAM_CHECKINS}"
    days = [
        DayCounts(r["member_id"], r["progress"], r["setbacks"], r["wins"])
        for r in store.select(sql, (str(team_id),))
        if (since is None or r["day"] >= since.isoformat())
        and (until is None or r["day"] <= until.isoformat())
    ]
    return ledger_line(days, setback_weight), ledger_by_member(days, setback_weight)


def _memberships(store: ViewStore, team_id: UUID) -> list[Membership]:
    rows = store.select(
        "SELECT member_id, joined_on, left_on FROM wl_members WHERE team_id = ? "
        "ORDER BY joined_on, member_id",
        (str(team_id),),
    )
    return [
        Membership(r["member_id"], date.fromisoformat(r["joined_on"]), _day(r["left_on"]))
        for r in rows
    ]


def recognition(store: ViewStore, team_id: UUID, *, today: date) -> RecognitionReport:
    current = [
        m.member_id for m in _memberships(store, team_id) if m.left_on is None or m.left_on >= today
    ]
    given = [
        Given(r["to_member_id"], r["win_id"], date.fromisoformat(r["day"]), bool(r["from_manager"]))
        for r in store.select(
            "SELECT to_member_id, win_id, day, from_manager FROM recognitions WHERE team_id = ?",
            (str(team_id),),
        )
    ]
    wins = [
        Win(r["win_id"], r["member_id"], date.fromisoformat(r["day"]))
        for r in store.select(
            "SELECT w.win_id, j.member_id, w.day FROM journals j "
            "JOIN wins w ON w.journal_id = j.journal_id WHERE j.team_id = ?",
            (str(team_id),),
        )
    ]
    return recognition_report(current, given, wins, today=today)


def participation(
    store: ViewStore, team_id: UUID, *, since: date | None, until: date, today: date
) -> tuple[list[Week], list[Silence]]:
    memberships = _memberships(store, team_id)
    check_ins = [
        (r["member_id"], date.fromisoformat(r["day"]))
        for r in store.select(f"SELECT j.member_id, c.day {_TEAM_CHECKINS}", (str(team_id),))
    ]
    last: dict[str, date] = {}
    for member_id, day in check_ins:
        if day > last.get(member_id, date.min):
            last[member_id] = day
    start = since or min((m.joined_on for m in memberships), default=today)
    weeks = weekly_participation(memberships, check_ins, since=start, until=until)
    return weeks, silent_members(memberships, last, today=today)


def blockers(
    store: ViewStore, team_id: UUID, *, today: date
) -> tuple[list[OpenBlocker], list[ClearedBlocker]]:
    rows = store.select(
        "SELECT b.blocker_id, j.member_id, b.day, cl.cleared_on, cl.cleared_by "
        "FROM journals j JOIN blockers b ON b.journal_id = j.journal_id "
        "LEFT JOIN clearances cl ON cl.blocker_id = b.blocker_id WHERE j.team_id = ?",
        (str(team_id),),
    )
    return blocker_report(
        (
            BlockerRow(
                r["blocker_id"],
                r["member_id"],
                date.fromisoformat(r["day"]),
                _day(r["cleared_on"]),
                r["cleared_by"],
            )
            for r in rows
        ),
        today=today,
    )


def member_of_blocker(store: ViewStore, blocker_id: UUID) -> UUID | None:
    rows = store.select(
        "SELECT j.member_id FROM blockers b JOIN journals j ON j.journal_id = b.journal_id "
        "WHERE b.blocker_id = ?",
        (str(blocker_id),),
    )
    return UUID(rows[0]["member_id"]) if rows else None
