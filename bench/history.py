"""`python -m bench.history`: issue 5's history figures, as ratios.

(h) the log: the cached 1M-event work-life log (bench/logcache.py), copied, plus one
    big team of about 20,000 events (more members, same generator); cached in turn.
(r) what the history view adds to a rebuild: every view with it, every view without
    it, and the raw read, each in a fresh process, alternated.
(s) p99 of GET /v1/teams/{id}/state?as_of=<a random day of its history> for the big
    team, against the p99 of GET /v1/teams/{id}/state (the current state, from the
    current views), on the same server, requests alternating. Snapshots are emptied
    first, so the first as-of requests fold the team's whole history.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from bench import logcache, rebuild, worklog
from bench.__main__ import _progress, console
from bench.fresh import peak_rss_mb
from bench.http_rate import _wait_views
from bench.latency import _Client
from bench.logcache import TeamInfo
from bench.report import RESULTS, Latency, Rate, Ratio, Report
from bench.servers import ROOT, VENV_BIN, Server, free_port
from domain import calendar
from services.bootstrap import Container, bootstrap
from services.runner import Runner

HISTORY_RESULTS = RESULTS.with_name("history.json")
HISTORY_VIEW = "team_history"
BIG_TEAM_NUMBER = 10_000  # far from the base log's 1..N, so it is a team of its own
FRESH_KINDS = ("raw", "with-history", "without-history")


@dataclass
class Pass:
    """One fresh process's pass over the log; CPU seconds are steadier than wall seconds
    on a machine shared with other work."""

    kind: str
    events: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@dataclass
class BigLog:
    data_dir: Path
    events: int
    team: TeamInfo
    team_events: int
    first_day: str
    # When the big team's first and last events were recorded (epoch seconds).
    recorded_from: float
    recorded_to: float
    generate_seconds: float


# --- (h) the log -------------------------------------------------------------------------


def _big_team(members: int, seed: int) -> worklog.TeamHistory:
    # The generator's team size is a module constant; the big team only differs in it.
    with mock.patch.object(worklog, "MEMBERS", members):
        return worklog.team_history(BIG_TEAM_NUMBER, seed, calendar.today())


def ensure_log(
    events: int,
    seed: int,
    members: int,
    say: Callable[[str], None],
    progress: Callable[[int], None],
) -> BigLog:
    """The base log with the big team appended, generated once and cached."""
    base_dir, _ = logcache.ensure(logcache.teams_for(events), seed, progress, say)
    data_dir = logcache.cache_root() / f"{base_dir.name}-history{members}"
    marker = data_dir / "history.json"
    if marker.exists():
        raw = json.loads(marker.read_text())
        log = BigLog(**{**raw, "data_dir": data_dir, "team": TeamInfo(**raw["team"])})
        say(f"reusing {data_dir} ({log.events:,} events, big team {log.team_events:,})")
        return log
    if data_dir.exists():
        shutil.rmtree(data_dir)
    started = time.perf_counter()
    data_dir.mkdir(parents=True)
    # Only the event log, through SQLite's backup API: a consistent copy even while
    # another benchmark has the base log open. The views are folded afresh below.
    base, copy = base_dir / "keel.db", data_dir / "keel.db"
    with closing(sqlite3.connect(base)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    history = _big_team(members, seed)
    stamps = [e.timestamp.timestamp() for a in history.aggregates for e in a.pending_events]
    team_events = history.events  # saving empties the aggregates' pending events
    settings = logcache.settings(data_dir).model_copy(update={"aggregate_cache_size": 0})
    container = bootstrap(settings)
    try:
        container.keel.save(*history.aggregates)
        say(f"appended a team of {team_events:,} events; folding every view afresh")
        container.runner.catch_up()
        head = container.keel.head()
    finally:
        container.close()
    info = TeamInfo(
        id=str(history.team.id),
        manager=history.team.manager,
        members=[str(j.member_id) for j in history.journals],
        goals=[str(g.id) for g in history.goals],
    )
    log = BigLog(
        data_dir,
        head,
        info,
        team_events,
        history.team.formed_on.isoformat(),
        min(stamps),
        max(stamps),
        round(time.perf_counter() - started, 1),
    )
    marker.write_text(json.dumps({**asdict(log), "data_dir": None}) + "\n")
    return log


# --- (r) the rebuild, with and without the history view -------------------------------------


def _fresh_pass(kind: str, data_dir: Path) -> dict[str, Any]:
    """In this (fresh) process: one pass of `kind` over the log."""
    container = bootstrap(logcache.settings(data_dir))
    try:
        cpu = time.process_time()
        if kind == "raw":
            events, seconds = rebuild.raw_read(container)
        else:
            wanted = [
                v
                for v in container.runner.views
                if kind == "with-history" or v.name != HISTORY_VIEW
            ]
            runner = Runner(container.keel, wanted, batch_size=container.settings.batch_size)
            events, seconds = rebuild.rebuild(_with_runner(container, runner))
        cpu = time.process_time() - cpu
    finally:
        container.close()
    return {
        "kind": kind,
        "events": events,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak_rss_mb(),
    }


def _with_runner(container: Container, runner: Runner) -> Container:
    """The container, rebuilding with `runner` (a subset of its views)."""
    container.runner.stop()
    container.runner = runner
    return container


def _run_fresh(kind: str, data_dir: Path) -> Pass:
    argv = [sys.executable, "-m", "bench.history", "--fresh", kind, str(data_dir)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed:\n{done.stderr[-3000:]}")
    return Pass(**json.loads(done.stdout.strip().splitlines()[-1]))


def rebuild_figure(
    data_dir: Path, repeats: int, report: Report, say: Callable[[str], None]
) -> None:
    passes: dict[str, list[Pass]] = {kind: [] for kind in FRESH_KINDS}
    for i in range(repeats):
        for kind in FRESH_KINDS:
            passes[kind].append(_run_fresh(kind, data_dir))
        raw, with_, without = (passes[k][-1] for k in FRESH_KINDS)
        say(
            f"repeat {i + 1}/{repeats}: raw {raw.rate:,.0f}/s; without history "
            f"{without.seconds:.1f} s ({without.cpu_seconds:.1f} s CPU); with history "
            f"{with_.seconds:.1f} s ({with_.cpu_seconds:.1f} s CPU, {with_.peak_rss_mb:.0f} MiB)"
        )
    raws, withs, withouts = (passes[k] for k in FRESH_KINDS)
    report.rates += [
        Rate("raw read + decode (fresh process)", "events/s", [p.rate for p in raws]),
        Rate("rebuild without the history view", "events/s", [p.rate for p in withouts]),
        Rate("rebuild with the history view", "events/s", [p.rate for p in withs]),
    ]
    report.ratios += [
        Ratio(
            "rebuild / raw read, without the history view",
            [w.rate / r.rate for w, r in zip(withouts, raws, strict=True)],
        ),
        Ratio(
            "rebuild / raw read, with the history view",
            [w.rate / r.rate for w, r in zip(withs, raws, strict=True)],
            0.5,
            "issue 3's target, for every view",
        ),
        Ratio(
            "rebuild seconds, with / without the history view",
            [w.seconds / o.seconds for w, o in zip(withs, withouts, strict=True)],
            note="what the history view adds to a rebuild, in wall-clock time",
        ),
        Ratio(
            "rebuild CPU seconds, with / without the history view",
            [w.cpu_seconds / o.cpu_seconds for w, o in zip(withs, withouts, strict=True)],
            note="the same in CPU time, which other work on the machine disturbs less",
        ),
    ]
    report.checks["rebuild"] = {kind: [asdict(p) for p in ps] for kind, ps in passes.items()}


# --- (s) the as-of state against the current state -------------------------------------


@dataclass
class StateTimes:
    current_ms: list[float]
    as_of_ms: list[float]
    recorded_ms: list[float]
    timeline_ms: list[float]
    errors: list[str]
    snapshots: int


def _forget_snapshots(data_dir: Path) -> None:
    """Start cold: the first as-of requests fold the team's whole history."""
    with closing(sqlite3.connect(data_dir / f"{HISTORY_VIEW}.db")) as db, db:
        db.execute("DELETE FROM history_snapshots")


def _count_snapshots(data_dir: Path) -> int:
    with closing(sqlite3.connect(data_dir / f"{HISTORY_VIEW}.db")) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM history_snapshots").fetchone()
        return int(count)


def _start_keel(port: int, data_dir: Path, log: Path) -> Server:
    """`keel serve` on the log, without the alert process: started on a log it has never
    followed, it would spend the whole measurement catching up on a million events in
    the same process, a load that has nothing to do with either GET."""
    argv = [str(VENV_BIN / "keel"), "serve", "--port", str(port)]
    env = {
        "KEEL_DATA_DIR": str(data_dir),
        "KEEL_PORT": str(port),
        "KEEL_STORE": "sqlite",
        "KEEL_RUN_ALERTS": "false",
    }
    return Server("keel", argv, port, log, env)


def measure_states(
    log: BigLog, workdir: Path, *, requests: int, seed: int, say: Callable[[str], None]
) -> StateTimes:
    """`requests` rounds, each GET the current state, then the state as of a random day
    of the big team's history (business time), then as of a random instant (recorded
    time), then a random page of its timeline, on one keep-alive connection."""
    _forget_snapshots(log.data_dir)
    rng = random.Random(seed)
    first = date.fromisoformat(log.first_day)
    span = (calendar.today() - first).days
    team, manager = log.team.id, log.team.manager
    port = free_port()
    server = _start_keel(port, log.data_dir, workdir / "keel-history.log")
    client = _Client(port)
    times = StateTimes([], [], [], [], [], 0)
    try:
        _wait_views(port, timeout=1800)

        def timed(path: str, into: list[float]) -> None:
            status, ms, body = client.get(path, manager)
            if status != 200:
                times.errors.append(f"{status} {path}: {body[:200]!r}")
            into.append(ms)

        for i in range(requests):
            day = first + timedelta(days=rng.randrange(span + 1))
            timed(f"/v1/teams/{team}/state", times.current_ms)
            timed(f"/v1/teams/{team}/state?as_of={day}", times.as_of_ms)
            instant = rng.uniform(log.recorded_from, log.recorded_to)
            moment = datetime.fromtimestamp(instant, UTC).isoformat().replace("+00:00", "Z")
            timed(f"/v1/teams/{team}/state?as_of={moment}&basis=recorded", times.recorded_ms)
            # The big team was appended last: its positions end the log.
            cursor = rng.randrange(log.events - log.team_events, log.events)
            timed(f"/v1/teams/{team}/timeline?cursor={cursor}", times.timeline_ms)
            if (i + 1) % max(1, requests // 4) == 0:
                say(f"{i + 1}/{requests} rounds")
    except Exception:
        say(f"--- last lines of {server.log} ---\n{server.tail()}")
        raise
    finally:
        client.close()
        server.stop()
    times.snapshots = _count_snapshots(log.data_dir)
    return times


def state_figure(log: BigLog, times: StateTimes, report: Report) -> None:
    label = f"{log.team_events:,}-event team, {log.events:,}-event log"
    lats = [
        Latency("GET /v1/teams/{id}/state (current)", label, times.current_ms),
        Latency("GET /v1/teams/{id}/state?as_of=<day>", label, times.as_of_ms),
        Latency("GET …/state?as_of=<instant>&basis=recorded", label, times.recorded_ms),
        Latency("GET /v1/teams/{id}/timeline?cursor=<random>", label, times.timeline_ms),
    ]
    report.latencies += lats
    current, as_of, recorded = (lat.summary()["p99_ms"] for lat in lats[:3])
    report.ratios += [
        Ratio("p99 as-of state / p99 current state", [as_of / current], 10, at_most=True),
        Ratio("p99 as-of (recorded) / p99 current state", [recorded / current], 10, at_most=True),
    ]
    report.checks["state"] = {
        "errors": len(times.errors),
        "error_samples": times.errors[:10],
        "first_as_of_ms": round(times.as_of_ms[0], 1) if times.as_of_ms else None,
        "snapshots_written": times.snapshots,
        "team_events": log.team_events,
        "log_events": log.events,
    }


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    p.add_argument("--only", default="rs", help="figures to run, e.g. 's' (h is implied)")
    p.add_argument("--events", type=int, default=1_000_000, help="size of the base log")
    p.add_argument("--seed", type=int, default=logcache.SEED)
    p.add_argument("--members", type=int, default=40, help="the big team's size (20,096 events)")
    p.add_argument("--repeats", type=int, default=3, help="(r) passes of each kind")
    p.add_argument("--requests", type=int, default=400, help="(s) rounds of requests")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--fresh", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.fresh:
        print(json.dumps(_fresh_pass(args.fresh[0], Path(args.fresh[1]))))
        return 0
    report = Report(settings={k: v for k, v in vars(args).items() if k != "fresh"})
    started = time.perf_counter()
    console.rule(f"(h) the log: ~{args.events:,} events plus a team of {args.members} people")
    total = logcache.teams_for(args.events) * logcache.EVENTS_PER_TEAM
    with _progress("generating the base log", total) as advance:
        log = ensure_log(args.events, args.seed, args.members, console.print, advance)
    report.checks["log"] = {**asdict(log), "data_dir": str(log.data_dir), "team": log.team.id}
    if "r" in args.only:
        console.rule("(r) rebuild with and without the history view, fresh process each")
        rebuild_figure(log.data_dir, args.repeats, report, console.print)
    if "s" in args.only:
        console.rule(f"(s) as-of state vs current state, {args.requests} rounds")
        with tempfile.TemporaryDirectory(prefix="keel-bench-history-") as tmp:
            times = measure_states(
                log, Path(tmp), requests=args.requests, seed=args.seed, say=console.print
            )
        state_figure(log, times, report)
    report.checks["seconds"] = round(time.perf_counter() - started, 1)
    console.rule("results")
    report.print(console)
    console.print(f"written to {report.write(HISTORY_RESULTS)}")
    errors = report.checks.get("state", {}).get("errors", 0)
    if errors:
        console.print(f"[red]{errors} HTTP requests failed: the figures are suspect[/]")
    return 0 if (report.passed and not errors) or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
