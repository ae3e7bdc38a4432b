"""The followers' child process: it follows the same store as the server, comes back
when it dies, stops with the server, and /readyz tells when it is down."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import date
from uuid import uuid4

import nats
import nats.js.errors
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient

from domain.journal import Journal
from services import follower_process
from services.bootstrap import Container, bootstrap
from services.follower_process import FollowerProcess
from services.http.app import create_app
from services.keel import Keel
from services.settings import Settings
from tests.conftest import NatsNames, process_running

pytestmark = pytest.mark.slow

TIMEOUT = 60.0


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.02)


def _followed(container: Container) -> bool:
    """Every view and the alert process are at the head of Keel's log."""
    head = container.keel.head()
    views = container.runner.positions().values()
    return all(p == head for p in views) and container.alerts_evaluated() == head


def _form_team(container: Container, name: str) -> int:
    return container.keel.form_team(
        name=name, manager="kay", actor="owner", occurred_on=date(2025, 1, 6)
    ).position


def test_the_child_follows_the_store_and_comes_back_when_it_dies(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follower_process, "RESTART_DELAYS", (0.2,))
    container = bootstrap(settings.model_copy(update={"followers": "process"}))
    try:
        container.start()
        followers = container.follower_process
        assert followers is not None
        assert not container.runner.running  # nothing follows in this process
        _form_team(container, "Support")
        _wait_until(lambda: _followed(container), "the child followed the first team")

        first = followers.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        _wait_until(lambda: followers.pid not in (None, first), "a new child started")
        _form_team(container, "Platform")
        _wait_until(lambda: _followed(container), "the new child followed the second team")
        assert followers.down is None
    finally:
        container.close()
    assert not process_running(first)
    last = followers.pid
    assert last is not None
    assert not process_running(last)


def test_readyz_says_when_the_followers_are_down(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough to look while the dead child waits to be started again.
    monkeypatch.setattr(follower_process, "RESTART_DELAYS", (30.0,))
    settings = sqlite_settings.model_copy(update={"followers": "process"})
    with TestClient(create_app(settings)) as client:
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        followers = container.follower_process
        assert followers is not None
        _form_team(container, "Support")
        _wait_until(lambda: client.get("/readyz").status_code == 200, "readyz said ready")
        ready = client.get("/readyz").json()
        head = container.keel.head()
        assert ready["head"] == head
        assert set(ready["views"].values()) == {head}
        assert ready["alerts"]["evaluated"] == head

        pid = followers.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: followers.down is not None, "the server saw its child die")
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert "followers" in answer.json()["detail"]
        assert f"exited with {-signal.SIGKILL}" in answer.json()["detail"]


def test_readyz_waits_for_the_child_alert_process_to_read_its_state_back(
    sqlite_settings: Settings,
) -> None:
    """The recorded position is at the head at once; the child's alert process is not
    evaluating until it has read its state back, and it says so."""
    container = bootstrap(sqlite_settings.model_copy(update={"followers": "process"}))
    try:
        _form_team(container, "Support")
        assert container.alerts_evaluated() == 0  # no child yet: nothing said
        container.start()
        _wait_until(lambda: _followed(container), "the child evaluated the team")
        assert container.alerts_evaluated() == container.keel.head()
        assert container.alert_process.position == 0  # this process's own never ran
    finally:
        container.close()


async def _published(url: str, stream: str) -> int:
    connection = await nats.connect(url)
    try:
        info = await connection.jetstream().stream_info(stream)
        return int(info.state.messages)
    except nats.js.errors.NotFoundError:
        return 0
    finally:
        await connection.close()


def test_the_relays_run_beside_the_followers_in_the_child(
    sqlite_settings: Settings, nats_url: str, nats_names: NatsNames
) -> None:
    settings = nats_names.settings(sqlite_settings, nats_url)
    with TestClient(create_app(settings.model_copy(update={"followers": "process"}))) as client:
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        assert client.app.state.relays is None  # type: ignore[attr-defined]
        _form_team(container, "Support")
        _wait_until(
            lambda: asyncio.run(_published(nats_url, nats_names.events_stream)) == 1,
            "the child published the team's event",
        )


def test_readyz_shows_what_fails_in_the_child(sqlite_settings: Settings) -> None:
    """A stored check-in that cannot be decoded stops the child's alert process; the
    server's /readyz names the failure, as it would if the process ran beside it."""
    settings = sqlite_settings.model_copy(update={"followers": "process"})
    with TestClient(create_app(settings)) as client:
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        _form_team(container, "Support")
        _wait_until(lambda: client.get("/readyz").status_code == 200, "readyz said ready")
        broken = StoredEvent(
            originator_id=uuid4(),
            originator_version=1,
            topic=get_topic(Journal.CheckedIn),
            state=b"{not json",
        )
        container.keel.recorder.insert_events([broken])
        _wait_until(lambda: "alerts" in container.failures(), "the child said it fails")
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert "failing" in answer.json()["detail"]
        assert "MapperDeserialisationError" in answer.json()["detail"]


def test_a_child_that_cannot_start_is_tried_again_and_readyz_says_so(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follower_process, "RESTART_DELAYS", (0.1,))
    tries: list[int] = []

    def command(self: FollowerProcess, status_fd: int) -> list[str]:
        tries.append(status_fd)
        return ["/nonexistent/python"]

    monkeypatch.setattr(FollowerProcess, "command", command)
    settings = sqlite_settings.model_copy(update={"followers": "process"})
    with TestClient(create_app(settings)) as client:
        _wait_until(lambda: len(tries) >= 3, "the server tried three times")
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert "could not start" in answer.json()["detail"]


def test_a_save_wakes_the_child_at_once(sqlite_settings: Settings) -> None:
    """The child polls only every 30 s here: only the server's nudge can wake it."""
    settings = sqlite_settings.model_copy(
        update={"followers": "process", "poll_interval_seconds": 30.0}
    )
    container = bootstrap(settings)
    try:
        container.start()
        _form_team(container, "Support")  # read by the child's first read, at its start
        _wait_until(lambda: _followed(container), "the child caught up at its start")
        started = time.monotonic()
        _form_team(container, "Platform")  # read only when a nudge wakes the child
        _wait_until(lambda: _followed(container), "the child followed the new team")
        assert time.monotonic() - started < 10.0
    finally:
        container.close()


def test_the_recorded_alert_position_counts_only_once_the_child_evaluates(
    sqlite_settings: Settings,
) -> None:
    """While the child's alert process reads its state back, the position it recorded
    before is at the head, but nothing new is evaluated: /readyz must not say ready."""
    container = bootstrap(sqlite_settings)
    try:
        _form_team(container, "Support")
        container.alert_process.catch_up()
        head = container.keel.head()
        assert container.alerts.tracked(Keel.name) == head
        followers = FollowerProcess(container.settings, views=True, alerts=True, relays=False)
        container.follower_process = followers  # not started: its status is set here
        assert container.alerts_evaluated() == 0  # nothing said yet
        followers.status = {"alerts_live": False, "failures": {}}
        assert container.alerts_evaluated() == 0
        followers.status = {"alerts_live": True, "failures": {}}
        assert container.alerts_evaluated() == head
    finally:
        container.follower_process = None
        container.close()
