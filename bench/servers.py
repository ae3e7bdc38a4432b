"""Start and stop the two servers under test as subprocesses, and talk to them simply.

Each server runs in its own process (never in the benchmark's), so the load client and
the server do not share an interpreter or a GIL.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def environment_without_keel() -> dict[str, str]:
    """This process's environment minus every KEEL_* setting: a server started with it
    runs on exactly the settings given (not, say, a KEEL_STORE=postgres from the shell)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}


class Server:
    """A server subprocess whose output goes to a log file, for post-mortems."""

    def __init__(
        self, name: str, argv: list[str], port: int, log: Path, env: dict[str, str]
    ) -> None:
        self.name, self.port, self.log = name, port, log
        self._log_file: TextIO = log.open("w")
        # No KEEL_* setting leaks in from the caller's shell (say KEEL_STORE=postgres, or
        # KEEL_RUN_PROJECTIONS=false): the server runs on exactly the settings given here.
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**environment_without_keel(), **env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.name} server exited:\n{self.tail()}")
            try:
                status, _ = request(self.port, "GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the {self.name} server did not start in {timeout} s:\n{self.tail()}")

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far: all its threads, its child processes'
        (`keel serve` runs the views and the alert process in one), and those of the
        children it has already reaped."""
        pid = self.process.pid
        return _cpu_seconds(pid, reaped=True) + sum(_cpu_seconds(p) for p in _family(pid)[1:])

    def wait_quiet(self, timeout: float = 900.0, busy: float = 0.1) -> float:
        """Seconds until the server is idle: below `busy` of a core for two seconds in a
        row. A server that is ready may still be working in the background (the alert
        process reads the whole log into memory when it starts), and requests timed
        meanwhile would measure that, not themselves."""
        started = time.monotonic()
        quiet = 0
        while quiet < 2:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the {self.name} server was still busy after {timeout} s")
            before = self.cpu_seconds()
            time.sleep(1.0)
            quiet = quiet + 1 if self.cpu_seconds() - before < busy else 0
        return time.monotonic() - started

    def tail(self, lines: int = 20) -> str:
        """The end of the server's output, to explain a failure."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        # SIGINT is what a developer's Ctrl-C sends: uvicorn shuts down cleanly, which
        # lets Keel's lifespan stop the runner and close its stores.
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._log_file.closed:
            self._log_file.close()


# Extra settings for every Keel server the benchmarks start. Empty unless an option
# asks (say `--followers threads`): the figures are of `keel serve` as it ships.
KEEL_ENV: dict[str, str] = {}


def start_keel(port: int, data_dir: Path, log: Path) -> Server:
    """`keel serve` as production runs it: SQLite, the views and the alert process
    following the log in the server's child process."""
    argv = [str(VENV_BIN / "keel"), "serve", "--port", str(port)]
    env = {"KEEL_DATA_DIR": str(data_dir), "KEEL_PORT": str(port), "KEEL_STORE": "sqlite"}
    return Server("keel", argv, port, log, {**env, **KEEL_ENV})


def start_bare(port: int, log: Path) -> Server:
    argv = [sys.executable, "-m", "bench.bare_app", "--port", str(port)]
    return Server("bare", argv, port, log, {})


def _family(pid: int) -> list[int]:
    """`pid` and every process below it, as far as /proc shows them now."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            with contextlib.suppress(FileNotFoundError):
                queue += [int(child) for child in (task / "children").read_text().split()]
    return found


def _cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """utime + stime of `pid`, and with `reaped` cutime + cstime: its children that
    ended and were waited for."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    fields = [int(f) for f in stat.rsplit(")", 1)[1].split()[11:15]]
    ticks = sum(fields) if reaped else fields[0] + fields[1]
    return ticks / os.sysconf("SC_CLK_TCK")


def request(
    port: int, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """One plain request, for setup and checks (not for load)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "X-Keel-Actor": "bench"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()
