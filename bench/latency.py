"""Figure (f): response times of each view GET on a small log and on a big one.

Two `keel serve` processes (one worker each, default settings) run side by side, one
on each log. Requests are sequential, one at a time on a keep-alive connection, and
go round the endpoints (and round several teams, members and goals), the two servers
taking turns request by request, so noise on this shared machine falls on both alike. Each
team view is asked for by the team's manager (X-Keel-Actor), who sees it whole.
"""

from __future__ import annotations

import http.client
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.http_rate import _wait_views
from bench.logcache import Manifest, TeamInfo
from bench.servers import HOST, Server, free_port, start_keel

# (name, path template): {t} team, {m} member, {g} goal.
ENDPOINTS = [
    ("morale?granularity=week", "/v1/teams/{t}/morale?granularity=week"),
    ("morale?granularity=day", "/v1/teams/{t}/morale?granularity=day"),
    ("progress", "/v1/teams/{t}/progress"),
    ("recognition", "/v1/teams/{t}/recognition"),
    ("participation", "/v1/teams/{t}/participation"),
    ("blockers", "/v1/teams/{t}/blockers"),
    ("members/{id}/journal", "/v1/members/{m}/journal"),
    ("goals/{id}/history", "/v1/goals/{g}/history"),
    ("goal-churn", "/v1/teams/{t}/goal-churn"),
]


@dataclass
class LogTimes:
    name: str
    events: int
    times_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    rss_mb: float = 0.0  # the server's resident memory after the timed requests
    quiet_after_s: float = 0.0  # how long its start-up work went on after /readyz


def _chosen(teams: list[TeamInfo], count: int) -> list[TeamInfo]:
    """Up to `count` teams, spread from the start of the log to its end."""
    step = max(1, len(teams) // count)
    return teams[::step][:count]


def _targets(chosen: list[TeamInfo]) -> Iterator[tuple[TeamInfo, str, str]]:
    """Endless (team, member, goal) triples over the chosen teams."""
    for i in itertools.count():
        team = chosen[i % len(chosen)]
        k = i // len(chosen)
        yield team, team.members[k % len(team.members)], team.goals[k % len(team.goals)]


class _Client:
    """Sequential GETs on one keep-alive connection, each timed end to end."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def get(self, path: str, actor: str) -> tuple[int, float, bytes]:
        try:
            return self._get(path, actor)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # uvicorn closes a keep-alive connection idle for 5 s (while the other
            # server starts, say): open a new one and time the request on it.
            self.conn.close()
            return self._get(path, actor)

    def _get(self, path: str, actor: str) -> tuple[int, float, bytes]:
        started = time.perf_counter()
        self.conn.request("GET", path, headers={"X-Keel-Actor": actor})
        response = self.conn.getresponse()
        body = response.read()
        return response.status, (time.perf_counter() - started) * 1000, body

    def close(self) -> None:
        self.conn.close()


@dataclass
class _Side:
    """One log under test: its server, a client, and where the requests go next."""

    server: Server
    client: _Client
    times: LogTimes
    chosen: list[TeamInfo]
    targets: Iterator[tuple[TeamInfo, str, str]]

    def warm(self) -> None:
        """Load every journal and goal the timed requests will read, so both servers
        start with an equally warm aggregate cache and no timed GET is a first load."""
        for team in self.chosen:
            paths = [f"/v1/members/{m}/journal" for m in team.members]
            paths += [f"/v1/goals/{g}/history" for g in team.goals]
            for path in paths:
                self.client.get(path, team.manager)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


def _iteration(sides: list[_Side], record: bool) -> None:
    """Each endpoint once on every log, the logs taking turns request by request, so a
    burst of noise on this shared machine hits both logs alike."""
    paths = []
    for side in sides:
        team, member, goal = next(side.targets)
        paths.append([(t.format(t=team.id, m=member, g=goal), team.manager) for _, t in ENDPOINTS])
    for i, (name, _) in enumerate(ENDPOINTS):
        for side, mine in zip(sides, paths, strict=True):
            path, actor = mine[i]
            status, ms, body = side.client.get(path, actor)
            if status != 200:
                side.times.errors.append(f"{status} {path}: {body[:200]!r}")
            elif record:
                side.times.times_ms.setdefault(name, []).append(ms)


def measure(
    workdir: Path,
    logs: list[tuple[str, Path, Manifest]],
    *,
    requests: int,
    warmup: int,
    teams: int,
    say: Callable[[str], None],
) -> list[LogTimes]:
    """`requests` timed GETs per endpoint and log, after `warmup` untimed rounds."""
    sides: list[_Side] = []
    try:
        for name, data_dir, manifest in logs:
            port = free_port()
            server = start_keel(port, data_dir, workdir / f"keel-{name}.log")
            chosen = _chosen(manifest.teams, teams)
            side = _Side(server, _Client(port), LogTimes(name, manifest.events), chosen,
                         _targets(chosen))  # fmt: skip
            sides.append(side)
            _wait_views(port, timeout=600)
        for side in sides:
            side.times.quiet_after_s = round(side.server.wait_quiet(), 1)
            say(f"the {side.times.name} server was idle {side.times.quiet_after_s} s after ready")
            side.warm()
        for _ in range(warmup):
            _iteration(sides, record=False)
        for i in range(requests):
            _iteration(sides, record=True)
            if (i + 1) % max(1, requests // 4) == 0:
                say(f"{i + 1}/{requests} requests per endpoint on each log")
        for side in sides:
            side.times.rss_mb = side.rss_mb()
        return [side.times for side in sides]
    except Exception:
        for side in sides:
            say(f"--- last lines of {side.server.log} ---\n{side.server.tail()}")
        raise
    finally:
        for side in sides:
            side.client.close()
            side.server.stop()
