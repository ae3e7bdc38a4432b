"""Issue 4's acceptance, end to end: Keel's API process with its alert process and its
relay, a real NATS JetStream, and the alerts read back from the stream."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from domain.journal import CheckIn
from services.bootstrap import Container
from services.settings import Settings
from tests.conftest import NatsNames, NatsServer
from tests.scenarios import churn_then_drop, weekdays
from tests.test_relay import every_byte, msg_ids, payload, stream_messages

if TYPE_CHECKING:  # imported at run time by conftest, which silences its warning
    from fastapi.testclient import TestClient

TODAY = date.today() - timedelta(days=1)
WAIT = 60.0


def delivered(container: Container, client: TestClient) -> None:
    """Wait until every alert of the log has been relayed."""
    container.alert_process.nudge()
    deadline = time.monotonic() + WAIT
    while container.alerts.tracked("Keel") < container.keel.head():
        assert time.monotonic() < deadline, container.alert_process.failure
        time.sleep(0.02)
    relay = client.app.state.relays.for_application("Alerts")  # type: ignore[attr-defined]
    assert relay.wait_until(container.alerts.head(), WAIT), relay.last_error


def test_churn_then_a_drop_arrives_on_nats_once_per_rule_with_the_changes_as_evidence(
    sqlite_settings: Settings,
    nats_url: str,
    nats_names: NatsNames,
    client_for: Callable[[Settings], TestClient],
) -> None:
    client = client_for(nats_names.settings(sqlite_settings, nats_url))
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    story = churn_then_drop(container.keel, TODAY)
    delivered(container, client)

    messages = stream_messages(nats_url, nats_names.alerts_stream)
    raised = [payload(m) for m in messages if payload(m)["event"] == "raised"]
    assert Counter(p["rule"] for p in raised) == {
        "target_churn": 1,
        "morale_drop": 1,
        "churn_then_drop": 1,
    }
    for message in messages:
        body = payload(message)
        assert message.subject == f"{nats_names.prefix}.alerts.{story.team_id}.{body['rule']}"
        changes = [e["position"] for e in body["evidence"] if e["event"] == "TargetChanged"]
        assert changes == story.change_positions, body["rule"]
        assert b"the board wants more" not in every_byte(message)  # no free text
    assert len(set(msg_ids(messages))) == len(messages) == container.alerts.head()


def test_alerts_raised_while_nats_is_down_are_each_in_the_stream_once(
    sqlite_settings: Settings,
    nats_server: NatsServer,
    client_for: Callable[[Settings], TestClient],
) -> None:
    names = NatsNames.unique()
    client = client_for(names.settings(sqlite_settings, nats_server.url))
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    keel = container.keel
    start = TODAY - timedelta(weeks=20)
    team_id = keel.form_team(name="Ops", manager="Mia", actor="Mia", occurred_on=start).id
    members = [
        keel.add_member(team_id, name=f"P{i}", role=None, actor="Mia", occurred_on=start).id
        for i in range(3)
    ]
    # Every check-in of setbacks without progress raises a setback_streak alert, and
    # the next one, with progress, clears it: a steady stream of alert events.
    keel.tune_alert_rule(
        team_id, rule="setback_streak", parameters={"streak": 1}, actor="Mia", occurred_on=start
    )
    days = weekdays(start + timedelta(days=1), TODAY)[:90]
    outage = threading.Event()

    def tell_the_story() -> None:
        for index, day in enumerate(days):
            flagged = index % 2 == 0
            for member_id in members:
                report = CheckIn(
                    day=day,
                    mood=3,
                    progress=[] if flagged else ["moved"],
                    setbacks=["stuck"] if flagged else [],
                )
                keel.check_in(team_id, member_id, report, actor=str(member_id))
            if index == 30:
                outage.set()
            time.sleep(0.01)

    story = threading.Thread(target=tell_the_story)
    story.start()
    assert outage.wait(WAIT)
    raised_before = container.alerts.head()
    nats_server.stop(signal.SIGKILL)
    time.sleep(1.0)  # alerts go on being raised while NATS is down
    raised_during = container.alerts.head() - raised_before
    nats_server.start()
    story.join()
    delivered(container, client)

    messages = stream_messages(nats_server.url, names.alerts_stream)
    assert raised_during > 0
    ids = msg_ids(messages)
    assert len(ids) == len(set(ids)) == container.alerts.head()
    raised = Counter(payload(m)["alert_id"] for m in messages if payload(m)["event"] == "raised")
    assert len(raised) == 45 * len(members)  # one per flagged check-in
    assert set(raised.values()) == {1}
