"""The history index fold over real domain events: its exact rows, that no personal or
free text reaches a row, that it keeps no state between events, and the timeline's
sentences."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from domain.goal import ConcernKind, Goal
from domain.journal import CheckIn, Journal
from domain.recognition import Recognition
from domain.team import DepartureReason, Team
from projections.rows import Put, Tables, apply_in_memory, fold_all
from projections.timeline import EVENTS, KINDS, IndexRow, Names, TeamHistory, describe

# Free text that is personal, or that the index leaves out; none may reach a row.
HIDDEN = [
    "Ana Almeida",
    "Ben Barros",
    "Left for a startup in Lisbon",
    "Wrote the invoice parser",
    "Staging was down all morning",
    "Shipped the CSV export",
    "Waiting for production keys",
    "Feeling worn out after the offsite",
    "Ops gave us the keys",
    "Ship weekly without drama",
    "Thanks for covering the on-call",
    "Is 140 even possible?",
    "Yes, with the new hire",
    "Halfway there after the launch",
]
(
    ANA_NAME,
    BEN_NAME,
    DEPARTURE_NOTE,
    PROGRESS,
    SETBACK,
    WIN,
    BLOCKER,
    PRIVATE_NOTE,
    CLEARANCE_NOTE,
    SUCCESS,
    MESSAGE,
    CONCERN,
    ANSWER,
    PROGRESS_NOTE,
) = HIDDEN

FORMED = date(2025, 1, 6)


class Story:
    """One team's events of every kind, at positions 1..N, in log order."""

    def __init__(self) -> None:
        team = Team.form(name="Payments", manager="kay", actor="hr", occurred_on=FORMED)
        self.ana = team.add_member(name=ANA_NAME, role="dev", actor="kay", occurred_on=FORMED)
        self.ben = team.add_member(name=BEN_NAME, role=None, actor="kay", occurred_on=FORMED)
        ana_journal = Journal.open(
            member_id=self.ana, team_id=team.id, actor="kay", occurred_on=FORMED
        )
        goal = Goal.set(
            team_id=team.id,
            title="Renewals",
            metric="renewal rate",
            target=120.0,
            unit="%",
            due=date(2025, 6, 30),
            why="Grow recurring revenue",
            actor="owner",
            occurred_on=date(2025, 1, 7),
        )
        entry = ana_journal.check_in(
            CheckIn(
                day=date(2025, 1, 8),
                mood=4,
                progress=[PROGRESS],
                setbacks=[SETBACK],
                wins=[WIN],
                blockers=[BLOCKER],
                private_note=PRIVATE_NOTE,
            ),
            actor=str(self.ana),
        )
        ana_journal.correct(CheckIn(day=date(2025, 1, 8), mood=2, wins=[WIN]), actor=str(self.ana))
        # The correction withdrew that blocker; a second day's blocker gets cleared.
        second = ana_journal.check_in(
            CheckIn(day=date(2025, 1, 9), mood=3, blockers=[BLOCKER]), actor=str(self.ana)
        )
        blocker = UUID(second.blockers[0]["id"])
        ana_journal.clear_blocker(
            blocker_id=blocker, note=CLEARANCE_NOTE, actor="kay", occurred_on=date(2025, 1, 10)
        )
        ana_journal.define_success(text=SUCCESS, actor=str(self.ana), occurred_on=FORMED)
        goal.change_target(
            target=150.0, reason="Q3 push", actor="owner", occurred_on=date(2025, 2, 3)
        )
        goal.change_due_date(
            due=date(2025, 9, 30), reason="slipped", actor="owner", occurred_on=date(2025, 2, 4)
        )
        goal.redefine(
            title="Net renewals",
            metric=None,
            reason="count churn",
            actor="owner",
            occurred_on=date(2025, 2, 5),
        )
        goal.record_progress(
            value=75.5, note=PROGRESS_NOTE, actor="ana", occurred_on=date(2025, 2, 6)
        )
        concern = goal.raise_concern(
            kind=ConcernKind.UNATTAINABLE, text=CONCERN, actor="ana", occurred_on=date(2025, 2, 7)
        )
        goal.answer_concern(
            concern_id=concern, text=ANSWER, actor="owner", occurred_on=date(2025, 2, 8)
        )
        goal.abandon(reason="reorg", actor="owner", occurred_on=date(2025, 3, 3))
        recognition = Recognition.give(
            team_id=team.id,
            from_member_id=self.ben,
            to_member_id=self.ana,
            win_id=UUID(entry.wins[0]["id"]),
            from_manager=False,
            message=MESSAGE,
            actor=str(self.ben),
            occurred_on=date(2025, 1, 9),
        )
        team.assign_manager(manager="noor", actor="hr", occurred_on=date(2025, 3, 1))
        team.set_min_group(min_group=7, actor="noor", occurred_on=date(2025, 3, 2))
        team.record_departure(
            member_id=self.ben,
            reason=DepartureReason.RESIGNED,
            note=DEPARTURE_NOTE,
            actor="noor",
            occurred_on=date(2025, 3, 4),
        )
        team.record_erasure(member_id=self.ben, actor="noor", occurred_on=date(2025, 3, 5))
        self.team, self.goal, self.journal, self.recognition = team, goal, ana_journal, recognition
        events: list[Any] = [
            *team.collect_events(),
            *ana_journal.collect_events(),
            *goal.collect_events(),
            *recognition.collect_events(),
        ]
        self.log = [(event, position) for position, event in enumerate(events, start=1)]


def rows_of(tables: Tables) -> list[dict[str, Any]]:
    return [tables["history_events"][key] for key in sorted(tables["history_events"])]


def test_every_event_of_a_team_gets_one_short_row_with_its_business_and_recorded_time() -> None:
    story = Story()
    tables = fold_all(TeamHistory(), story.log)
    rows = rows_of(tables)
    by_position = {position: event for event, position in story.log}
    # Opening a journal is not an event of the timeline: the member's joining is.
    opened = [p for e, p in story.log if isinstance(e, Journal.JournalOpened)]
    assert [r["position"] for r in rows] == [p for _, p in story.log if p not in opened]
    for row in rows:
        event = by_position[row["position"]]
        assert row["occurred_on"] == event.occurred_on.isoformat()
        assert row["recorded_at"] == event.timestamp.timestamp()
        assert row["version"] == event.originator_version
        assert row["kind"] in KINDS
    assert {r["kind"] for r in rows} == KINDS - {"alert_rule_tuned", "goal_achieved"}


def test_rows_are_filed_under_the_stream_a_team_query_finds() -> None:
    story = Story()
    tables = fold_all(TeamHistory(), story.log)
    # Ids are kept as their 16 bytes.
    team, goal, journal = story.team.id.bytes, story.goal.id.bytes, story.journal.id.bytes
    assert tables["history_streams"] == {
        (team,): {"stream": team, "team_id": team, "member_id": None},
        (goal,): {"stream": goal, "team_id": team, "member_id": None},
        (journal,): {"stream": journal, "team_id": team, "member_id": story.ana.bytes},
    }
    streams = {r["kind"]: r["stream"] for r in rows_of(tables)}
    assert streams["member_joined"] == team
    assert streams["target_changed"] == goal
    assert streams["checked_in"] == journal
    # A recognition is an aggregate of its own, but it belongs to the team's history.
    assert streams["recognition_given"] == team


def test_payloads_hold_what_the_fold_and_the_sentences_need() -> None:
    story = Story()
    payloads = {
        r["kind"]: json.loads(r["payload"]) for r in rows_of(fold_all(TeamHistory(), story.log))
    }
    assert payloads["team_formed"] == {"by": "hr", "name": "Payments", "manager": "kay"}
    assert payloads["member_joined"] == {"by": "kay", "member": str(story.ben), "role": None}
    assert payloads["member_left"] == {"by": "noor", "member": str(story.ben), "reason": "resigned"}
    assert payloads["goal_set"] == {
        "by": "owner",
        "title": "Renewals",
        "metric": "renewal rate",
        "target": 120.0,
        "unit": "%",
        "due": "2025-06-30",
        "why": "Grow recurring revenue",
    }
    assert payloads["target_changed"] == {
        "by": "owner",
        "old": 120.0,
        "new": 150.0,
        "reason": "Q3 push",
    }
    assert payloads["due_date_changed"] == {
        "by": "owner",
        "old": "2025-06-30",
        "new": "2025-09-30",
        "reason": "slipped",
    }
    assert payloads["checked_in"] == {"mood": 3}  # the last check-in folded: 9 January
    assert payloads["check_in_corrected"] == {"mood": 2}
    assert payloads["progress_recorded"] == {"by": "ana", "value": 75.5}
    assert payloads["concern_raised"]["kind"] == "unattainable"
    assert payloads["recognition_given"] == {
        "by": str(story.ben),
        "recognition": str(story.recognition.id),
        "from": str(story.ben),
        "to": str(story.ana),
        "win": payloads["recognition_given"]["win"],
        "from_manager": False,
    }


def test_no_personal_or_free_text_reaches_any_row() -> None:
    story = Story()
    tables = fold_all(TeamHistory(), story.log)
    dumped = json.dumps([list(rows.values()) for rows in tables.values()], default=str)
    for text in HIDDEN:
        assert text not in dumped


def test_the_fold_keeps_no_state_each_event_folds_alone_and_resumes_anywhere() -> None:
    story = Story()
    whole = fold_all(TeamHistory(), story.log)
    for split in (1, len(story.log) // 2, len(story.log) - 1):
        tables: Tables = fold_all(TeamHistory(), story.log[:split])
        for event, position in story.log[split:]:
            apply_in_memory(tables, TeamHistory().fold(event, position))
        assert tables == whole


def test_events_it_does_not_index_give_no_rows() -> None:
    assert TeamHistory().fold(object(), 1) == []
    journal = Journal.open(
        member_id=UUID(int=1), team_id=UUID(int=2), actor="x", occurred_on=FORMED
    )
    journal.record_erasure(actor="x", occurred_on=FORMED)
    _, erased = journal.collect_events()
    # The team's own PersonalDataErased is indexed; the journal's twin would repeat it.
    assert TeamHistory().fold(erased, 9) == []


def test_a_tuned_alert_rule_is_indexed_with_its_parameters() -> None:
    team = Team.form(name="T", manager="kay", actor="hr", occurred_on=FORMED)
    team.tune_alert_rule(
        rule="morale_drop", parameters={"ewma_l": 2.8}, actor="kay", occurred_on=FORMED
    )
    event = team.collect_events()[-1]
    [op] = TeamHistory().fold(event, 2)
    assert isinstance(op, Put)
    assert op.table == EVENTS
    assert op.row["kind"] == "alert_rule_tuned"
    assert json.loads(op.row["payload"]) == {
        "by": "kay",
        "rule": "morale_drop",
        "parameters": {"ewma_l": 2.8},
    }


# --- sentences ------------------------------------------------------------------------------


def sentences(story: Story) -> dict[str, str]:
    tables = fold_all(TeamHistory(), story.log)
    rows = [IndexRow.from_row(r) for r in rows_of(tables)]
    titles = {
        str(story.goal.id): [
            (r.position, r.payload.get("title") or r.payload["new_title"])
            for r in rows
            if r.kind in ("goal_set", "goal_redefined")
        ]
    }
    names = Names(
        members={str(story.ana): "Ana", str(story.ben): "[erased]"},
        journals={str(story.journal.id): str(story.ana)},
        titles=titles,
    )
    return {r.kind: describe(r, names) for r in rows}


def test_each_kind_reads_as_a_sentence_with_who_from_to_and_why() -> None:
    said = sentences(Story())
    assert said == {
        "team_formed": "team 'Payments' formed, managed by kay",
        "member_joined": "[erased] joined",
        "manager_assigned": "noor now manages the team (by hr)",
        "min_group_set": "minimum group for mood figures set to 7 by noor",
        "member_left": "[erased] left: resigned",
        "personal_data_erased": "a member's personal data was erased by noor",
        "checked_in": "a check-in was recorded for Ana",
        "check_in_corrected": "Ana's check-in of that day was corrected",
        "blocker_cleared": "a blocker of Ana was cleared by kay",
        "success_defined": "Ana wrote what success means to them",
        "goal_set": "goal 'Renewals' set: renewal rate 120 % by 2025-06-30, by owner: "
        "'Grow recurring revenue'",
        "target_changed": "target of 'Renewals' changed 120 → 150 by owner: 'Q3 push'",
        "due_date_changed": "due date of 'Renewals' moved 2025-06-30 → 2025-09-30 by owner: "
        "'slipped'",
        "goal_redefined": "goal 'Renewals' redefined as 'Net renewals' by owner: 'count churn'",
        "progress_recorded": "progress on 'Net renewals': 75.5, by ana",
        "concern_raised": "concern raised on 'Net renewals' (unattainable) by ana",
        "concern_answered": "a concern on 'Net renewals' answered by owner",
        "goal_abandoned": "goal 'Net renewals' abandoned by owner: 'reorg'",
        "recognition_given": "[erased] recognised a win of Ana",
    }


def test_no_sentence_tells_a_mood_or_what_anyone_wrote() -> None:
    said = " ".join(sentences(Story()).values())
    for text in HIDDEN:
        assert text not in said
    assert "mood" not in said.replace("mood figures", "")


@pytest.mark.parametrize("microsecond", [0, 1, 203404, 999999])
def test_a_row_reads_back_its_recorded_instant_to_the_microsecond(microsecond: int) -> None:
    recorded = datetime(2026, 11, 22, 14, 34, 43, microsecond, UTC)
    row = IndexRow.from_row(
        {
            "position": 3,
            "stream": UUID(int=5).bytes,
            "occurred_on": "2026-11-22",
            "recorded_at": recorded.timestamp(),
            "kind": "checked_in",
            "version": 2,
            "payload": '{"mood":4}',
        }
    )
    assert row.recorded_at == recorded
    assert row.originator_id == row.stream == str(UUID(int=5))
