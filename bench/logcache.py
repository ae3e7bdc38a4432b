"""The work-life benchmark log: generated once per (teams, seed), kept on disk, reused.

A log is sized by its number of teams, so a team's own history is the same in a small
log and a big one (about 5,300 events a team: 1,000,000 events is ~190 teams). Each
team is built in memory (bench/worklog.py) and saved with one `keel.save(...)` call,
one transaction, through Keel's own mapper, so personal texts are sealed exactly as in
production. The views are then folded once, so a server started on the log is ready.

The log lives in `$KEEL_BENCH_CACHE` (default: <tmp>/keel-bench-logs), one directory per
size and seed; `manifest.json` is written last and marks a complete log.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.worklog import TeamHistory, team_history
from domain import calendar
from domain.journal import Journal
from services.bootstrap import Container, bootstrap
from services.settings import Settings

EVENTS_PER_TEAM = 5_300
SEED = 7


@dataclass
class TeamInfo:
    id: str
    manager: str  # the name the team records as its manager (X-Keel-Actor for views)
    members: list[str]
    goals: list[str]


@dataclass
class Manifest:
    teams: list[TeamInfo]
    events: int
    generate_seconds: float
    views_seconds: float

    @classmethod
    def load(cls, path: Path) -> Manifest:
        raw = json.loads(path.read_text())
        return cls(**{**raw, "teams": [TeamInfo(**t) for t in raw["teams"]]})


def teams_for(events: int) -> int:
    return max(1, round(events / EVENTS_PER_TEAM))


def cache_root() -> Path:
    default = Path(tempfile.gettempdir()) / "keel-bench-logs"
    return Path(os.environ.get("KEEL_BENCH_CACHE", default))


def settings(data_dir: Path) -> Settings:
    """Default settings on `data_dir`: the benchmarks measure what production runs."""
    return Settings(store="sqlite", data_dir=data_dir)


def _info(history: TeamHistory) -> TeamInfo:
    return TeamInfo(
        id=str(history.team.id),
        manager=history.team.manager,
        members=[str(j.member_id) for j in history.journals],
        goals=[str(g.id) for g in history.goals],
    )


def _check_sealed(container: Container, history: TeamHistory) -> None:
    """The stored check-ins must be sealed by the app's mapper, and open again on read."""
    journal = history.journals[0]
    stored = container.keel.recorder.select_events(journal.id, gt=1, limit=1)
    if not stored:
        raise RuntimeError("no check-in was stored")
    if b"sealed:v1:" not in stored[0].state:
        raise RuntimeError(f"a stored check-in is not sealed: {stored[0].state[:200]!r}")
    event: Any = container.keel.mapper.to_domain_event(stored[0])
    if not isinstance(event, Journal.CheckedIn) or "sealed:" in json.dumps(event.progress):
        raise RuntimeError("a stored check-in does not open again")


def generate(data_dir: Path, teams: int, seed: int, progress: Callable[[int], None]) -> Manifest:
    """Write `teams` teams' histories into an empty `data_dir`; fold the views."""
    started = time.perf_counter()
    # No aggregate cache: the generator never reads back, and the cache would hold
    # every saved journal in memory.
    container = bootstrap(settings(data_dir).model_copy(update={"aggregate_cache_size": 0}))
    try:
        infos = []
        today = calendar.today()
        for number in range(1, teams + 1):
            history = team_history(number, seed, today)
            count = history.events
            container.keel.save(*history.aggregates)
            if number == 1:
                _check_sealed(container, history)
            infos.append(_info(history))
            progress(count)
        written = time.perf_counter() - started
        container.runner.catch_up()
        folded = time.perf_counter() - started - written
        head = container.keel.head()
    finally:
        container.close()
    return Manifest(infos, head, round(written, 1), round(folded, 1))


def ensure(
    teams: int, seed: int, progress: Callable[[int], None], say: Callable[[str], None]
) -> tuple[Path, Manifest]:
    """The cached log of `teams` teams, generated first if it is not there yet."""
    data_dir = cache_root() / f"teams{teams}-seed{seed}"
    marker = data_dir / "manifest.json"
    if marker.exists():
        manifest = Manifest.load(marker)
        say(f"reusing the cached log in {data_dir} ({manifest.events:,} events)")
        return data_dir, manifest
    if data_dir.exists():
        shutil.rmtree(data_dir)  # an interrupted generation
    data_dir.mkdir(parents=True)
    manifest = generate(data_dir, teams, seed, progress)
    marker.write_text(json.dumps(asdict(manifest)) + "\n")
    say(
        f"generated {manifest.events:,} events in {manifest.generate_seconds:.0f} s "
        f"(+{manifest.views_seconds:.0f} s folding the views) into {data_dir}"
    )
    return data_dir, manifest
