"""`python -m bench.work_life`: the inner-work-life figures of issue 3, as ratios.

(d) the benchmark logs: generated once (bench/logcache.py), then reused;
(e) rebuild of every view vs eventsourcing's raw read, fresh process each, peak RSS;
(f) p50/p99 of each view GET, small log vs big log;
(g) POST /v1/teams/{id}/check-ins vs a bare FastAPI POST.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench import checkin_rate, fresh, latency, logcache, servers
from bench.__main__ import _progress, _statuses, console
from bench.logcache import Manifest
from bench.report import RESULTS, Latency, Rate, Ratio, Report

WORK_LIFE_RESULTS = RESULTS.with_name("work_life.json")


def _levels(text: str) -> list[int]:
    levels = list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("give one or more positive numbers, like 12,32,64")
    return levels


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.work_life", description=__doc__)
    p.add_argument("--only", default="efg", help="figures to run, e.g. 'ef' (d is implied)")
    p.add_argument("--events", type=int, default=1_000_000, help="size of the big log")
    p.add_argument("--small-events", type=int, default=10_000, help="size of the small log")
    p.add_argument("--seed", type=int, default=logcache.SEED)
    p.add_argument(
        "--repeats", type=int, default=3, help="(raw, rebuild, parallel rebuild) rounds for (e)"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="(e) processes for the parallel rebuild (default: one per core, at most one "
        "per view, as `keel projections rebuild` chooses)",
    )
    p.add_argument("--requests", type=int, default=400, help="(f) timed GETs per endpoint")
    p.add_argument("--warmup-requests", type=int, default=20, help="(f) untimed GETs first")
    p.add_argument("--latency-teams", type=int, default=8, help="(f) teams read per log")
    p.add_argument("--rounds", type=int, default=3, help="(bare, keel) pairs for (g)")
    p.add_argument("--seconds", type=float, default=6.0, help="each (g) measurement")
    p.add_argument("--warmup", type=float, default=2.0, help="(g) warm-up per server")
    p.add_argument(
        "--connections",
        type=_levels,
        default=[12, 32, 64],
        help="(g) keep-alive connections, one level or a sweep: '12,32,64' (the default)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument(
        "--without-alerts",
        action="store_true",
        help="diagnosis only: servers without the in-process alert process",
    )
    p.add_argument(
        "--followers",
        choices=["process", "threads"],
        default=None,
        help="where Keel servers run the views and the alert process (KEEL_FOLLOWERS; "
        "default: as `keel serve` ships, in a child process)",
    )
    return p.parse_args(argv)


def _log(events: int, seed: int, report: Report, name: str) -> tuple[Path, Manifest]:
    teams = logcache.teams_for(events)
    console.rule(f"(d) the {name} log: {teams} teams (~{events:,} events)")
    started = time.perf_counter()
    with _progress(f"generating the {name} log", teams * logcache.EVENTS_PER_TEAM) as advance:
        data_dir, manifest = logcache.ensure(teams, seed, advance, console.print)
    report.checks[f"log_{name}"] = {
        "dir": str(data_dir),
        "teams": len(manifest.teams),
        "events": manifest.events,
        "generate_seconds": manifest.generate_seconds,
        "views_seconds": manifest.views_seconds,
        "seconds_this_run": round(time.perf_counter() - started, 1),
    }
    return data_dir, manifest


def _rebuild_figure(args: argparse.Namespace, data_dir: Path, report: Report) -> None:
    console.rule("(e) rebuild of every view against the raw read, fresh process each")
    raws: list[fresh.Pass] = []
    keel_reads: list[fresh.Pass] = []  # the same read, decoded as Keel's runner decodes
    singles: list[fresh.Pass] = []
    parallels: list[fresh.Pass] = []
    for i in range(args.repeats):
        raws.append(fresh.run("raw", data_dir))
        keel_reads.append(fresh.run("raw-keel", data_dir))
        # The two rebuilds take turns going first, so that neither always finds the
        # machine (page cache, the views' files) as the other one left it.
        first_single = i % 2 == 0
        for single in (first_single, not first_single):
            if single:
                singles.append(fresh.run("rebuild", data_dir))
            else:
                parallels.append(fresh.run("rebuild-parallel", data_dir, args.jobs))
        r, k, b, p = raws[-1], keel_reads[-1], singles[-1], parallels[-1]
        console.print(
            f"repeat {i + 1}/{args.repeats}: raw {r.rate:,.0f}/s ({r.peak_rss_mb:,.0f} MiB), "
            f"Keel's read {k.rate:,.0f}/s, "
            f"rebuild in 1 process {b.rate:,.0f}/s in {b.seconds:.1f} s "
            f"({b.peak_rss_mb:,.0f} MiB), in {p.processes} processes {p.rate:,.0f}/s in "
            f"{p.seconds:.1f} s ({p.peak_rss_mb:,.0f} MiB summed: "
            f"{' + '.join(f'{m:,.0f}' for m in p.peak_rss_parts_mb)})"
        )
    n = parallels[0].processes or 1
    report.rates += [
        Rate("raw read + decode (fresh process)", "events/s", [r.rate for r in raws]),
        Rate("the same, decoded by Keel's FastMapper", "events/s", [k.rate for k in keel_reads]),
        Rate("runner.rebuild(), 1 process (fresh)", "events/s", [b.rate for b in singles]),
        Rate(f"parallel rebuild, {n} processes (fresh)", "events/s", [p.rate for p in parallels]),
    ]
    report.ratios += [
        Ratio(
            "rebuild in 1 process / raw read",
            [b.rate / r.rate for b, r in zip(singles, raws, strict=True)],
            None,
            "median of the per-repeat ratios; the target is on the row below",
        ),
        Ratio(
            f"rebuild in {n} processes / raw read in 1",
            [p.rate / r.rate for p, r in zip(parallels, raws, strict=True)],
            0.5,
            f"{n} processes, {n} reads of the log, against one read; same repeats",
        ),
        Ratio(
            f"rebuild in {n} processes / Keel's own read in 1",
            [p.rate / k.rate for p, k in zip(parallels, keel_reads, strict=True)],
            None,
            "not a target: how the rebuild compares with its own way of reading the log",
        ),
        Ratio(
            "rebuild peak RSS, 1 process (MiB)",
            [b.peak_rss_mb for b in singles],
            500,
            "VmHWM of the rebuild process",
            at_most=True,
        ),
        Ratio(
            f"rebuild peak RSS, {n} processes (MiB)",
            [p.peak_rss_mb for p in parallels],
            500,
            "the SUM of the parent's and every child's VmHWM",
            at_most=True,
        ),
    ]
    report.checks["rebuild"] = {
        "events": singles[0].events,
        "jobs": args.jobs,
        "processes": n,
        "groups": parallels[0].groups,
        "order": "raw, then Keel's read; then 1 process and parallel, taking turns going first",
        "raw_seconds": [round(r.seconds, 2) for r in raws],
        "keel_read_seconds": [round(k.seconds, 2) for k in keel_reads],
        "rebuild_seconds": [round(b.seconds, 2) for b in singles],
        "parallel_seconds": [round(p.seconds, 2) for p in parallels],
        "raw_cpu_seconds": [round(r.cpu_seconds, 2) for r in raws],
        "rebuild_cpu_seconds": [round(b.cpu_seconds, 2) for b in singles],
        "parallel_cpu_seconds": [round(p.cpu_seconds, 2) for p in parallels],
        "raw_peak_rss_mb": [round(r.peak_rss_mb) for r in raws],
        "parallel_peak_rss_parts_mb": [[round(m) for m in p.peak_rss_parts_mb] for p in parallels],
    }


def _latency_figure(
    args: argparse.Namespace, small: tuple[Path, Manifest], big: tuple[Path, Manifest],
    tmp: Path, report: Report,
) -> None:  # fmt: skip
    console.rule(f"(f) view GETs: {small[1].events:,} vs {big[1].events:,} events")
    times = latency.measure(
        tmp,
        [("small", *small), ("big", *big)],
        requests=args.requests,
        warmup=args.warmup_requests,
        teams=args.latency_teams,
        say=console.print,
    )
    errors = [e for t in times for e in t.errors]
    teams = [len(small[1].teams), len(big[1].teams)]
    for name, _ in latency.ENDPOINTS:
        lats = [Latency(name, f"{t.events:,}", t.times_ms.get(name, [0.0, 0.0])) for t in times]
        report.latencies += lats
        p99 = [lat.summary()["p99_ms"] for lat in lats]
        ratio = p99[1] / p99[0] if p99[0] else float("inf")
        report.ratios.append(Ratio(f"p99 {name}: big / small", [ratio], 1.5, at_most=True))
    report.checks["latency"] = {
        "errors": len(errors),
        "error_samples": errors[:10],
        "teams_read": {
            t.name: min(args.latency_teams, n) for t, n in zip(times, teams, strict=True)
        },
        "server_rss_mb": {t.name: round(t.rss_mb) for t in times},
        "server_busy_after_ready_s": {t.name: t.quiet_after_s for t in times},
    }


def _checkin_figure(args: argparse.Namespace, small_dir: Path, tmp: Path, report: Report) -> None:
    console.rule("(g) POST /v1/teams/{id}/check-ins against a bare FastAPI POST")
    sweep = checkin_rate.measure(
        tmp,
        small_dir,
        rounds=args.rounds,
        seconds=args.seconds,
        warmup=args.warmup,
        connections=args.connections,
        say=console.print,
    )
    for level, run in sweep.levels.items():
        bare, keel = run.rates()
        report.rates += [
            Rate(f"bare FastAPI check-in POST, {level} connections", "requests/s", bare),
            Rate(f"Keel check-in POST, {level} connections", "requests/s", keel),
        ]
        report.ratios.append(
            Ratio(
                f"Keel / bare at {level} connections",
                [k / b for k, b in zip(keel, bare, strict=True)],
                None,
                "median of the per-round ratios at this level (the target is below)",
            )
        )
    bare, keel = sweep.best.rates()
    report.rates += [
        Rate(f"bare FastAPI check-in POST, its best: {sweep.bare_level}", "requests/s", bare),
        Rate(f"Keel check-in POST, its best: {sweep.keel_level}", "requests/s", keel),
    ]
    # By Little's law, with a closed loop: the mean round trip is connections / rate.
    round_trips = {
        "bare": round(1000 * sweep.bare_level / statistics.median(bare), 1),
        "keel": round(1000 * sweep.keel_level / statistics.median(keel), 1),
    }
    report.ratios.append(
        Ratio(
            "Keel check-in POST / bare POST, each at its best level",
            [k / b for k, b in zip(keel, bare, strict=True)],
            0.6,
            f"a last pass, Keel with {sweep.keel_level} connections and bare with "
            f"{sweep.bare_level} taking turns; median of the per-round ratios; each Keel "
            f"round includes its view catch-up; mean round trip {round_trips['keel']} ms "
            f"(Keel), {round_trips['bare']} ms (bare)",
        )
    )
    runs = [*sweep.levels.values(), sweep.best]
    report.checks["checkin_http"] = {
        "connections": args.connections,
        "best_level": {"bare": sweep.bare_level, "keel": sweep.keel_level},
        "mean_round_trip_ms_at_best": round_trips,
        "errors": sum(run.errors for run in runs),
        "statuses_bare": _statuses([r for run in runs for r in run.bare]),
        "statuses_keel": _statuses([r for run in runs for r in run.keel]),
        "error_samples": [s for run in runs for r in run.bare + run.keel for s in r.samples][:10],
        "keel_catch_up_seconds": {
            **{level: run.catch_up_seconds for level, run in sweep.levels.items()},
            "best": sweep.best.catch_up_seconds,
        },
        "body_bytes": sweep.best.body_bytes,
    }


def _so_far(report: Report) -> None:
    report.print(console)
    report.write(WORK_LIFE_RESULTS)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.without_alerts:
        servers.KEEL_ENV["KEEL_RUN_ALERTS"] = "false"
    if args.followers is not None:
        servers.KEEL_ENV["KEEL_FOLLOWERS"] = args.followers
    report = Report(settings=vars(args))
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name: str, since: float) -> float:
        timings[name] = round(time.perf_counter() - since, 1)
        return time.perf_counter()

    small = _log(args.small_events, args.seed, report, "small")
    big = _log(args.events, args.seed, report, "big")
    mark = timed("d_logs", started)
    with tempfile.TemporaryDirectory(prefix="keel-bench-wl-") as name:
        tmp = Path(name)
        # Each figure is printed and written as soon as it is measured, so a failure
        # later in the run (a server killed from outside, say) loses only its own.
        if "e" in args.only:
            _rebuild_figure(args, big[0], report)
            mark = timed("e_rebuild", mark)
            _so_far(report)
        if "f" in args.only:
            _latency_figure(args, small, big, tmp, report)
            mark = timed("f_latency", mark)
            _so_far(report)
        if "g" in args.only:
            _checkin_figure(args, small[0], tmp, report)
            mark = timed("g_checkin", mark)
    report.checks["seconds"] = {**timings, "total": round(time.perf_counter() - started, 1)}
    console.rule("results")
    report.print(console)
    console.print(f"seconds per part: {report.checks['seconds']}")
    console.print(f"written to {report.write(WORK_LIFE_RESULTS)}")
    errors = report.checks.get("checkin_http", {}).get("errors", 0)
    errors += report.checks.get("latency", {}).get("errors", 0)
    if errors:
        console.print(f"[red]{errors} HTTP requests failed: the figures are suspect[/]")
    return 0 if (report.passed and not errors) or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
