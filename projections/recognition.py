"""Recognition: who was recognised and when, which wins nobody noticed, and whether
recognition comes from peers or from the manager (Gallup: at least every 7 days)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

RECENT_DAYS = 30
UNRECOGNISED_AFTER_DAYS = 7


@dataclass(frozen=True)
class Given:
    to_member_id: str
    win_id: str | None
    day: date
    from_manager: bool


@dataclass(frozen=True)
class Win:
    win_id: str
    member_id: str
    day: date


@dataclass(frozen=True)
class MemberRecognition:
    member_id: str
    last_recognised_on: date | None
    recognitions_30d: int


@dataclass(frozen=True)
class RecognitionReport:
    members: list[MemberRecognition]
    unrecognised_wins: list[Win]
    peer_30d: int
    manager_30d: int


def recognition_report(
    member_ids: Sequence[str],
    given: Iterable[Given],
    wins: Iterable[Win],
    *,
    today: date,
) -> RecognitionReport:
    """`member_ids` are the team's current members; only their wins are listed."""
    recent_since = today - timedelta(days=RECENT_DAYS - 1)
    last: dict[str, date] = {}
    recent: dict[str, int] = dict.fromkeys(member_ids, 0)
    recognised_wins: set[str] = set()
    peer = manager = 0
    for g in given:
        if g.day > last.get(g.to_member_id, date.min):
            last[g.to_member_id] = g.day
        if g.win_id is not None:
            recognised_wins.add(g.win_id)
        if recent_since <= g.day <= today:
            recent[g.to_member_id] = recent.get(g.to_member_id, 0) + 1
            manager += g.from_manager
            peer += not g.from_manager
    current = set(member_ids)
    overdue = today - timedelta(days=UNRECOGNISED_AFTER_DAYS)
    unrecognised = sorted(
        (
            w
            for w in wins
            if w.member_id in current and w.day <= overdue and w.win_id not in recognised_wins
        ),
        key=lambda w: (w.day, w.win_id),
    )
    return RecognitionReport(
        members=[MemberRecognition(m, last.get(m), recent[m]) for m in member_ids],
        unrecognised_wins=unrecognised,
        peer_30d=peer,
        manager_30d=manager,
    )
