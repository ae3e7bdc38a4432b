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

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.median >= self.target


@dataclass
class Report:
    settings: dict[str, Any]
    rates: list[Rate] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

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
        console.print(rates)
        ratios = Table("ratio", "median", "target", "result", "samples", title="Ratios")
        for q in self.ratios:
            verdict = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "-"}[q.passed]
            target = f">= {q.target:.2f}" if q.target is not None else "(info)"
            samples = ", ".join(f"{s:.3f}" for s in q.samples)
            ratios.add_row(q.name, f"{q.median:.3f}", target, verdict, samples)
        console.print(ratios)
        for q in self.ratios:
            if q.note:
                console.print(f"[dim]{q.name}: {q.note}[/]")
