"""`keel serve`'s followers in a process of their own, supervised by the server.

The view runner and the alert process follow the log. In the API's own process they
share its one GIL with every request: under a stream of check-ins they took about as
much CPU as the requests themselves, in small pages, and slowed each request as well.
As a child process (`keel follow`) they run on another core and read the log in larger
pages. So by default (KEEL_FOLLOWERS=process) the server starts them as a child when
it starts, starts them again if they die, and stops them when it stops.
KEEL_FOLLOWERS=threads keeps them in the API's process, as on a one-core machine.

The child is `keel follow` with exactly the server's settings (passed in its
environment), so it follows the same store. Two pipes join them:
- the child's stdin: the server writes a line whenever it saves, as it would nudge its
  own threads, so views and alerts follow a write at once instead of at the next poll.
  Its end tells the child that the server is gone, even one killed outright;
- a status pipe: once a second the child writes a line of JSON, whether its alert
  process is evaluating (not while it reads its state back after a start) and what
  is failing, which the server's /readyz shows (`status`, `down`).
The NATS relays, when `keel serve` runs them, run in the child too: the alerts are
recorded there, and a relay beside them hears of each one at once. Nothing is lost
between the two processes: each view and the alert process keep their positions in
the store, and a restarted child carries on from there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from services.settings import Settings

log = logging.getLogger(__name__)

# Seconds to wait before starting a child that died, growing while it keeps dying.
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
# A child that ran this long before dying starts again after the shortest delay.
HEALTHY_SECONDS = 60.0
STOP_TIMEOUT = 30.0


def restart_delay(failures: int) -> float:
    """Seconds before starting a child again after `failures` early deaths in a row."""
    return RESTART_DELAYS[min(failures, len(RESTART_DELAYS)) - 1]


class FollowerProcess:
    def __init__(self, settings: Settings, *, views: bool, alerts: bool, relays: bool) -> None:
        self._settings = settings
        self._flags = [] if views else ["--no-views"]
        self._flags += [] if alerts else ["--no-alerts"]
        self._flags += ["--relays"] if relays else []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        # What the running child last said about itself; None until it says anything.
        self.status: dict[str, Any] | None = None
        # Why the last child is gone (None while one runs, or before the first).
        self._down: str | None = None

    @property
    def down(self) -> str | None:
        """Why the followers are not running, or None when they are (and have said so)."""
        if self._down is None and self.status is None:
            return "starting"
        return self._down

    def command(self, status_fd: int) -> list[str]:
        return [
            sys.executable,
            *("-m", "services.cli", "follow", "--every", "0"),
            *("--parent", str(os.getpid()), "--status-fd", str(status_fd)),
            *self._flags,
        ]

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._supervise, name="keel-follower-process", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.error("the follower process did not stop in %s s; killing it", STOP_TIMEOUT)
                process.kill()
                process.wait()
        if process is not None:
            self._reaped(process)
        if self._thread is not None:
            self._thread.join()

    def nudge(self, _position: int | None = None) -> None:
        """Something was saved: wake the child's followers (they also poll, which is
        all they have for saves made by other processes)."""
        with self._lock:  # not while `_reaped` closes the pipe
            stdin = self._process.stdin if self._process is not None else None
            if stdin is None or stdin.closed:
                return
            with contextlib.suppress(OSError):  # full, or the child is gone: it polls anyway
                os.write(stdin.fileno(), b"\n")

    def _reaped(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if process.stdin is not None:
                process.stdin.close()

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        env = self._settings.child_environment()
        status_read, status_write = os.pipe()
        try:
            with self._lock:
                if self._stopping.is_set():
                    return None
                # A session of its own: a Ctrl-C in the terminal reaches the server,
                # which stops the child itself; the child must not race it to exit first.
                process = subprocess.Popen(
                    self.command(status_write),
                    env=env,
                    start_new_session=True,
                    stdin=subprocess.PIPE,
                    pass_fds=(status_write,),
                )
                assert process.stdin is not None
                # A nudge must never wait for the child: one that does not fit is dropped.
                os.set_blocking(process.stdin.fileno(), False)
                self._process = process
                self.status = None
                self._down = None
        except BaseException:
            os.close(status_read)
            raise
        finally:
            os.close(status_write)  # the child holds the only writing end
        threading.Thread(
            target=self._read_status, args=(status_read,), name="keel-follower-status", daemon=True
        ).start()
        return process

    def _read_status(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as lines:
            for line in lines:
                with contextlib.suppress(ValueError):  # a line cut short by the child's end
                    self.status = json.loads(line)

    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                process = self._spawn()
            except Exception as error:  # say, out of file descriptors: try again later
                log.exception("the follower process could not start")
                self._down = f"its process could not start ({error}); retrying"
                failures += 1
            else:
                if process is None:
                    return
                code = process.wait()
                self._reaped(process)
                if self._stopping.is_set():
                    return
                self._down = f"its process exited with {code}; restarting"
                self.status = None
                failures = 1 if time.monotonic() - started > HEALTHY_SECONDS else failures + 1
            delay = restart_delay(failures)
            log.error("the follower process is down (%s); next start in %s s", self._down, delay)
            if self._stopping.wait(delay):
                return
