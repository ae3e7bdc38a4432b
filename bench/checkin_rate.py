"""Figure (g): Keel's `POST /v1/teams/{id}/check-ins` against a bare FastAPI POST.

The same method as figure (b) (bench/http_rate.py): both servers up for the whole
run, one uvicorn worker each, the same load client driving them in turn, and Keel's
rounds charged for their views' catch-up. Keel serves a copy of the small benchmark
log, plus a few teams whose members joined sixty years ago: each member walks
backwards through past workdays, so every check-in is a new (member, day) and none is
refused (a second check-in on one day would be a 409).

The rate of a server is what it sustains when loaded, so the figure sweeps the number
of connections (by default 12, 32 and 64) and measures both servers at each level.
A closed-loop client with few connections measures round trips, not capacity: the
bare server does a request in one process and is saturated from 12 connections on,
while Keel's request crosses a second process and a disk sync, so its round trip is
longer and 12 connections leave its cores partly idle. The sweep picks each server's
best level (the highest median), and a last pass measures the two again, each at its
own level, taking turns as at every level: the target is on that pass, so the rounds
it pairs are neighbours in time, and the choice of level does not pick its own noise.
"""

from __future__ import annotations

import itertools
import shutil
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.http_rate import HttpRun, _wait_views, alternate
from bench.loadgen import RequestFactory, post_json
from bench.servers import HOST, Server, free_port, request, start_keel
from domain import calendar

MEMBERS_PER_TEAM = 10
# Far enough back that a run does not walk past it: at 2,000 check-ins a second, the
# 40 members use up a year of workdays every 5 s (nine rounds of 6 s once reached the
# ten years this was; 60 years last about 5 minutes of load).
JOINED = timedelta(days=365 * 60)


def _body(member: str, day: date, mood: int) -> bytes:
    # Every body has the same length: a uuid, an ISO day and a one-digit mood.
    return (
        b'{"member_id":"%s","day":"%s","mood":%d,"progress":["shipped the fix"],'
        b'"setbacks":[],"wins":["release went out"],"blockers":[],"private_note":null}'
        % (member.encode(), day.isoformat().encode(), mood)
    )


class Days:
    """Each member's last check-in day, so that a member's next one is the workday
    before it: never repeated, whichever connection or level of the sweep sends it."""

    def __init__(self) -> None:
        self._last: dict[str, date] = {}

    def before_last(self, member: str) -> date:
        day = self._last.get(member, calendar.today())
        while True:
            day -= timedelta(days=1)
            if day.weekday() < 5:
                self._last[member] = day
                return day


def _factories(
    port: int, teams: dict[str, list[str]], connections: int, days: Days
) -> list[RequestFactory]:
    pairs = [(team, m) for team, members in teams.items() for m in members]
    if connections > len(pairs):
        raise ValueError(f"{connections} connections need at least as many members")

    def factory(mine: list[tuple[str, str]]) -> RequestFactory:
        turns = itertools.cycle(mine)
        moods = itertools.cycle([3, 4, 2, 5, 3, 1])

        def next_request() -> bytes:
            team, member = next(turns)
            body = _body(member, days.before_last(member), next(moods))
            return post_json(HOST, port, f"/v1/teams/{team}/check-ins", body)

        return next_request

    return [factory(pairs[i::connections]) for i in range(connections)]


def _setup_keel(port: int, teams: int) -> dict[str, list[str]]:
    joined = (calendar.today() - JOINED).isoformat()
    made: dict[str, list[str]] = {}
    for t in range(teams):
        team = {"name": f"Check-in team {t}", "manager": f"boss-{t}", "occurred_on": joined}
        status, body = request(port, "POST", "/v1/teams", team)
        if status != 201:
            raise RuntimeError(f"forming a team answered {status}: {body}")
        members = made.setdefault(str(body["id"]), [])
        for i in range(MEMBERS_PER_TEAM):
            member = {"name": f"Person {t}-{i}", "role": "engineer", "occurred_on": joined}
            status, added = request(port, "POST", f"/v1/teams/{body['id']}/members", member)
            if status != 201:
                raise RuntimeError(f"adding a member answered {status}: {added}")
            members.append(str(added["id"]))
    return made


@dataclass
class Sweep:
    levels: dict[int, HttpRun]  # both servers at each number of connections
    bare_level: int  # the level at which each server's median rate was highest
    keel_level: int
    best: HttpRun  # the last pass: bare at bare_level, Keel at keel_level


def _best(runs: dict[int, HttpRun], rates: Callable[[HttpRun], list[float]]) -> int:
    return max(runs, key=lambda level: statistics.median(rates(runs[level])))


def measure(
    workdir: Path,
    log_dir: Path,
    *,
    rounds: int,
    seconds: float,
    warmup: float,
    connections: list[int],
    say: Callable[[str], None],
) -> Sweep:
    """Both servers at each number of connections, in the order given, then each at
    its best level."""
    data = workdir / "checkin-keel-data"
    shutil.copytree(log_dir, data, ignore=shutil.ignore_patterns("manifest.json"))
    bare_port, keel_port = free_port(), free_port()
    servers: list[Server] = []
    try:
        bare_argv = [sys.executable, "-m", "bench.bare_checkin", "--port", str(bare_port)]
        servers.append(Server("bare", bare_argv, bare_port, workdir / "bare-checkin.log", {}))
        keel_server = start_keel(keel_port, data, workdir / "keel-checkin.log")
        servers.append(keel_server)
        _wait_views(keel_port, timeout=120)
        keel_server.wait_quiet()  # its start-up work done (see Server.wait_quiet)
        # At least four members a connection at the widest level, as before the sweep.
        widest = max(connections)
        teams = _setup_keel(keel_port, max(1, -(-widest * 4 // MEMBERS_PER_TEAM)))
        _wait_views(keel_port)
        body_bytes = len(_body(next(iter(teams.values()))[0], date.today(), 3))
        bare_days, keel_days = Days(), Days()
        runs: dict[int, HttpRun] = {}
        for level in connections:
            say(f"{level} connections")
            bare = _factories(bare_port, teams, level, bare_days)
            keel = _factories(keel_port, teams, level, keel_days)
            run = runs[level] = HttpRun(body_bytes=body_bytes)
            alternate(run, (bare_port, bare), (keel_port, keel), warmup, rounds, seconds, say)
        bare_level = _best(runs, lambda run: run.rates()[0])
        keel_level = _best(runs, lambda run: run.rates()[1])
        say(f"each at its best: bare with {bare_level} connections, Keel with {keel_level}")
        best = HttpRun(body_bytes=body_bytes)
        bare = _factories(bare_port, teams, bare_level, bare_days)
        keel = _factories(keel_port, teams, keel_level, keel_days)
        alternate(best, (bare_port, bare), (keel_port, keel), warmup, rounds, seconds, say)
        return Sweep(runs, bare_level, keel_level, best)
    except Exception:
        for server in servers:
            say(f"--- last lines of the {server.name} server's output ---\n{server.tail()}")
        raise
    finally:
        for server in servers:
            server.stop()
