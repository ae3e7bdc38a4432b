"""The real server, as `keel serve` runs it: kill it without warning right after a
write, start it again on the same data, and find nothing lost and the views caught up;
its child processes (the followers and the writer) do not outlive it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain import calendar
from tests.conftest import process_running

pytestmark = pytest.mark.slow

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def keel_command() -> list[str]:
    script = Path(sys.executable).with_name("keel")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from services.cli import main; main()"]


@contextmanager
def keel_server(
    tmp_path: Path, data_dir: Path, name: str
) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client]]:
    """`keel serve` on a free port, answering /healthz; always killed and reaped."""
    port = free_port()
    env = {
        **os.environ,
        "KEEL_STORE": "sqlite",
        "KEEL_DATA_DIR": str(data_dir),
        "KEEL_HOST": "127.0.0.1",
        "KEEL_POLL_INTERVAL_SECONDS": "0.05",
        "KEEL_FOLLOWERS": "process",  # as shipped: the views follow in a child process
        "KEEL_WRITER": "process",  # and the busiest commands are committed in another
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*keel_command(), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as http:
                deadline = time.monotonic() + START_TIMEOUT
                while True:
                    if process.poll() is not None:
                        pytest.fail(f"keel serve exited early:\n{log_path.read_text()}")
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        pytest.fail(f"keel serve did not answer /healthz:\n{log_path.read_text()}")
                    time.sleep(0.05)
                yield process, http
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def children(pid: int, count: int) -> list[int]:
    """The processes `pid` started, from any of its threads, once there are `count`."""

    def listed() -> list[int]:
        tasks = Path(f"/proc/{pid}/task")
        return [int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()]

    deadline = time.monotonic() + START_TIMEOUT
    while len(found := listed()) < count and time.monotonic() < deadline:  # still starting
        time.sleep(0.05)
    return found


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_nothing_is_lost_when_the_server_is_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"

    with keel_server(tmp_path, data_dir, "first") as (process, http):
        team = created(http.post("/v1/teams", json={"name": "Platform", "manager": "Maya"}))
        goal = created(
            http.post(
                f"/v1/teams/{team['id']}/goals",
                json={"title": "Latency", "metric": "p99", "target": 300, "due": "2099-01-01"},
            )
        )
        changed = created(
            http.post(
                f"/v1/goals/{goal['id']}/target",
                json={"target": 150, "reason": "CEO asked"},
                headers={"X-Keel-Actor": "maya", "If-Match": "1"},
            )
        )
        member = created(http.post(f"/v1/teams/{team['id']}/members", json={"name": "Ana"}))
        day = calendar.today().isoformat()  # the day she joined
        checked_in = created(
            http.post(
                f"/v1/teams/{team['id']}/check-ins",
                json={"member_id": member["id"], "day": day, "mood": 4, "wins": ["a win"]},
            )
        )
        # `keel follow`, and the writer, which committed the target change and the
        # check-in.
        started = children(process.pid, 2)
        commands = sorted(command_line(child) for child in started)
        assert len(commands) == 2, commands
        assert " follow " in commands[0]
        assert "services.writer_process" in commands[1]
        process.kill()  # SIGKILL, straight after the 201: no shutdown, no flush
        assert process.wait(timeout=30) == -9
        # Orphaned, each child notices within a second or so and stops.
        deadline = time.monotonic() + 15
        while any(map(process_running, started)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(process_running, started)), "a child outlived its server"
    assert changed["version"] == 2

    assert checked_in["position"] > changed["position"]

    with keel_server(tmp_path, data_dir, "second") as (_, http):
        journal = http.get(
            f"/v1/members/{member['id']}/journal", headers={"X-Keel-Actor": member["id"]}
        )
        assert journal.status_code == 200, journal.text
        assert [(e["day"], e["mood"]) for e in journal.json()["entries"]] == [(day, 4)]
        read = http.get(f"/v1/goals/{goal['id']}")
        assert read.status_code == 200
        assert (read.json()["target"], read.json()["version"]) == (150, 2)
        assert read.headers["ETag"] == '"2"'

        history = http.get(
            f"/v1/goals/{goal['id']}/history", params={"wait_for": changed["position"]}
        )
        assert history.status_code == 200, history.text
        last = history.json()["changes"][-1]
        assert (last["kind"], last["from"], last["to"], last["by"], last["reason"]) == (
            "target_changed",
            300.0,
            150.0,
            "maya",
            "CEO asked",
        )
        assert last["position"] == changed["position"]

        deadline = time.monotonic() + 10
        while (ready := http.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.status_code == 200, ready.text
        assert ready.json()["head"] == checked_in["position"]

        # And it carries on from where it was.
        again = created(
            http.post(
                f"/v1/goals/{goal['id']}/target",
                json={"target": 100, "reason": "again"},
                headers={"If-Match": "2"},
            )
        )
        assert again["version"] == 3
        assert again["position"] > changed["position"]
