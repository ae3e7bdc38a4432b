"""How often a follower reads the log: each nudge at once while saves trickle in, and
at most every PAUSE under a stream of them."""

from __future__ import annotations

import threading
import time

from services.following import BUSY, PAUSE, LogFollower


class Counting(LogFollower):
    """A follower whose log holds `waiting` new events whenever it reads."""

    def __init__(self) -> None:
        super().__init__(poll_interval=5.0)  # longer than the test: only nudges wake it
        self.reads: list[float] = []
        self.waiting = 0
        self.lock = threading.Lock()

    def process_page(self) -> int:
        with self.lock:
            page, self.waiting = self.waiting, 0
        if page:
            self.reads.append(time.monotonic())
        return page

    def saved(self, events: int) -> None:
        with self.lock:
            self.waiting += events
        self.nudge()


def test_a_trickle_of_saves_is_read_at_once() -> None:
    follower = Counting()
    follower.start()
    try:
        lags: list[float] = []
        for _ in range(10):
            time.sleep(PAUSE / 5)  # 50 saves a second, far below BUSY
            saved_at = time.monotonic()
            follower.saved(1)
            while len(follower.reads) < len(lags) + 1:
                time.sleep(0.001)
            lags.append(follower.reads[-1] - saved_at)
    finally:
        follower.stop()
    assert max(lags) < PAUSE / 2, lags


def test_a_stream_of_saves_is_read_at_most_every_pause() -> None:
    follower = Counting()
    follower.start()
    try:
        deadline = time.monotonic() + 4 * PAUSE
        while time.monotonic() < deadline:
            follower.saved(5)  # 5,000 events a second, far above BUSY
            time.sleep(0.001)
    finally:
        follower.stop()
    gaps = [b - a for a, b in zip(follower.reads, follower.reads[1:], strict=False)]
    assert 3 <= len(follower.reads) <= 6, follower.reads
    assert min(gaps) >= PAUSE * 0.95, gaps
    assert BUSY < 5_000
