"""The results: rates and ratios, printed as a table and written as JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


@dataclass
class Rate:
    """A measured rate: the median over its repetitions, with every sample kept."""

    name: str
    unit: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


@dataclass
class Ratio:
    """A ratio of two rates measured in the same run, with the target it must reach."""

    name: str
    samples: list[float]
    target: float | None = None
    note: str = ""
    at_most: bool = False  # the target is a ceiling (latency, memory), not a floor

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.median <= self.target if self.at_most else self.median >= self.target

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "(info)"
        return f"{'<=' if self.at_most else '>='} {self.target:g}"


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the closest ranks."""
    return statistics.quantiles(samples, n=100, method="inclusive")[round(q) - 1]


@dataclass
class Latency:
    """Response times of one endpoint on one log, in milliseconds."""

    name: str
    log: str
    samples_ms: list[float]

    def summary(self) -> dict[str, Any]:
        s = self.samples_ms
        return {
            "name": self.name,
            "log": self.log,
            "requests": len(s),
            "p50_ms": round(percentile(s, 50), 2),
            "p90_ms": round(percentile(s, 90), 2),
            "p99_ms": round(percentile(s, 99), 2),
            "max_ms": round(max(s), 2),
        }


@dataclass
class Report:
    settings: dict[str, Any]
    rates: list[Rate] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    latencies: list[Latency] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed is not False for r in self.ratios)

    def to_json(self) -> dict[str, Any]:
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
            },
            "settings": self.settings,
            "rates": [{**asdict(r), "median": r.median} for r in self.rates],
            "ratios": [{**asdict(r), "median": r.median, "passed": r.passed} for r in self.ratios],
            "latencies": [lat.summary() for lat in self.latencies],
            "checks": self.checks,
            "passed": self.passed,
        }

    def write(self, path: Path = RESULTS) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path

    def print(self, console: Console) -> None:
        rates = Table("rate", "median", "unit", "samples", title="Rates")
        for r in self.rates:
            samples = ", ".join(f"{s:,.0f}" for s in r.samples)
            rates.add_row(r.name, f"{r.median:,.0f}", r.unit, samples)
        if self.rates:
            console.print(rates)
        if self.latencies:
            self._print_latencies(console)
        ratios = Table("figure", "median", "target", "result", "samples", title="Ratios")
        for q in self.ratios:
            verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "-"}[q.passed]
            shown = q.samples[:6]
            samples = ", ".join(f"{s:.3f}" for s in shown)
            more = f" (+{len(q.samples) - len(shown)} more)" if len(shown) < len(q.samples) else ""
            ratios.add_row(q.name, f"{q.median:.3f}", q.target_text, verdict, samples + more)
        console.print(ratios)
        for q in self.ratios:
            if q.note:
                console.print(f"[dim]{q.name}: {q.note}[/]")

    def _print_latencies(self, console: Console) -> None:
        table = Table("GET", "log", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms")
        table.title = "Latencies"
        for lat in self.latencies:
            s = lat.summary()
            table.add_row(
                s["name"],
                s["log"],
                str(s["requests"]),
                *(f"{s[k]:.1f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
            )
        console.print(table)
