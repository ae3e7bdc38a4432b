"""What goes out on NATS: every domain event's payload holds no free text, and the
payloads and subjects are the documented ones."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

import domain.alert
import domain.goal
import domain.journal
import domain.recognition
import domain.team
from domain.alert import Alert, Rule, Severity, alert_id
from domain.goal import ConcernKind, Goal
from domain.journal import CheckIn, Journal
from domain.recognition import Recognition
from domain.team import DepartureReason, Team
from services.outbound import (
    EVENT_FIELDS,
    NotPublishable,
    alert_message,
    as_code,
    as_evidence,
    as_ids,
    as_number,
    as_numbers,
    event_message,
)

# Every text in the scenario carries this marker, so one search finds any leak.
MARK = "Zq7"
DAY = date(2026, 1, 5)
LATER = date(2026, 1, 9)
PREFIX = "keel"
TEAM_ID = UUID("00000000-0000-4000-8000-000000000001")


def text(what: str) -> str:
    return f"{MARK} {what}"


def concrete_event_classes() -> set[type]:
    """Every event class the domain defines, less the bases others derive from."""
    aggregates = [
        value
        for module in (domain.team, domain.goal, domain.journal, domain.recognition, domain.alert)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Aggregate) and value is not Aggregate
    ]
    classes = {
        value
        for aggregate in aggregates
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and name not in {"Event", "Created"}
    }
    return {c for c in classes if not any(o is not c and issubclass(o, c) for o in classes)}


def domain_scenario() -> list[Any]:
    """At least one event of every Keel class, every text field filled with MARK."""
    events: list[Any] = []
    team = Team.form(name=text("team"), manager=text("kay"), actor=text("kay"), occurred_on=DAY)
    member_id = team.add_member(
        name=text("Sandra"), role=text("role"), actor=text("kay"), occurred_on=DAY
    )
    other_id = team.add_member(name=text("Lee"), role=None, actor=text("kay"), occurred_on=DAY)
    team.assign_manager(manager=text("new manager"), actor=text("owner"), occurred_on=DAY)
    team.set_min_group(min_group=4, actor=text("kay"), occurred_on=DAY)
    team.tune_alert_rule(
        rule="morale_drop", parameters={"ewma_l": 2.5}, actor=text("kay"), occurred_on=DAY
    )
    team.record_departure(
        member_id=other_id,
        reason=DepartureReason.RESIGNED,
        note=text("departure note"),
        actor=text("kay"),
        occurred_on=LATER,
    )
    team.record_erasure(member_id=member_id, actor=text("kay"), occurred_on=LATER)
    events += team.collect_events()

    goal = Goal.set(
        team_id=team.id,
        title=text("title"),
        metric=text("metric"),
        target=90,
        unit=text("unit"),
        due=date(2026, 6, 30),
        why=text("why"),
        actor=text("owner"),
        occurred_on=DAY,
    )
    goal.change_target(target=95, reason=text("reason"), actor=text("owner"), occurred_on=DAY)
    goal.change_due_date(
        due=date(2026, 7, 31), reason=text("later"), actor=text("owner"), occurred_on=DAY
    )
    goal.redefine(
        title=text("new title"),
        metric=None,
        reason=text("clearer"),
        actor=text("owner"),
        occurred_on=DAY,
    )
    goal.record_progress(value=40, note=text("progress note"), actor=text("kay"), occurred_on=DAY)
    concern_id = goal.raise_concern(
        kind=ConcernKind.UNCLEAR, text=text("concern"), actor=text("lee"), occurred_on=DAY
    )
    goal.answer_concern(
        concern_id=concern_id, text=text("answer"), actor=text("owner"), occurred_on=DAY
    )
    goal.achieve(reason=text("done"), actor=text("owner"), occurred_on=LATER)
    events += goal.collect_events()
    abandoned = Goal.set(
        team_id=team.id,
        title=text("t"),
        metric=text("m"),
        target=1,
        unit="%",
        due=LATER,
        why=None,
        actor=text("owner"),
        occurred_on=DAY,
    )
    abandoned.abandon(reason=text("gave up"), actor=text("owner"), occurred_on=DAY)
    events += abandoned.collect_events()

    journal = Journal.open(member_id=member_id, team_id=team.id, actor=text("kay"), occurred_on=DAY)
    entry = journal.check_in(
        CheckIn(
            DAY,
            2,
            progress=[text("progress")],
            setbacks=[text("setback")],
            wins=[text("win")],
            blockers=[text("blocker"), text("second blocker")],
            private_note=text("private"),
        ),
        actor=text("sandra"),
    )
    journal.correct(
        CheckIn(
            DAY,
            3,
            progress=[text("progress")],
            wins=[text("win")],
            blockers=[text("blocker")],
            private_note=text("private again"),
        ),
        actor=text("sandra"),
    )
    journal.clear_blocker(
        blocker_id=UUID(entry.blockers[0]["id"]),
        note=text("cleared"),
        actor=text("kay"),
        occurred_on=DAY,
    )
    journal.define_success(text=text("success"), actor=text("sandra"), occurred_on=DAY)
    journal.record_erasure(actor=text("kay"), occurred_on=LATER)
    events += journal.collect_events()

    recognition = Recognition.give(
        team_id=team.id,
        from_member_id=other_id,
        to_member_id=member_id,
        win_id=UUID(entry.wins[0]["id"]),
        from_manager=False,
        message=text("thanks"),
        actor=text("lee"),
        occurred_on=DAY,
    )
    events += recognition.collect_events()
    return events


def alert_scenario() -> list[Any]:
    alert = Alert.raise_(
        team_id=TEAM_ID,
        rule=Rule.SETBACK_STREAK,
        severity=Severity.WARNING,
        subject_id=UUID("00000000-0000-4000-8000-00000000000a"),
        episode=41,
        numbers={"streak": 3, "days": 3.0},
        evidence=[
            {"position": 39, "event": "CheckedIn", "id": "00000000-0000-4000-8000-0000000000e1"}
        ],
        raised_on=DAY,
    )
    alert.acknowledge(by=text("kay"), note=text("ack note"), occurred_on=DAY)
    alert.clear(reason="resolved", by=text("kay"), occurred_on=LATER)
    return list(alert.collect_events())


def test_every_domain_event_class_is_in_the_whitelist_or_is_an_alert() -> None:
    alert_classes = {Alert.AlertRaised, Alert.AlertAcknowledged, Alert.AlertCleared}
    classes = concrete_event_classes()
    assert alert_classes <= classes
    assert set(EVENT_FIELDS) == classes - alert_classes


def test_the_scenarios_cover_every_event_class() -> None:
    seen = {type(e) for e in domain_scenario() + alert_scenario()}
    assert seen == concrete_event_classes()


def test_no_text_from_any_event_reaches_a_payload_or_subject() -> None:
    for position, event in enumerate(domain_scenario(), start=1):
        message = event_message(event, position, PREFIX)
        assert MARK.encode() not in message.data(), type(event).__qualname__
        assert MARK not in message.subject
        assert "mood" not in message.payload  # one person's mood is not aggregated
    raised, *later = alert_scenario()
    for position, event in enumerate([raised, *later], start=1):
        alert = alert_message(event, raised, position, PREFIX)
        assert alert is not None
        assert MARK.encode() not in alert.data(), type(event).__qualname__
        assert MARK not in alert.subject


def test_a_target_change_carries_ids_numbers_and_dates_only() -> None:
    goal = Goal.set(
        team_id=TEAM_ID,
        title="Renewals",
        metric="rate",
        target=90,
        unit="%",
        due=date(2026, 6, 30),
        why=None,
        actor="owner",
        occurred_on=DAY,
    )
    goal.change_target(target=95.5, reason="Competitor", actor="owner", occurred_on=LATER)
    set_event, changed = goal.collect_events()

    message = event_message(changed, 7, PREFIX)

    assert message.subject == "keel.events.goal.target_changed"
    assert message.payload == {
        "aggregate": "goal",
        "aggregate_id": str(goal.id),
        "event": "target_changed",
        "version": 2,
        "position": 7,
        "recorded_at": changed.timestamp.isoformat(),
        "old": 90,
        "new": 95.5,
        "occurred_on": "2026-01-09",
    }
    assert json.loads(message.data()) == message.payload
    first = event_message(set_event, 6, PREFIX).payload
    assert {k: first[k] for k in ("team_id", "target", "due")} == {
        "team_id": str(TEAM_ID),
        "target": 90,
        "due": "2026-06-30",
    }


def test_a_check_in_carries_its_day_and_item_ids_not_its_mood_or_texts() -> None:
    journal = Journal.open(member_id=TEAM_ID, team_id=TEAM_ID, actor="kay", occurred_on=DAY)
    entry = journal.check_in(
        CheckIn(DAY, 1, progress=["p"], wins=["w1", "w2"], blockers=["b"]), actor="ana"
    )
    checked_in = journal.collect_events()[-1]

    payload = event_message(checked_in, 3, PREFIX).payload

    assert payload["day"] == "2026-01-05"
    assert payload["win_ids"] == [w["id"] for w in entry.wins]
    assert payload["blocker_ids"] == [entry.blockers[0]["id"]]
    assert set(payload) == {
        "aggregate",
        "aggregate_id",
        "event",
        "version",
        "position",
        "recorded_at",
        "day",
        "win_ids",
        "blocker_ids",
    }


def test_a_departure_carries_its_reason_code_but_not_its_note() -> None:
    team = Team.form(name="T", manager="kay", actor="kay", occurred_on=DAY)
    member_id = team.add_member(name="Sandra", role=None, actor="kay", occurred_on=DAY)
    team.record_departure(
        member_id=member_id,
        reason=DepartureReason.DISMISSED,
        note="private matter",
        actor="kay",
        occurred_on=LATER,
    )
    left = team.collect_events()[-1]

    message = event_message(left, 9, PREFIX)

    assert message.subject == "keel.events.team.member_left"
    assert message.payload["reason"] == "dismissed"
    assert message.payload["member_id"] == str(member_id)
    assert b"private matter" not in message.data()


def test_alert_messages_name_team_and_rule_in_the_subject_and_link_to_the_api() -> None:
    raised, acknowledged, cleared = alert_scenario()
    the_id = str(alert_id(TEAM_ID, Rule.SETBACK_STREAK, raised.subject_id, 41))
    links = {
        "team_alerts": f"/v1/teams/{TEAM_ID}/alerts",
        "acknowledgement": f"/v1/alerts/{the_id}/acknowledgement",
        "resolution": f"/v1/alerts/{the_id}/resolution",
    }

    first = alert_message(raised, raised, 5, PREFIX)
    ack = alert_message(acknowledged, raised, 6, PREFIX)
    clear = alert_message(cleared, raised, 8, PREFIX)

    assert first is not None
    assert ack is not None
    assert clear is not None
    assert first.subject == ack.subject == clear.subject
    assert first.subject == f"keel.alerts.{TEAM_ID}.setback_streak"
    assert first.payload == {
        "alert_id": the_id,
        "event": "raised",
        "state": "open",
        "team_id": str(TEAM_ID),
        "rule": "setback_streak",
        "severity": "warning",
        "subject_id": "00000000-0000-4000-8000-00000000000a",
        "numbers": {"streak": 3, "days": 3.0},
        "evidence": [
            {"position": 39, "event": "CheckedIn", "id": "00000000-0000-4000-8000-0000000000e1"}
        ],
        "raised_on": "2026-01-05",
        "version": 1,
        "position": 5,
        "links": links,
    }
    assert (ack.payload["event"], ack.payload["state"], ack.payload["version"]) == (
        "acknowledged",
        "acknowledged",
        2,
    )
    assert ack.payload["occurred_on"] == "2026-01-05"
    assert "note" not in ack.payload
    assert "by" not in ack.payload
    assert (clear.payload["state"], clear.payload["reason"]) == ("cleared", "resolved")
    assert clear.payload["occurred_on"] == "2026-01-09"


def test_an_unknown_clearing_reason_is_left_out() -> None:
    alert = Alert.raise_(
        team_id=TEAM_ID,
        rule=Rule.BLOCKER_AGING,
        severity=Severity.INFO,
        subject_id=None,
        episode=1,
        numbers={},
        evidence=[],
        raised_on=DAY,
    )
    alert.clear(reason="a sentence someone typed", by=None, occurred_on=DAY)
    raised, cleared = alert.collect_events()
    assert isinstance(raised, Alert.AlertRaised)

    message = alert_message(cleared, raised, 2, PREFIX)

    assert message is not None
    assert message.payload["reason"] is None
    assert message.payload["subject_id"] is None
    assert b"someone typed" not in message.data()


def test_events_that_are_not_alert_events_make_no_alert_message() -> None:
    raised = alert_scenario()[0]
    team = Team.form(name="T", manager="kay", actor="kay", occurred_on=DAY)
    assert alert_message(team.collect_events()[0], raised, 1, PREFIX) is None


def test_a_code_converter_refuses_free_text() -> None:
    assert as_code(Rule)("morale_drop") == "morale_drop"
    with pytest.raises(NotPublishable):
        as_code(Rule)("morale went down after the reorg")


@pytest.mark.parametrize("value", ["4", True, None, [1]])
def test_a_number_converter_refuses_what_is_not_a_number(value: object) -> None:
    with pytest.raises(NotPublishable):
        as_number(value)


def test_numbers_keep_identifier_names_only_and_json_safe_values() -> None:
    numbers = {"mean": 3.5, "not finite": 1.0, "sd": float("nan"), "n": 7}
    assert as_numbers(numbers) == {"mean": 3.5, "sd": None, "n": 7}


def test_ids_and_evidence_refuse_text() -> None:
    with pytest.raises(NotPublishable):
        as_ids(["not an id"])
    with pytest.raises(NotPublishable):
        as_evidence([{"position": 1, "event": "a sentence", "id": str(TEAM_ID)}])
    assert as_evidence([{"position": 1, "event": "TargetChanged", "id": str(TEAM_ID)}]) == [
        {"position": 1, "event": "TargetChanged", "id": str(TEAM_ID)}
    ]
