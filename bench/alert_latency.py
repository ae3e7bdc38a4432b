"""`python -m bench.alert_latency`: from an alert's commit to a JetStream subscriber.

An alert is saved in the Alerts application; the relay publishes it; an ordered push
consumer on the alerts stream receives it. The latency is the time from `save()`
returning to the consumer's callback, by `Nats-Msg-Id`. Three ways, in one run:

- bare: the same payload published straight to JetStream (publish call to receipt),
  no log and no relay: the baseline;
- in-process: the relay inside the writing process, woken by each save;
- process: `keel relay` as a process of its own, polling the log.

Alerts are saved one at a time, `--gap` seconds apart, so this is latency, not load.
Needs NATS with JetStream at `--nats-url` (default nats://127.0.0.1:4222).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from uuid import uuid4

import nats
import nats.js.errors
from nats.aio.msg import Msg
from rich.console import Console

from bench.report import Latency, Ratio, Report, percentile
from domain.alert import Alert, Rule, Severity
from services.alerting import Alerts
from services.keel import Keel
from services.outbound import alert_message
from services.relay import start_relays
from services.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "alert_latency.json"
console = Console(width=None if sys.stdout.isatty() else 120)


class Receipts:
    """An ordered consumer on one stream, in a thread of its own: when each message
    (by Nats-Msg-Id) arrived, on the perf_counter clock."""

    def __init__(self, url: str, stream: str, subjects: str) -> None:
        self.url, self.stream, self.subjects = url, stream, subjects
        self.arrived: dict[str, float] = {}
        self._ready = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Receipts:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the consumer did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(10)

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.arrived) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    async def _main(self) -> None:
        nc = await nats.connect(self.url)
        js = nc.jetstream()
        try:
            await js.add_stream(name=self.stream, subjects=[self.subjects])

            async def arrived(msg: Msg) -> None:
                self.arrived[(msg.headers or {})["Nats-Msg-Id"]] = time.perf_counter()

            await js.subscribe(self.subjects, cb=arrived, ordered_consumer=True)
            self._ready.set()
            while not self._done.is_set():
                await asyncio.sleep(0.02)
        finally:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(self.stream)
            await nc.close()


def new_alert(team_id: uuid.UUID, episode: int) -> Alert:
    return Alert.raise_(
        team_id=team_id,
        rule=Rule.BLOCKER_AGING,
        severity=Severity.WARNING,
        subject_id=uuid4(),
        episode=episode,
        numbers={"working_days": 6},
        evidence=[{"position": episode, "event": "CheckedIn", "id": str(uuid4())}],
        raised_on=date(2026, 1, 5),
    )


def latencies(sent: dict[str, float], arrived: dict[str, float]) -> list[float]:
    missing = set(sent) - set(arrived)
    if missing:
        raise RuntimeError(f"{len(missing)} of {len(sent)} messages never arrived")
    return [(arrived[key] - sent[key]) * 1000 for key in sent]


def measure_bare(url: str, count: int, gap: float) -> list[float]:
    tag = uuid.uuid4().hex[:10]
    prefix = f"bench{tag}"
    team_id = uuid4()
    sent: dict[str, float] = {}

    async def publish() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for n in range(count):
            first = new_alert(team_id, n).collect_events()[0]
            assert isinstance(first, Alert.AlertRaised)
            message = alert_message(first, first, n + 1, prefix)
            assert message is not None
            key = f"Bare:{n + 1}"
            sent[key] = time.perf_counter()
            await js.publish(message.subject, message.data(), headers={"Nats-Msg-Id": key})
            await asyncio.sleep(gap)
        await nc.close()

    with Receipts(url, f"BENCH_BARE_{tag}", f"{prefix}.alerts.>") as receipts:
        asyncio.run(publish())
        receipts.wait_for(count, 30)
        return latencies(sent, receipts.arrived)


def measure_relay(
    url: str, count: int, gap: float, *, own_process: bool, poll: float
) -> list[float]:
    tag = uuid.uuid4().hex[:10]
    data_dir = Path(tempfile.mkdtemp(prefix="keel-bench-relay-")) / "var"
    settings = Settings(
        store="sqlite",
        data_dir=data_dir,
        nats_url=url,
        nats_alerts_stream=f"BENCH_ALERTS_{tag}",
        nats_events_stream=f"BENCH_EVENTS_{tag}",
        nats_subject_prefix=f"bench{tag}",
        relay_poll_interval_seconds=poll,
    )
    keel = Keel(env=settings.eventsourcing_env(Keel.name))
    alerts = Alerts(env=settings.eventsourcing_env(Alerts.name))
    relays = None
    process = None
    subjects = f"{settings.nats_subject_prefix}.alerts.>"
    sent: dict[str, float] = {}
    try:
        with Receipts(url, settings.nats_alerts_stream, subjects) as receipts:
            if own_process:
                process = start_relay_process(settings)
            else:
                relays = start_relays(settings, keel, alerts)
            team_id = uuid4()

            def save(episode: int) -> None:
                """Save an alert, note when it was committed, then wake the relay."""
                recordings = alerts.save(new_alert(team_id, episode))
                position = recordings[-1].notification.id
                sent[f"Alerts:{position}"] = time.perf_counter()
                for listener in alerts.on_recorded:
                    listener(position)

            # Untimed: the relay (a process above all) starts, connects and finds its
            # stream before the first timed alert.
            save(-1)
            receipts.wait_for(1, 60)
            sent.clear()
            for n in range(count):
                save(n)
                time.sleep(gap)
            receipts.wait_for(count + 1, 30)
            return latencies(sent, receipts.arrived)
    finally:
        if relays is not None:
            relays.close()
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        alerts.close()
        keel.close()


def start_relay_process(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KEEL_STORE": "sqlite",
        "KEEL_DATA_DIR": str(settings.data_dir),
        "KEEL_NATS_URL": str(settings.nats_url),
        "KEEL_NATS_ALERTS_STREAM": settings.nats_alerts_stream,
        "KEEL_NATS_EVENTS_STREAM": settings.nats_events_stream,
        "KEEL_NATS_SUBJECT_PREFIX": settings.nats_subject_prefix,
        "KEEL_RELAY_POLL_INTERVAL_SECONDS": str(settings.relay_poll_interval_seconds),
    }
    keel = Path(sys.executable).with_name("keel")
    return subprocess.Popen(
        [str(keel), "relay", "--every", "3600"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.alert_latency", description=__doc__)
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    p.add_argument("--alerts", type=int, default=300, help="alerts per measurement")
    p.add_argument("--gap", type=float, default=0.01, help="seconds between two alerts")
    p.add_argument("--rounds", type=int, default=3, help="(bare, in-process, process) rounds")
    p.add_argument("--poll", type=float, default=0.05, help="the relays' poll interval")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    report = Report(settings=vars(args))
    samples: dict[str, list[float]] = {"bare": [], "in-process": [], "process": []}
    measures: dict[str, Callable[[], list[float]]] = {
        "bare": lambda: measure_bare(args.nats_url, args.alerts, args.gap),
        "in-process": lambda: measure_relay(
            args.nats_url, args.alerts, args.gap, own_process=False, poll=args.poll
        ),
        "process": lambda: measure_relay(
            args.nats_url, args.alerts, args.gap, own_process=True, poll=args.poll
        ),
    }
    for round_ in range(args.rounds):
        console.rule(f"round {round_ + 1}/{args.rounds}")
        for name, measure in measures.items():
            measured = measure()
            samples[name] += measured
            p50, p99 = percentile(measured, 50), percentile(measured, 99)
            console.print(f"{name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    for name, measured in samples.items():
        report.latencies.append(Latency(f"alert, {name}", "commit to receipt", measured))
    for name in ("in-process", "process"):
        for q in (50, 99):
            relayed, bare = percentile(samples[name], q), percentile(samples["bare"], q)
            report.ratios.append(
                Ratio(f"p{q} {name} relay / bare publish", [relayed / bare], at_most=True)
            )
    report.print(console)
    console.print(f"results: {report.write(RESULTS)}")


if __name__ == "__main__":
    main()
