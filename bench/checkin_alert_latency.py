"""`python -m bench.checkin_alert_latency`: from a committed check-in to its alert on NATS.

`keel serve` runs as production runs it (SQLite, views, the alert process); a client
POSTs check-ins over HTTP, and a NATS subscriber on the alerts subjects waits for the
alert each one raises. The team is tuned so that every check-in reporting setbacks and
no progress raises a `setback_streak` alert (streak 1) and the next one clears it, so
each flagged check-in has exactly one alert, found by the check-in's log position in
the alert's evidence. Latency runs from the 201 (the commit happened before it) to the
subscriber's receipt; the POST's own time is reported beside it.

Two topologies, in one run:
- embedded: the relay inside `keel serve` (KEEL_NATS_URL set);
- relay process: `keel serve` with KEEL_RUN_RELAY=false and `keel relay` beside it.
The baseline is a bare JetStream publish to a subscriber on the same server, measured
in the same run. The target is a p99 under 250 ms. Needs NATS with JetStream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import nats
from nats.aio.msg import Msg
from rich.console import Console

from bench.report import Latency, Ratio, Report, percentile
from bench.servers import VENV_BIN, Server, environment_without_keel, free_port, request
from services.bootstrap import bootstrap
from services.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "checkin_alert_latency.json"
TARGET_P99_MS = 250.0
console = Console()


class Subscriber:
    """A NATS subscriber on its own thread and event loop; notes when each subject's
    message arrives, keyed by the evidence positions it carries."""

    def __init__(self, url: str, subject: str) -> None:
        self.url, self.subject = url, subject
        self.arrived: dict[int, float] = {}
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._subscribe(), self._loop).result(10)

    async def _subscribe(self) -> None:
        self._nc = await nats.connect(self.url)

        async def received(msg: Msg) -> None:
            now = time.perf_counter()
            body = json.loads(msg.data)
            if body.get("event") in ("raised", None):
                for evidence in body.get("evidence", [{"position": body.get("n")}]):
                    self.arrived.setdefault(int(evidence["position"]), now)

        await self._nc.subscribe(self.subject, cb=received)
        await self._nc.flush()

    def publish(self, subject: str, n: int, stream: str) -> float:
        """A bare JetStream publish of a small alert-like payload; its send time."""

        async def send() -> float:
            sent = time.perf_counter()
            await self._nc.jetstream().publish(
                subject, json.dumps({"n": n}).encode(), stream=stream
            )
            return sent

        return asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)

    def add_stream(self, name: str, subject: str, delete: bool = False) -> None:
        async def change() -> None:
            js = self._nc.jetstream()
            if delete:
                with contextlib.suppress(Exception):
                    await js.delete_stream(name)
            else:
                await js.add_stream(name=name, subjects=[subject])

        asyncio.run_coroutine_threadsafe(change(), self._loop).result(10)

    def wait_for(self, position: int, timeout: float = 10.0) -> float | None:
        deadline = time.perf_counter() + timeout
        while position not in self.arrived:
            if time.perf_counter() > deadline:
                return None
            time.sleep(0.0005)
        return self.arrived[position]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._nc.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


def prepare(settings: Settings, members: int) -> tuple[UUID, list[UUID], date]:
    """A team whose every setback-only check-in raises an alert; returns its first day."""
    container = bootstrap(settings)
    try:
        keel = container.keel
        start = date.today() - timedelta(days=400)
        team = keel.form_team(name="Bench", manager="Mia", actor="Mia", occurred_on=start).id
        people = [
            keel.add_member(team, name=f"P{i}", role=None, actor="Mia", occurred_on=start).id
            for i in range(members)
        ]
        keel.tune_alert_rule(
            team, rule="setback_streak", parameters={"streak": 1}, actor="Mia", occurred_on=start
        )
        return team, people, start + timedelta(days=1)
    finally:
        container.close()


def measure(
    port: int, team: UUID, people: list[UUID], first: date, days: int, sub: Subscriber
) -> tuple[list[float], list[float]]:
    """Check in day by day; on even days every check-in raises an alert."""
    commit_to_alert, post = [], []
    for offset in range(days):
        flagged = offset % 2 == 0
        day = (first + timedelta(days=offset)).isoformat()
        for member in people:
            body = {
                "member_id": str(member),
                "day": day,
                "mood": 3,
                "progress": [] if flagged else ["moved on"],
                "setbacks": ["stuck"] if flagged else [],
                "wins": [],
                "blockers": [],
            }
            sent = time.perf_counter()
            status, answer = request(port, "POST", f"/v1/teams/{team}/check-ins", body)
            committed = time.perf_counter()
            if status != 201:
                raise RuntimeError(f"check-in refused: {status} {answer}")
            if flagged:
                arrived = sub.wait_for(int(answer["position"]))
                if arrived is None:
                    raise RuntimeError(f"no alert for the check-in at {answer['position']}")
                commit_to_alert.append((arrived - committed) * 1000)
                post.append((committed - sent) * 1000)
            time.sleep(0.005)
    return commit_to_alert, post


def bare_baseline(sub: Subscriber, prefix: str, count: int) -> list[float]:
    stream, subject = f"BENCH_BARE_{prefix}", f"{prefix}.bare"
    sub.add_stream(stream, subject)
    try:
        samples = []
        for n in range(-count, 0):  # negative: never a real log position
            sent = sub.publish(subject, n, stream)
            arrived = sub.wait_for(n)
            assert arrived is not None
            samples.append((arrived - sent) * 1000)
            time.sleep(0.005)
        return samples
    finally:
        sub.add_stream(stream, subject, delete=True)


def run(nats_url: str, members: int, days: int) -> Report:
    report = Report(settings={"members": members, "days": days, "nats_url": nats_url})
    tag = uuid.uuid4().hex[:10]
    prefix = f"bench{tag}"
    sub = Subscriber(nats_url, f"{prefix}.>")
    streams = {
        "KEEL_NATS_URL": nats_url,
        "KEEL_NATS_SUBJECT_PREFIX": prefix,
        "KEEL_NATS_ALERTS_STREAM": f"BENCH_ALERTS_{tag}",
        "KEEL_NATS_EVENTS_STREAM": f"BENCH_EVENTS_{tag}",
    }
    try:
        bare = bare_baseline(sub, prefix, members * days // 2)
        report.latencies.append(Latency("bare JetStream publish -> subscriber", "-", bare))
        for topology in ("embedded", "relay process"):
            sub.arrived.clear()  # each topology's log starts again at position 1
            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp) / "var"
                settings = Settings(store="sqlite", data_dir=data)
                team, people, first = prepare(settings, members)
                env = dict(streams)
                relay: subprocess.Popen[bytes] | None = None
                if topology == "relay process":
                    env["KEEL_RUN_RELAY"] = "false"
                    relay = subprocess.Popen(
                        [str(VENV_BIN / "keel"), "relay"],
                        env={**environment_without_keel(), **env, "KEEL_DATA_DIR": str(data)},
                        stdout=(Path(tmp) / "relay.log").open("w"),
                        stderr=subprocess.STDOUT,
                    )
                port = free_port()
                server = Server(
                    "keel",
                    [str(VENV_BIN / "keel"), "serve", "--port", str(port)],
                    port,
                    Path(tmp) / "keel.log",
                    {"KEEL_DATA_DIR": str(data), "KEEL_STORE": "sqlite", **env},
                )
                try:
                    latencies, posts = measure(port, team, people, first, days, sub)
                finally:
                    server.stop()
                    if relay is not None:
                        relay.terminate()
                        relay.wait(timeout=15)
                report.latencies.append(Latency(f"{topology}: commit -> alert", "-", latencies))
                report.latencies.append(Latency(f"{topology}: the check-in POST", "-", posts))
                p99 = percentile(latencies, 99)
                report.ratios.append(
                    Ratio(
                        f"{topology}: p99 commit -> alert / {TARGET_P99_MS:g} ms",
                        [p99 / TARGET_P99_MS],
                        target=1.0,
                        at_most=True,
                        note=f"p99 {p99:.1f} ms; bare publish p99 {percentile(bare, 99):.1f} ms",
                    )
                )
                report.ratios.append(
                    Ratio(
                        f"{topology}: p99 commit -> alert / bare publish p99",
                        [p99 / percentile(bare, 99)],
                    )
                )
    finally:
        sub.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--days", type=int, default=40, help="half of them raise alerts")
    args = parser.parse_args()
    report = run(args.nats_url, args.members, args.days)
    report.print(console)
    console.print(f"written to {report.write(RESULTS)}")


if __name__ == "__main__":
    main()
