"""The team history index: one short row per event, findable by team and time.

It serves the as-of state (projections/team_state.py) and the timeline. Two tables:
- `history_streams` says which team each stream belongs to: the team itself, each of
  its goals and each member's journal. Goal and journal events do not name their team,
  and the fold keeps no state between events, so queries join through this table.
- `history_events` holds one row per event: its log position, its stream (recognitions
  are filed under their team), its business date, when it was recorded (epoch seconds),
  its kind, its aggregate version, and a compact JSON payload.

The payload holds only the fields the as-of fold and the timeline's sentences need, and
never a sealed personal field (see services/personal_data.py): no name, check-in text,
private note, departure note, success definition or recognition message. Concern texts
and progress notes are left out too: the timeline says that they exist, not what they say.

A check-in's row carries only its mood: it is the one row the log has many of, so it is
kept small, and the as-of morale needs the mood as it was known at each position.
`history_snapshots` belongs to the read side (services/history.py), which writes it; it
is listed here so that a rebuild empties it with the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from domain.goal import Goal
from domain.journal import Journal
from domain.recognition import Recognition
from domain.team import Team
from projections.rows import Put, RowOp, Table, day_text

# Ids in the streams and events tables are UUIDs as their 16 bytes: less than half the
# text's size, and much cheaper to make per event (this is the most written table of all).
_UUID = "BYTEA"
STREAMS = Table(
    "history_streams",
    ("stream", "team_id", "member_id"),
    key=("stream",),
    indexes=(("team_id",),),
    types=dict.fromkeys(("stream", "team_id", "member_id"), _UUID),
)
EVENTS = Table(
    "history_events",
    ("position", "stream", "occurred_on", "recorded_at", "kind", "version", "payload"),
    key=("position",),
    indexes=(("stream", "position"),),
    # On SQLite an INTEGER primary key is the rowid itself: appending a row then
    # writes one b-tree, and the (stream, position) index is rebuilt once after a rebuild.
    types={
        "position": "INTEGER",
        "stream": _UUID,
        "recorded_at": "DOUBLE PRECISION",
        "version": "INTEGER",
    },
)
SNAPSHOTS = Table(
    "history_snapshots",
    ("team_id", "position", "through", "fold", "rows", "state"),
    key=("team_id", "position", "through", "fold"),
    types={"position": "BIGINT", "rows": "INTEGER"},
)

# Kinds about one person (their journal, who recognised whom, their erasure): the
# timeline shows them to the team's manager only.
MANAGER_ONLY_KINDS = frozenset(
    {
        "checked_in",
        "check_in_corrected",
        "blocker_cleared",
        "success_defined",
        "recognition_given",
        "personal_data_erased",
    }
)
KINDS = frozenset(
    {
        "team_formed",
        "manager_assigned",
        "member_joined",
        "member_left",
        "min_group_set",
        "alert_rule_tuned",
        "goal_set",
        "target_changed",
        "due_date_changed",
        "goal_redefined",
        "progress_recorded",
        "concern_raised",
        "concern_answered",
        "goal_achieved",
        "goal_abandoned",
    }
    | MANAGER_ONLY_KINDS
)

_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One row of `history_events`, decoded."""

    position: int
    stream: str
    occurred_on: date
    recorded_at: datetime
    kind: str
    version: int
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> IndexRow:
        return cls(
            position=int(row["position"]),
            stream=str(UUID(bytes=bytes(row["stream"]))),
            occurred_on=date.fromisoformat(row["occurred_on"]),
            recorded_at=datetime.fromtimestamp(row["recorded_at"], UTC),
            kind=row["kind"],
            version=int(row["version"]),
            payload=json.loads(row["payload"]),
        )

    @property
    def originator_id(self) -> str:
        """The aggregate the event belongs to (a recognition is filed under its team)."""
        recognition: str | None = self.payload.get("recognition")
        return recognition or self.stream


def _row(event: Any, position: int, kind: str, payload: str, stream: bytes | None = None) -> Put:
    return Put(
        EVENTS,
        {
            "position": position,
            "stream": stream or event.originator_id.bytes,
            "occurred_on": day_text(event.occurred_on),
            "recorded_at": event.timestamp.timestamp(),
            "kind": kind,
            "version": event.originator_version,
            "payload": payload,
        },
    )


Step = Callable[[Any, int], list[RowOp]]


def _simple(kind: str, *fields: str) -> Step:
    """A step whose payload is the actor and the named fields, as they are."""

    def step(event: Any, position: int) -> list[RowOp]:
        payload = {"by": event.actor, **{f: getattr(event, f) for f in fields}}
        return [_row(event, position, kind, _encode(payload))]

    return step


def _team_formed(event: Team.TeamFormed, position: int) -> list[RowOp]:
    team = event.originator_id.bytes
    payload = {"by": event.actor, "name": event.name, "manager": event.manager}
    return [
        Put(STREAMS, {"stream": team, "team_id": team, "member_id": None}),
        _row(event, position, "team_formed", _encode(payload)),
    ]


def _member(kind: str, *fields: str) -> Step:
    """A team event about one member: their id, never their name (sealed)."""

    def step(event: Any, position: int) -> list[RowOp]:
        payload = {"by": event.actor, "member": str(event.member_id)}
        payload.update({f: getattr(event, f) for f in fields})
        return [_row(event, position, kind, _encode(payload))]

    return step


def _goal_set(event: Goal.GoalSet, position: int) -> list[RowOp]:
    payload = {
        "by": event.actor,
        "title": event.title,
        "metric": event.metric,
        "target": event.target,
        "unit": event.unit,
        "due": event.due.isoformat(),
        "why": event.why,
    }
    stream = {"stream": event.originator_id.bytes, "team_id": event.team_id.bytes}
    return [
        Put(STREAMS, {**stream, "member_id": None}),
        _row(event, position, "goal_set", _encode(payload)),
    ]


def _concern(kind: str, *fields: str) -> Step:
    """A concern's id and kind; its text is left out."""

    def step(event: Any, position: int) -> list[RowOp]:
        payload = {"by": event.actor, "concern": str(event.concern_id)}
        payload.update({f: getattr(event, f) for f in fields})
        return [_row(event, position, kind, _encode(payload))]

    return step


def _journal_opened(event: Journal.JournalOpened, position: int) -> list[RowOp]:
    # Only the stream: the member's joining is already on the team's stream.
    row = {
        "stream": event.originator_id.bytes,
        "team_id": event.team_id.bytes,
        "member_id": event.member_id.bytes,
    }
    return [Put(STREAMS, row)]


# The most frequent row of all, so its payload is made once per mood.
_MOOD_PAYLOADS = {mood: f'{{"mood":{mood}}}' for mood in range(1, 6)}


def _mood(kind: str) -> Step:
    def step(event: Any, position: int) -> list[RowOp]:
        payload = _MOOD_PAYLOADS.get(event.mood) or _encode({"mood": event.mood})
        return [_row(event, position, kind, payload)]

    return step


def _blocker_cleared(event: Journal.BlockerCleared, position: int) -> list[RowOp]:
    payload = {"by": event.actor, "blocker": str(event.blocker_id)}
    return [_row(event, position, "blocker_cleared", _encode(payload))]


def _success_defined(event: Journal.SuccessDefined, position: int) -> list[RowOp]:
    return [_row(event, position, "success_defined", _encode({"by": event.actor}))]


def _recognition_given(event: Recognition.RecognitionGiven, position: int) -> list[RowOp]:
    payload = {
        "by": event.actor,
        "recognition": str(event.originator_id),
        "from": str(event.from_member_id),
        "to": str(event.to_member_id),
        "win": str(event.win_id) if event.win_id is not None else None,
        "from_manager": event.from_manager,
    }
    return [_row(event, position, "recognition_given", _encode(payload), event.team_id.bytes)]


_STEPS: dict[type, Step] = {
    Team.TeamFormed: _team_formed,
    Team.MemberJoined: _member("member_joined", "role"),
    Team.MemberLeft: _member("member_left", "reason"),
    Team.PersonalDataErased: _member("personal_data_erased"),
    Team.ManagerAssigned: _simple("manager_assigned", "manager"),
    Team.MinimumGroupSet: _simple("min_group_set", "min_group"),
    Team.AlertRuleTuned: _simple("alert_rule_tuned", "rule", "parameters"),
    Goal.GoalSet: _goal_set,
    Goal.TargetChanged: _simple("target_changed", "old", "new", "reason"),
    Goal.DueDateChanged: _simple("due_date_changed", "old", "new", "reason"),
    Goal.GoalRedefined: _simple(
        "goal_redefined", "old_title", "new_title", "old_metric", "new_metric", "reason"
    ),
    Goal.ProgressRecorded: _simple("progress_recorded", "value"),
    Goal.ConcernRaised: _concern("concern_raised", "kind"),
    Goal.ConcernAnswered: _concern("concern_answered"),
    Goal.GoalAchieved: _simple("goal_achieved", "reason"),
    Goal.GoalAbandoned: _simple("goal_abandoned", "reason"),
    Journal.JournalOpened: _journal_opened,
    Journal.CheckedIn: _mood("checked_in"),
    Journal.CheckInCorrected: _mood("check_in_corrected"),
    Journal.BlockerCleared: _blocker_cleared,
    Journal.SuccessDefined: _success_defined,
    Recognition.RecognitionGiven: _recognition_given,
    # Journal.PersonalDataErased is left out: the team's twin event is indexed.
}


class TeamHistory:
    """The history index fold. It takes nearly every event, so it looks its step up in
    a table: cheaper, per event, than a singledispatchmethod (the runner then offers it
    every event, and it returns [] for the few it leaves out)."""

    name = "team_history"
    tables: tuple[Table, ...] = (STREAMS, EVENTS, SNAPSHOTS)

    def fold(self, event: object, position: int) -> list[RowOp]:
        step = _STEPS.get(type(event))
        return step(event, position) if step is not None else []


# --- the timeline's sentences ------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _why(text: str | None) -> str:
    return f": {text!r}" if text else ""


@dataclass(frozen=True)
class Names:
    """What a sentence needs that the row does not hold: people's names as they are
    now (personal data, never indexed), whose journal is whose, and goal titles."""

    members: Mapping[str, str]  # member id -> name
    journals: Mapping[str, str]  # journal id -> member id
    titles: Mapping[str, list[tuple[int, str]]]  # goal id -> [(position, title)]

    def member(self, member_id: str | None) -> str:
        return self.members.get(member_id or "", "a former member")

    def owner_of(self, journal_id: str) -> str:
        return self.member(self.journals.get(journal_id))

    def goal(self, row: IndexRow) -> str:
        """The goal's title as it was just before this row."""
        titles = [t for p, t in self.titles.get(row.stream, []) if p < row.position]
        return repr(titles[-1]) if titles else "a goal"


def describe(row: IndexRow, names: Names) -> str:
    """One readable line per event; never a check-in's text, note or mood."""
    p, by = row.payload, row.payload.get("by")
    match row.kind:
        case "team_formed":
            return f"team {p['name']!r} formed, managed by {p['manager']}"
        case "manager_assigned":
            return f"{p['manager']} now manages the team (by {by})"
        case "member_joined":
            role = f" as {p['role']}" if p.get("role") else ""
            return f"{names.member(p['member'])} joined{role}"
        case "member_left":
            return f"{names.member(p['member'])} left: {p['reason'].replace('_', ' ')}"
        case "personal_data_erased":
            return f"a member's personal data was erased by {by}"
        case "min_group_set":
            return f"minimum group for mood figures set to {p['min_group']} by {by}"
        case "alert_rule_tuned":
            settings = ", ".join(f"{k}={_number(v)}" for k, v in sorted(p["parameters"].items()))
            return f"alert rule {p['rule']} tuned by {by}: {settings or 'back to the defaults'}"
        case "goal_set":
            shape = f"{p['metric']} {_number(p['target'])} {p['unit']}".rstrip()
            return f"goal {p['title']!r} set: {shape} by {p['due']}, by {by}{_why(p['why'])}"
        case "target_changed":
            return (
                f"target of {names.goal(row)} changed {_number(p['old'])} → "
                f"{_number(p['new'])} by {by}{_why(p['reason'])}"
            )
        case "due_date_changed":
            return (
                f"due date of {names.goal(row)} moved {p['old']} → {p['new']} by {by}"
                f"{_why(p['reason'])}"
            )
        case "goal_redefined":
            metric = (
                f", metric {p['old_metric']} → {p['new_metric']}"
                if p["old_metric"] != p["new_metric"]
                else ""
            )
            return (
                f"goal {p['old_title']!r} redefined as {p['new_title']!r}{metric} by {by}"
                f"{_why(p['reason'])}"
            )
        case "progress_recorded":
            return f"progress on {names.goal(row)}: {_number(p['value'])}, by {by}"
        case "concern_raised":
            kind = p["kind"].replace("_", " ")
            return f"concern raised on {names.goal(row)} ({kind}) by {by}"
        case "concern_answered":
            return f"a concern on {names.goal(row)} answered by {by}"
        case "goal_achieved" | "goal_abandoned":
            verb = row.kind.removeprefix("goal_")
            return f"goal {names.goal(row)} {verb} by {by}{_why(p['reason'])}"
        case "checked_in":
            return f"a check-in was recorded for {names.owner_of(row.stream)}"
        case "check_in_corrected":
            return f"{names.owner_of(row.stream)}'s check-in of that day was corrected"
        case "blocker_cleared":
            return f"a blocker of {names.owner_of(row.stream)} was cleared by {by}"
        case "success_defined":
            return f"{names.owner_of(row.stream)} wrote what success means to them"
        case "recognition_given":
            what = "a win of " if p["win"] else ""
            manager = " (manager)" if p["from_manager"] else ""
            return f"{names.member(p['from'])}{manager} recognised {what}{names.member(p['to'])}"
    return row.kind.replace("_", " ")
