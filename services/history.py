"""Read side of the team history: a team or a goal as of a date or an instant, and the
team's timeline. Every query reads one team's rows through the index by stream, so its
cost follows the team's own history, not the size of the log.

The as-of state starts from the largest snapshot that the wanted rows contain, and folds
the rest (see projections/team_state.py for why any such snapshot will do). A snapshot
covers {position <= P, business date <= D} of one team (D is far in the future for the
recorded basis). Events are never changed, so a snapshot never goes stale: it is written
lazily, after a query that had to fold many rows, and a rebuild empties the table with
the rest of the view.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from uuid import UUID

from domain.errors import InvalidCommand
from projections.team_state import FOLD_VERSION, TeamState
from projections.timeline import SNAPSHOTS, IndexRow
from services.keel import Keel
from services.views import ViewStore

APPLICATION = Keel.name
Basis = Literal["occurred", "recorded"]

# A query that folds this many rows or more leaves a snapshot for the next one.
SNAPSHOT_ROWS = 1000
# Snapshots kept per team; the ones covering fewest rows go first.
KEEP_SNAPSHOTS = 48
# The business-date bound of a snapshot of the recorded basis: every date.
EVERY_DATE = "9999-12-31"
# A date is in the future once it has begun nowhere on Earth (as in domain/calendar.py).
_EARLIEST_OFFSET = timedelta(hours=14)

_COLUMNS = "e.position, e.stream, e.occurred_on, e.recorded_at, e.kind, e.version, e.payload"
_TEAM_ROWS = (
    "FROM history_streams s JOIN history_events e ON e.stream = s.stream WHERE s.team_id = ?"
)


@dataclass(frozen=True)
class AsOf:
    """When to look: `day` is the business day (churn's today), `moment` the instant
    (the recorded basis keeps what was recorded by then)."""

    basis: Basis
    day: date
    moment: datetime

    @property
    def weeks_through(self) -> date:
        """The last day that is over: a week's mood is shown once all its days are."""
        if self.basis == "occurred" or self.moment >= datetime.combine(self.day, time.max, UTC):
            return self.day
        return self.day - timedelta(days=1)


def parse_as_of(raw: str, basis: Basis, now: datetime) -> AsOf:
    """`as_of` is a date (YYYY-MM-DD) or an ISO 8601 instant (UTC if it names no zone).
    On the recorded basis a date means the end of that day, or now if that is sooner."""
    raw = raw.strip()
    try:
        day = date.fromisoformat(raw)
        moment = min(datetime.combine(day, time.max, UTC), now)
        future = day > (now + _EARLIEST_OFFSET).date()
    except ValueError:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidCommand(
                "as_of", f"{raw!r} is neither a date (YYYY-MM-DD) nor an ISO 8601 date and time"
            ) from None
        moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        day = moment.date()
        future = moment > now
    if future:
        raise InvalidCommand("as_of", f"{raw} is in the future")
    # On the recorded basis the day is the instant's, which may be sooner than the date.
    return AsOf(basis, moment.date() if basis == "recorded" else day, moment)


# --- reading rows -----------------------------------------------------------------------


def _text(uuid: bytes) -> str:
    """An id as the rest of Keel writes it (the index keeps the 16 bytes)."""
    return str(UUID(bytes=bytes(uuid)))


def _rows(store: ViewStore, sql: str, params: Sequence[Any]) -> list[IndexRow]:
    return [IndexRow.from_row(row) for row in store.select(sql, params)]


def team_journals(store: ViewStore, team_id: UUID) -> dict[str, str]:
    """Journal id -> member id, for the team's members."""
    rows = store.select(
        "SELECT stream, member_id FROM history_streams WHERE team_id = ? AND member_id IS NOT NULL",
        (team_id.bytes,),
    )
    return {_text(r["stream"]): _text(r["member_id"]) for r in rows}


def _recorded_cut(store: ViewStore, team_id: UUID, moment: datetime, bound: int) -> int | None:
    """The position of the team's last event recorded by `moment`: the recorded basis
    is the log up to there."""
    rows = store.select(
        f"SELECT MAX(e.position) AS cut {_TEAM_ROWS} AND e.recorded_at <= ? AND e.position <= ?",
        (team_id.bytes, moment.timestamp(), bound),
    )
    cut = rows[0]["cut"] if rows else None
    return int(cut) if cut is not None else None


# --- snapshots --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    position: int
    through: str
    rows: int
    state: TeamState


def _snapshot(store: ViewStore, team_id: UUID, position: int, through: str) -> _Snapshot:
    """The snapshot covering the most rows among those inside {<= position, <= through}."""
    rows = store.select(
        "SELECT position, through, rows, state FROM history_snapshots "
        "WHERE team_id = ? AND fold = ? AND position <= ? AND through <= ? "
        "ORDER BY rows DESC LIMIT 1",
        (str(team_id), str(FOLD_VERSION), position, through),
    )
    if not rows:
        return _Snapshot(0, "0000-01-01", 0, TeamState())
    r = rows[0]
    state = TeamState.from_json(json.loads(r["state"]))
    return _Snapshot(int(r["position"]), r["through"], int(r["rows"]), state)


def _write(store: ViewStore, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Write outside the runner's transactions: snapshots are not rows of the fold."""
    with store._transaction(commit=True) as c:
        for sql, params in statements:
            c.execute(sql.replace("?", store.placeholder), tuple(params))


def _save_snapshot(store: ViewStore, team_id: UUID, snapshot: _Snapshot) -> None:
    team = str(team_id)
    columns = ", ".join(SNAPSHOTS.columns)
    state = json.dumps(snapshot.state.to_json(), separators=(",", ":"))
    _write(
        store,
        [
            (
                f"INSERT INTO history_snapshots ({columns}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (team_id, position, through, fold) DO NOTHING",
                (
                    team,
                    snapshot.position,
                    snapshot.through,
                    str(FOLD_VERSION),
                    snapshot.rows,
                    state,
                ),
            ),
            # A snapshot of the same dates at an earlier position covers less: drop it.
            (
                "DELETE FROM history_snapshots WHERE team_id = ? AND through = ? AND position < ?",
                (team, snapshot.through, snapshot.position),
            ),
            (
                "DELETE FROM history_snapshots WHERE team_id = ? AND (fold <> ? OR rows < "
                "(SELECT MIN(rows) FROM (SELECT rows FROM history_snapshots WHERE team_id = ? "
                "ORDER BY rows DESC LIMIT ?) AS kept))",
                (team, str(FOLD_VERSION), team, KEEP_SNAPSHOTS),
            ),
        ],
    )


# --- the as-of state --------------------------------------------------------------------


def team_state(store: ViewStore, team_id: UUID, as_of: AsOf) -> TeamState:
    """The team's state folded from the events `as_of` selects (empty if none)."""
    view = store.position(APPLICATION)
    through = as_of.day.isoformat()
    position: int | None = view
    if as_of.basis == "recorded":
        through = EVERY_DATE
        position = _recorded_cut(store, team_id, as_of.moment, view)
    if position is None:
        return TeamState()
    start = _snapshot(store, team_id, position, through)
    # One statement, so the rows and the view's position are read from one snapshot of
    # the store: if the view had reached `position`, the rows up to it are all there.
    found = store.select(
        f"SELECT {_COLUMNS}, (SELECT MAX(notification_id) FROM {store._tracking_table()} "
        f"WHERE application_name = ?) AS view_position {_TEAM_ROWS} "
        "AND e.position <= ? AND e.occurred_on <= ? AND (e.position > ? OR e.occurred_on > ?) "
        "ORDER BY e.position",
        (APPLICATION, team_id.bytes, position, through, start.position, start.through),
    )
    state = start.state.fold(IndexRow.from_row(row) for row in found)
    complete = bool(found) and (found[0]["view_position"] or 0) >= position
    if len(found) >= SNAPSHOT_ROWS and complete:
        _save_snapshot(store, team_id, _Snapshot(position, through, start.rows + len(found), state))
    return state


def goal_state(store: ViewStore, goal_id: UUID, as_of: AsOf) -> TeamState:
    """The goal's own events as `as_of` selects them, folded. A goal's stream is short:
    no snapshot is needed."""
    stream = goal_id.bytes
    if as_of.basis == "occurred":
        sql = "AND occurred_on <= ?"
        params: tuple[Any, ...] = (stream, as_of.day.isoformat())
    else:
        sql = (
            "AND position <= (SELECT MAX(position) FROM history_events "
            "WHERE stream = ? AND recorded_at <= ?)"
        )
        params = (stream, stream, as_of.moment.timestamp())
    rows = _rows(
        store,
        f"SELECT {_COLUMNS.replace('e.', '')} FROM history_events WHERE stream = ? {sql} "
        "ORDER BY position",
        params,
    )
    return TeamState().fold(rows)


# --- the timeline -----------------------------------------------------------------------


def timeline(
    store: ViewStore,
    team_id: UUID,
    *,
    kinds: Sequence[str],
    since: date | None,
    until: date | None,
    after: int,
    limit: int,
) -> list[IndexRow]:
    """The team's events of `kinds` after position `after`, in log order, whose business
    date is within [since, until]; at most `limit`."""
    if not kinds:
        return []
    sql = f"SELECT {_COLUMNS} {_TEAM_ROWS} AND e.position > ? AND e.kind IN "
    sql += f"({', '.join('?' for _ in kinds)})"
    params: list[Any] = [team_id.bytes, after, *kinds]
    if since is not None:
        sql += " AND e.occurred_on >= ?"
        params.append(since.isoformat())
    if until is not None:
        sql += " AND e.occurred_on <= ?"
        params.append(until.isoformat())
    return _rows(store, f"{sql} ORDER BY e.position LIMIT ?", [*params, limit])


def goal_titles(store: ViewStore, team_id: UUID) -> dict[str, list[tuple[int, str]]]:
    """Each goal's titles over time: [(position, title)], oldest first."""
    titles: dict[str, list[tuple[int, str]]] = {}
    for row in _rows(
        store,
        f"SELECT {_COLUMNS} {_TEAM_ROWS} AND e.kind IN ('goal_set', 'goal_redefined') "
        "ORDER BY e.position",
        (team_id.bytes,),
    ):
        title = row.payload["title"] if row.kind == "goal_set" else row.payload["new_title"]
        titles.setdefault(row.stream, []).append((row.position, title))
    return titles
