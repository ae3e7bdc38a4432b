"""Figure (b): Keel's `POST /v1/goals/{id}/target` against a bare FastAPI POST.

Both servers run for the whole measurement, each in its own uvicorn process with one
worker, and the same load client drives them in turn (bare, keel, bare, keel, ...), so
slow drifts in the machine's load fall on both alike.

Keel's rounds are charged for the work they leave behind: after each round we wait
until its views have caught up with the log (`/readyz`), and count that time too, so a
runner that falls behind cannot make the write path look cheaper than it is.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import LoadResult, RequestFactory, post_json, run_load
from bench.servers import HOST, Server, free_port, request, start_bare, start_keel


@dataclass
class HttpRun:
    bare: list[LoadResult] = field(default_factory=list)
    keel: list[LoadResult] = field(default_factory=list)
    catch_up_seconds: list[float] = field(default_factory=list)
    body_bytes: int = 0

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.bare + self.keel)

    def rates(self) -> tuple[list[float], list[float]]:
        """Each round's rate: the bare server's, then Keel's."""
        return [r.rate for r in self.bare], [r.rate for r in self.keel]


def _body(n: int) -> bytes:
    # Fixed width, so every request of both servers has the same size, and a new
    # target each time, because setting a goal's current target again is refused (422).
    return b'{"target":%d.0,"reason":"bench change %08d"}' % (1_000_000 + n, n)


def _factories(port: int, goals: list[str], connections: int) -> list[RequestFactory]:
    """One request factory per connection, over disjoint goals: two connections never
    change the same goal at once, so no request can lose an optimistic-concurrency race."""
    sequence = itertools.count()

    def factory(mine: list[str]) -> RequestFactory:
        paths: Iterator[str] = itertools.cycle(f"/v1/goals/{g}/target" for g in mine)
        return lambda: post_json(HOST, port, next(paths), _body(next(sequence)))

    return [factory(goals[i::connections]) for i in range(connections)]


def _setup_keel(port: int, goals: int) -> list[str]:
    status, team = request(port, "POST", "/v1/teams", {"name": "Bench", "manager": "Ada"})
    if status != 201:
        raise RuntimeError(f"forming the team answered {status}: {team}")
    ids = []
    for i in range(goals):
        goal = {
            "title": f"Goal {i}",
            "metric": "count",
            "target": 0.5,
            "unit": "items",
            "due": "2027-12-31",
        }
        status, body = request(port, "POST", f"/v1/teams/{team['id']}/goals", goal)
        if status != 201:
            raise RuntimeError(f"setting a goal answered {status}: {body}")
        ids.append(str(body["id"]))
    return ids


def _wait_views(port: int, timeout: float = 60.0) -> float:
    """Seconds until every Keel view has reached the head of the log."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        status, _ = request(port, "GET", "/readyz")
        if status == 200:
            return time.perf_counter() - started
        time.sleep(0.005)
    raise RuntimeError(f"Keel's views did not catch up within {timeout} s")


def alternate(
    run: HttpRun,
    bare: tuple[int, list[RequestFactory]],
    keel: tuple[int, list[RequestFactory]],
    warmup: float,
    rounds: int,
    seconds: float,
    say: Callable[[str], None],
) -> None:
    """Warm both servers up, then measure them in turn, `rounds` times: alternating
    spreads the machine's noise over both. Keel's time includes its views catching up."""
    say(f"warming up both servers for {warmup:g} s each")
    for port, factories in (bare, keel):
        warm = run_load(HOST, port, factories, warmup, 201)
        if warm.errors:
            raise RuntimeError(f"warm-up on port {port} failed: {warm.samples}")
    _wait_views(keel[0])

    for i in range(rounds):
        b = run_load(HOST, bare[0], bare[1], seconds, 201)
        run.bare.append(b)
        k = run_load(HOST, keel[0], keel[1], seconds, 201)
        lag = _wait_views(keel[0])
        k.seconds += lag
        run.keel.append(k)
        run.catch_up_seconds.append(lag)
        say(
            f"round {i + 1}/{rounds}: bare {b.rate:,.0f}/s ({b.errors} errors), "
            f"keel {k.rate:,.0f}/s ({k.errors} errors, views caught up in {lag:.3f} s)"
        )


def measure(
    workdir: Path,
    *,
    rounds: int,
    seconds: float,
    warmup: float,
    connections: int,
    goals: int,
    say: Callable[[str], None],
) -> HttpRun:
    if connections > goals:
        raise ValueError("need at least one goal per connection")
    workdir.mkdir(parents=True, exist_ok=True)
    bare_port, keel_port = free_port(), free_port()
    servers: list[Server] = []
    try:
        servers.append(start_bare(bare_port, workdir / "bare.log"))
        servers.append(start_keel(keel_port, workdir / "keel-data", workdir / "keel.log"))
        goal_ids = _setup_keel(keel_port, goals)
        _wait_views(keel_port)
        bare = _factories(bare_port, goal_ids, connections)
        keel = _factories(keel_port, goal_ids, connections)
        run = HttpRun(body_bytes=len(_body(0)))

        alternate(run, (bare_port, bare), (keel_port, keel), warmup, rounds, seconds, say)
        return run
    except Exception:
        # The temporary directory goes with the run: show what the servers said first.
        for server in servers:
            say(f"--- last lines of the {server.name} server's output ---\n{server.tail()}")
        raise
    finally:
        for server in servers:
            server.stop()
