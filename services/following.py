"""Following a log in a thread: read pages until there is nothing new, then wait for a
nudge (a save in this process) or the poll interval (saves elsewhere; SQLite has no
subscriptions). The view runner and the alert process both follow Keel's log so."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

# Under a stream of saves (BUSY events a second or more), the shortest time from one
# read of the log to the next (see `_follow`).
PAUSE = 0.1
BUSY = 500.0


class LogFollower:
    thread_name = "keel-follower"

    def __init__(self, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def process_page(self) -> int:
        """Process the next page of the log; return how many events it held."""
        raise NotImplementedError

    def page_failed(self, error: Exception) -> None:
        """A page could not be processed; it is tried again after the poll interval."""
        log.exception("%s failed to process a page; retrying", self.thread_name)

    def page_processed(self) -> None:
        """Every page up to the head was processed."""

    def nudge(self, _position: int | None = None) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _follow(self) -> None:
        previous = time.monotonic()
        while not self._stopping.is_set():
            # Clear before reading, so a nudge that lands mid-page is not lost.
            self._wake.clear()
            read_at, events = time.monotonic(), 0
            try:
                while (page := self.process_page()) and not self._stopping.is_set():
                    events += page
                self.page_processed()
            except Exception as error:  # keep following: a blip must not stop the follower
                self.page_failed(error)
            self._wake.wait(self.poll_interval)
            # Under a stream of saves, a nudge comes with every commit: reading at
            # each would fold pages of a few events, at several times the cost per
            # event. So while the log grows by BUSY events a second or more, reads
            # start at most every PAUSE; below that, a follower answers each nudge at
            # once (an alert follows its check-in within milliseconds). Under the
            # check-in benchmark's load, 100 ms instead of 20 took a sixth off the
            # followers' share of the two cores (+18% check-ins a second, median of
            # six alternating rounds; 250 ms gained nothing more).
            if events >= BUSY * (read_at - previous):
                self._stopping.wait(PAUSE - (time.monotonic() - read_at))
            previous = read_at
