"""The relay to NATS JetStream, against real NATS servers: what is published, under which
subject and id, that nothing goes out twice, and that an outage loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import nats
import nats.js.errors
import pytest
from nats.js.api import RawStreamMsg

from domain.alert import Alert, Rule, Severity
from domain.goal import ConcernKind
from domain.journal import CheckIn
from domain.team import DepartureReason
from services.alerting import Alerts
from services.keel import Keel
from services.relay import Relays, RelayStore, alert_relay, event_relay, open_relays
from services.settings import Settings
from tests.conftest import NatsNames, NatsServer

if TYPE_CHECKING:  # imported at run time by conftest, which silences its warning
    from fastapi.testclient import TestClient

MARK = "Zq7"  # in every text of the scenarios: found in a message, it is a leak
DAY = date(2026, 1, 5)
WAIT = 30.0


def text(what: str) -> str:
    return f"{MARK} {what}"


def raise_alert(alerts: Alerts, team_id: UUID, episode: int) -> Alert:
    alert = Alert.raise_(
        team_id=team_id,
        rule=Rule.BLOCKER_AGING,
        severity=Severity.WARNING,
        subject_id=uuid4(),
        episode=episode,
        numbers={"working_days": 6},
        evidence=[{"position": episode, "event": "CheckedIn", "id": str(uuid4())}],
        raised_on=DAY,
    )
    alerts.save(alert)
    return alert


async def _stream(url: str, stream: str) -> list[RawStreamMsg]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream)).state
        if not state.messages:
            return []
        return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]
    finally:
        await nc.close()


def stream_messages(url: str, stream: str) -> list[RawStreamMsg]:
    return asyncio.run(_stream(url, stream))


def msg_ids(messages: list[RawStreamMsg]) -> list[str]:
    return [(m.headers or {})["Nats-Msg-Id"] for m in messages]


def payload(message: RawStreamMsg) -> dict[str, Any]:
    assert message.data is not None
    loaded: dict[str, Any] = json.loads(message.data)
    return loaded


def every_byte(message: RawStreamMsg) -> bytes:
    return (
        (message.subject or "").encode()
        + json.dumps(message.headers).encode()
        + (message.data or b"")
    )


@contextmanager
def running(relays: Relays) -> Iterator[Relays]:
    relays.start()
    try:
        yield relays
    finally:
        relays.close()


def keel_scenario(keel: Keel) -> None:
    """Something of every kind a team does, with MARK in every text and every actor."""
    team = keel.form_team(
        name=text("team"), manager=text("kay"), actor=text("kay"), occurred_on=DAY
    )
    sandra = keel.add_member(
        team.id, name=text("Sandra"), role=text("role"), actor=text("kay"), occurred_on=DAY
    ).id
    lee = keel.add_member(
        team.id, name=text("Lee"), role=None, actor=text("kay"), occurred_on=DAY
    ).id
    goal = keel.set_goal(
        team.id,
        title=text("title"),
        metric=text("metric"),
        target=90,
        unit=text("unit"),
        due=date(2026, 6, 30),
        why=text("why"),
        actor=text("owner"),
        occurred_on=DAY,
    ).id

    def change(command: Any) -> None:
        keel.change_goal(goal, None, command)

    change(lambda g: g.change_target(target=80, reason=text("r"), actor=text("o"), occurred_on=DAY))
    change(lambda g: g.record_progress(value=10, note=text("n"), actor=text("o"), occurred_on=DAY))
    concern = keel.goal(goal)
    concern_id = concern.raise_concern(
        kind=ConcernKind.UNCLEAR, text=text("concern"), actor=text("lee"), occurred_on=DAY
    )
    keel.save(concern)
    keel.answer_concern(goal, concern_id, text=text("answer"), actor=text("o"), occurred_on=DAY)
    _, entry = keel.check_in(
        team.id,
        sandra,
        CheckIn(
            DAY,
            2,
            progress=[text("p")],
            setbacks=[text("s")],
            wins=[text("w")],
            blockers=[text("b")],
            private_note=text("private"),
        ),
        actor=text("sandra"),
    )
    keel.clear_blocker(
        sandra,
        UUID(entry.blockers[0]["id"]),
        note=text("cleared"),
        actor=text("k"),
        occurred_on=DAY,
    )
    keel.define_success(sandra, text=text("success"), actor=text("sandra"), occurred_on=DAY)
    keel.recognise(
        from_member_id=lee,
        to_member_id=sandra,
        win_id=UUID(entry.wins[0]["id"]),
        message=text("thanks"),
        actor=text("lee"),
        occurred_on=DAY,
    )
    keel.record_departure(
        team.id,
        lee,
        reason=DepartureReason.MOVED_ON,
        note=text("note"),
        actor=text("kay"),
        occurred_on=DAY,
    )
    keel.erase_member(sandra, actor=text("kay"), occurred_on=DAY)


# --- the events stream -------------------------------------------------------------------


def test_every_domain_event_reaches_the_events_stream_once_without_any_text(
    settings: Settings, nats_url: str, nats_names: NatsNames
) -> None:
    config = nats_names.settings(settings, nats_url)
    keel = Keel(env=config.eventsourcing_env(Keel.name))
    try:
        with running(open_relays(config, keel)) as relays:
            keel_scenario(keel)
            relays.nudge()
            head = keel.head()
            assert relays.for_application("Keel").wait_until(head, WAIT)
    finally:
        keel.close()

    messages = stream_messages(nats_url, nats_names.events_stream)

    assert msg_ids(messages) == [f"Keel:{position}" for position in range(1, head + 1)]
    subjects = Counter(m.subject for m in messages)
    prefix = nats_names.prefix
    assert subjects[f"{prefix}.events.team.team_formed"] == 1
    assert subjects[f"{prefix}.events.team.member_joined"] == 2
    assert subjects[f"{prefix}.events.journal.checked_in"] == 1
    assert subjects[f"{prefix}.events.goal.target_changed"] == 1
    assert subjects[f"{prefix}.events.recognition.recognition_given"] == 1
    changed = next(m for m in messages if m.subject == f"{prefix}.events.goal.target_changed")
    assert (payload(changed)["old"], payload(changed)["new"]) == (90, 80)
    for message in messages:
        assert MARK.encode() not in every_byte(message)
        assert b"sealed:" not in every_byte(message)


def test_a_relay_that_lost_its_position_publishes_nothing_twice(
    sqlite_settings: Settings, nats_url: str, nats_names: NatsNames
) -> None:
    config = nats_names.settings(sqlite_settings, nats_url)
    keel = Keel(env=config.eventsourcing_env(Keel.name))
    try:
        for n in range(20):
            keel.form_team(name=f"team {n}", manager="kay", actor="kay", occurred_on=DAY)
        with running(open_relays(config, keel)) as relays:
            assert relays.for_application("Keel").wait_until(20, WAIT)
        for path in config.data_dir.glob("relay.db*"):
            path.unlink()  # the relay's position is gone

        with running(open_relays(config, keel)) as relays:
            keel.form_team(name="one more", manager="kay", actor="kay", occurred_on=DAY)
            relays.nudge()
            relay = relays.for_application("Keel")
            assert relay.wait_until(21, WAIT)
            # It found its place from the stream: it sent only the new event.
            assert (relay.published, relay.duplicates) == (1, 0)
    finally:
        keel.close()

    ids = msg_ids(stream_messages(nats_url, nats_names.events_stream))
    assert ids == [f"Keel:{position}" for position in range(1, 22)]


async def _publish_foreign(
    url: str, subject: str, msg_id: str = "Elsewhere:1", stream: Settings | None = None
) -> None:
    """Publish as another publisher would; with `stream`, create its events stream first."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        if stream is not None:
            prefix = stream.nats_subject_prefix
            await js.add_stream(name=stream.nats_events_stream, subjects=[f"{prefix}.events.>"])
        await js.publish(subject, b"{}", headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


def test_jetstream_drops_a_republished_message_by_its_id(
    sqlite_settings: Settings, nats_url: str, nats_names: NatsNames
) -> None:
    """When the stream cannot tell the relay where it was (another publisher wrote last),
    the relay sends everything again and JetStream's de-duplication keeps one copy."""
    config = nats_names.settings(sqlite_settings, nats_url)
    keel = Keel(env=config.eventsourcing_env(Keel.name))
    try:
        for n in range(10):
            keel.form_team(name=f"team {n}", manager="kay", actor="kay", occurred_on=DAY)
        with running(open_relays(config, keel)) as relays:
            assert relays.for_application("Keel").wait_until(10, WAIT)
        asyncio.run(_publish_foreign(nats_url, f"{nats_names.prefix}.events.other.thing"))
        for path in config.data_dir.glob("relay.db*"):
            path.unlink()

        with running(open_relays(config, keel)) as relays:
            relay = relays.for_application("Keel")
            assert relay.wait_until(10, WAIT)
            assert (relay.published, relay.duplicates) == (0, 10)
    finally:
        keel.close()

    ids = msg_ids(stream_messages(nats_url, nats_names.events_stream))
    assert ids == [f"Keel:{position}" for position in range(1, 11)] + ["Elsewhere:1"]


def test_a_stream_filled_from_another_store_does_not_make_the_relay_skip(
    sqlite_settings: Settings, nats_url: str, nats_names: NatsNames
) -> None:
    config = nats_names.settings(sqlite_settings, nats_url)
    subject = f"{config.nats_subject_prefix}.events.team.team_formed"
    asyncio.run(_publish_foreign(nats_url, subject, msg_id="Keel:50", stream=config))
    keel = Keel(env=config.eventsourcing_env(Keel.name))
    try:
        for n in range(3):
            keel.form_team(name=f"team {n}", manager="kay", actor="kay", occurred_on=DAY)
        with running(open_relays(config, keel)) as relays:
            relay = relays.for_application("Keel")
            assert relay.wait_until(3, WAIT)
            assert relay.published == 3
    finally:
        keel.close()

    ids = msg_ids(stream_messages(nats_url, nats_names.events_stream))
    assert ids == ["Keel:50", "Keel:1", "Keel:2", "Keel:3"]


# --- the alerts stream -------------------------------------------------------------------


def test_alert_events_reach_the_alerts_stream_by_team_and_rule(
    sqlite_settings: Settings, nats_url: str, nats_names: NatsNames
) -> None:
    config = nats_names.settings(sqlite_settings, nats_url)
    alerts = Alerts(env=config.eventsourcing_env(Alerts.name))
    store = RelayStore(config)
    team_id = uuid4()
    try:
        alert = raise_alert(alerts, team_id, 7)
        first = alert_relay(config, alerts, store)
        with running(Relays([first], store)):
            assert first.wait_until(1, WAIT)
        alert.acknowledge(by=text("kay"), note=text("note"), occurred_on=DAY)
        alert.clear(reason="resolved", by=text("kay"), occurred_on=DAY)
        alerts.save(alert)
        # A new relay has not seen the AlertRaised: the acknowledgement's team and rule
        # come from the alert's first event in the store.
        second = alert_relay(config, alerts, RelayStore(config))
        with running(Relays([second], second.store)):
            assert second.wait_until(3, WAIT)
            assert (second.published, second.duplicates) == (2, 0)
    finally:
        store.close()
        alerts.close()

    messages = stream_messages(nats_url, nats_names.alerts_stream)

    assert msg_ids(messages) == ["Alerts:1", "Alerts:2", "Alerts:3"]
    subject = f"{nats_names.prefix}.alerts.{team_id}.blocker_aging"
    assert [m.subject for m in messages] == [subject] * 3
    assert [(payload(m)["event"], payload(m)["state"]) for m in messages] == [
        ("raised", "open"),
        ("acknowledged", "acknowledged"),
        ("cleared", "cleared"),
    ]
    assert {payload(m)["alert_id"] for m in messages} == {str(alert.id)}
    assert payload(messages[0])["links"]["team_alerts"] == f"/v1/teams/{team_id}/alerts"
    assert all(MARK.encode() not in every_byte(m) for m in messages)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_alerts_raised_while_nats_is_down_are_all_in_the_stream_once(
    sqlite_settings: Settings, nats_server: NatsServer, stop: signal.Signals
) -> None:
    names = NatsNames.unique()
    config = names.settings(sqlite_settings, nats_server.url)
    alerts = Alerts(env=config.eventsourcing_env(Alerts.name))
    store = RelayStore(config)
    relay = alert_relay(config, alerts, store)
    raised: list[UUID] = []
    try:
        with running(Relays([relay], store)):
            for n in range(300):
                team_id = UUID(int=n % 7 + 1)
                alert = raise_alert(alerts, team_id, n)
                raised.append(alert.id)
                if n % 3 == 0:
                    alert.acknowledge(by=text("kay"), note=text("note"), occurred_on=DAY)
                    alerts.save(alert)
                relay.nudge()
                if n == 100:
                    delivered_before_outage = relay.position
                    nats_server.stop(stop)
                    down_at = alerts.head()
                if n == 200:
                    up_at = alerts.head()
                    nats_server.start()
                time.sleep(0.005)
            head = alerts.head()
            assert relay.wait_until(head, WAIT), relay.last_error
            failures = relay.failures
    finally:
        alerts.close()

    messages = stream_messages(nats_server.url, names.alerts_stream)

    assert delivered_before_outage > 0
    assert up_at - down_at >= 100  # alerts kept being raised while NATS was down
    assert failures >= 1  # and the relay noticed
    ids = msg_ids(messages)
    assert len(ids) == len(set(ids)) == head
    assert sorted(ids, key=lambda i: int(i.split(":")[1])) == [
        f"Alerts:{p}" for p in range(1, head + 1)
    ]
    raised_ids = Counter(
        payload(m)["alert_id"] for m in messages if payload(m)["event"] == "raised"
    )
    assert raised_ids == Counter(str(alert_id) for alert_id in raised)
    assert all(MARK.encode() not in every_byte(m) for m in messages)


def test_a_relay_started_before_nats_waits_and_then_delivers(
    sqlite_settings: Settings, nats_server: NatsServer
) -> None:
    nats_server.stop(signal.SIGKILL)
    names = NatsNames.unique()
    config = names.settings(sqlite_settings, nats_server.url)
    alerts = Alerts(env=config.eventsourcing_env(Alerts.name))
    store = RelayStore(config)
    relay = alert_relay(config, alerts, store)
    try:
        with running(Relays([relay], store)):
            for n in range(5):
                raise_alert(alerts, uuid4(), n)
            assert not relay.wait_until(5, 0.5)
            assert relay.position == 0
            assert relay.failures >= 1
            assert relay.last_error is not None
            nats_server.start()
            assert relay.wait_until(5, WAIT)
            assert relay.last_error is None
    finally:
        alerts.close()

    assert len(stream_messages(nats_server.url, names.alerts_stream)) == 5


# --- embedded mode -----------------------------------------------------------------------


def test_without_a_nats_url_there_is_no_relay(sqlite_settings: Settings, tmp_path: Path) -> None:
    keel = Keel(env=sqlite_settings.eventsourcing_env(Keel.name))
    try:
        with pytest.raises(ValueError, match="KEEL_NATS_URL"):
            open_relays(sqlite_settings, keel)
    finally:
        keel.close()
    assert not (sqlite_settings.data_dir / "relay.db").exists()


def test_the_relays_position_survives_a_restart(
    sqlite_settings: Settings, nats_url: str, nats_names: NatsNames
) -> None:
    config = nats_names.settings(sqlite_settings, nats_url)
    keel = Keel(env=config.eventsourcing_env(Keel.name))
    try:
        keel.form_team(name="a", manager="kay", actor="kay", occurred_on=DAY)
        with running(open_relays(config, keel)) as relays:
            assert relays.for_application("Keel").wait_until(1, WAIT)
        store = RelayStore(config)
        try:
            assert store.position("Keel") == 1
            relay = event_relay(config, keel, store)
            assert relay.position == 1
        finally:
            store.close()
    finally:
        keel.close()


# --- in the API process, and as a process of its own --------------------------------------


def test_the_api_relays_in_process_when_a_nats_url_is_set(
    sqlite_settings: Settings,
    client_for: Callable[[Settings], TestClient],
    nats_url: str,
    nats_names: NatsNames,
) -> None:
    client = client_for(nats_names.settings(sqlite_settings, nats_url))
    answer = client.post(
        "/v1/teams", json={"name": text("team"), "manager": "kay"}, headers={"X-Keel-Actor": "kay"}
    )
    assert answer.status_code == 201, answer.text
    relays = client.app.state.relays  # type: ignore[attr-defined]
    assert relays.for_application("Keel").wait_until(answer.json()["position"], WAIT)

    messages = stream_messages(nats_url, nats_names.events_stream)

    assert [m.subject for m in messages] == [f"{nats_names.prefix}.events.team.team_formed"]
    assert payload(messages[0])["aggregate_id"] == answer.json()["id"]


def test_embedded_mode_serves_without_nats_and_runs_no_relay(client: TestClient) -> None:
    answer = client.post(
        "/v1/teams", json={"name": "T", "manager": "kay"}, headers={"X-Keel-Actor": "kay"}
    )
    assert answer.status_code == 201
    assert client.app.state.relays is None  # type: ignore[attr-defined]


def wait_for_messages(url: str, stream: str, count: int) -> list[RawStreamMsg]:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            messages = stream_messages(url, stream)
        except nats.js.errors.NotFoundError:
            messages = []
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        time.sleep(0.1)


@pytest.mark.slow
def test_keel_relay_runs_as_a_process_of_its_own(
    tmp_path: Path, nats_url: str, nats_names: NatsNames
) -> None:
    data_dir = tmp_path / "var"
    config = nats_names.settings(Settings(store="sqlite", data_dir=data_dir), nats_url)
    env = {
        **os.environ,
        "KEEL_STORE": "sqlite",
        "KEEL_DATA_DIR": str(data_dir),
        "KEEL_NATS_URL": nats_url,
        "KEEL_NATS_EVENTS_STREAM": nats_names.events_stream,
        "KEEL_NATS_ALERTS_STREAM": nats_names.alerts_stream,
        "KEEL_NATS_SUBJECT_PREFIX": nats_names.prefix,
        "PYTHONUNBUFFERED": "1",
    }
    keel = Keel(env=config.eventsourcing_env(Keel.name))
    alerts = Alerts(env=config.eventsourcing_env(Alerts.name))
    log_path = tmp_path / "relay.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("keel")), "relay", "--every", "0.5"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        team = keel.form_team(name=text("team"), manager="kay", actor="kay", occurred_on=DAY)
        alert = Alert.raise_(
            team_id=team.id,
            rule=Rule.TARGET_CHURN,
            severity=Severity.WARNING,
            subject_id=None,
            episode=team.position,
            numbers={"team_changes": 3},
            evidence=[],
            raised_on=DAY,
        )
        alerts.save(alert)

        events = wait_for_messages(nats_url, nats_names.events_stream, 1)
        raised = wait_for_messages(nats_url, nats_names.alerts_stream, 1)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=WAIT)
        alerts.close()
        keel.close()

    output = log_path.read_text()
    assert msg_ids(events) == ["Keel:1"], output
    assert msg_ids(raised) == ["Alerts:1"], output
    assert raised[0].subject == f"{nats_names.prefix}.alerts.{team.id}.target_churn"
    assert "Keel -> " in output
    assert "position 1 of 1" in output
