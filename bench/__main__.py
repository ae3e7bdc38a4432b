"""`python -m bench`: measure every figure in one run and report them as ratios."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bench import es_save, http_rate, rebuild
from bench.loadgen import LoadResult
from bench.report import Rate, Ratio, Report

SAVE = "eventsourcing save (plain Application)"
BARE = "bare FastAPI POST"
KEEL = "Keel POST /v1/goals/{id}/target"
RAW = "raw read + decode of the log"
REBUILD = "projection rebuild (runner.rebuild)"

# On a pipe rich assumes 80 columns, which wraps the tables; a log can be wider.
console = Console(width=None if sys.stdout.isatty() else 120)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--only", default="abc", help="which figures to run, e.g. 'b' (default abc)")
    p.add_argument("--events", type=int, default=100_000, help="log size for (c)")
    p.add_argument("--repeats", type=int, default=3, help="repetitions of (a) and (c)")
    p.add_argument("--save-seconds", type=float, default=2.0, help="each (a) repetition")
    p.add_argument("--rounds", type=int, default=3, help="(bare, keel) pairs for (b)")
    p.add_argument("--seconds", type=float, default=6.0, help="each (b) measurement")
    p.add_argument("--warmup", type=float, default=2.0, help="(b) warm-up per server")
    p.add_argument("--connections", type=int, default=12, help="(b) keep-alive connections")
    p.add_argument("--goals", type=int, default=50, help="(b) goals the changes spread over")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args(argv)


def _save_figure(args: argparse.Namespace, tmp: Path, report: Report) -> None:
    console.rule("(a) eventsourcing's own save rate")
    samples = []
    for i in range(args.repeats):
        samples.append(es_save.save_rate(tmp / f"plain-{i}", args.save_seconds))
        console.print(f"repeat {i + 1}/{args.repeats}: {samples[-1]:,.0f} events/s")
    report.rates.append(Rate(SAVE, "events/s", samples))


def _statuses(results: list[LoadResult]) -> dict[str, int]:
    total: Counter[int] = Counter()
    for result in results:
        total.update(result.statuses)
    return {str(status): count for status, count in sorted(total.items())}


def _http_figure(args: argparse.Namespace, tmp: Path, report: Report) -> None:
    console.rule("(b) HTTP: Keel against a bare FastAPI POST")
    run = http_rate.measure(
        tmp / "http",
        rounds=args.rounds,
        seconds=args.seconds,
        warmup=args.warmup,
        connections=args.connections,
        goals=args.goals,
        say=console.print,
    )
    bare, keel = run.rates()
    report.rates += [Rate(BARE, "requests/s", bare), Rate(KEEL, "requests/s", keel)]
    report.ratios.append(
        Ratio(
            "Keel POST / bare POST",
            [k / b for k, b in zip(keel, bare, strict=True)],
            target=0.6,
            note="median of the per-round ratios; each Keel round includes its view catch-up",
        )
    )
    saves = next((r for r in report.rates if r.name == SAVE), None)
    if saves is not None:
        report.ratios.append(
            Ratio("Keel POST / eventsourcing save", [k / saves.median for k in keel])
        )
    report.checks["http"] = {
        "errors": run.errors,
        "statuses_bare": _statuses(run.bare),
        "statuses_keel": _statuses(run.keel),
        "error_samples": [s for r in run.bare + run.keel for s in r.samples][:10],
        "keel_catch_up_seconds": run.catch_up_seconds,
        "body_bytes": run.body_bytes,
    }


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; on a pipe (CI, `| tee`), a line every tenth."""
    if console.is_terminal:
        columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(label, total=total)
            yield lambda n: progress.advance(task, n)
        return
    done, step = 0, max(total // 10, 1)

    def advance(n: int) -> None:
        nonlocal done
        before, done = done, done + n
        if done // step > before // step:
            console.print(f"{label}: {done:,}/{total:,}")

    yield advance


def _rebuild_figure(args: argparse.Namespace, tmp: Path, report: Report) -> None:
    console.rule(f"(c) projection rebuild against raw read, {args.events:,} events")
    started = time.perf_counter()
    with _progress("writing the log", args.events) as advance:
        head = rebuild.write_log(tmp / "log", args.events, advance)
    generated = time.perf_counter() - started
    console.print(f"wrote {head:,} events in {generated:.1f} s")
    raw_rates, rebuild_rates = rebuild.measure(tmp / "log", args.repeats, console.print)
    report.rates += [Rate(RAW, "events/s", raw_rates), Rate(REBUILD, "events/s", rebuild_rates)]
    report.ratios.append(
        Ratio(
            "rebuild / raw read",
            [r / w for r, w in zip(rebuild_rates, raw_rates, strict=True)],
            target=0.5,
            note="median of the per-repeat ratios",
        )
    )
    report.checks["log"] = {"events": head, "generate_seconds": round(generated, 1)}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    report = Report(settings=vars(args))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="keel-bench-") as name:
        tmp = Path(name)
        if "a" in args.only:
            _save_figure(args, tmp, report)
        if "b" in args.only:
            _http_figure(args, tmp, report)
        if "c" in args.only:
            _rebuild_figure(args, tmp, report)
    report.checks["total_seconds"] = round(time.perf_counter() - started, 1)
    console.rule("results")
    report.print(console)
    path = report.write()
    console.print(f"written to {path}")
    http_errors = report.checks.get("http", {}).get("errors", 0)
    if http_errors:
        console.print(f"[red]{http_errors} HTTP requests failed: the rates are suspect[/]")
    ok = report.passed and not http_errors
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
