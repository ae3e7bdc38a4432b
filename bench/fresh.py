"""Figure (e): the raw read and the rebuild of one log, each in a fresh process.

`python -m bench.fresh raw|rebuild DATA_DIR` opens the log with default settings, does
one pass, and prints one JSON line: events, seconds and the process's peak resident
memory (VmHWM, read inside the process, so nothing else the benchmark ran counts).
The parent side, `run`, starts that process and reads the line back.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import rebuild
from bench.logcache import settings
from bench.servers import ROOT
from services.bootstrap import bootstrap

KINDS = ("raw", "rebuild")


@dataclass
class Pass:
    kind: str
    events: int
    seconds: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def peak_rss_mb() -> float:
    """This process's high-water resident set, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run(kind: str, data_dir: Path) -> Pass:
    """One pass of `kind` over the log in `data_dir`, in a new interpreter."""
    argv = [sys.executable, "-m", "bench.fresh", kind, str(data_dir)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed:\n{done.stderr[-3000:]}")
    return Pass(**json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    kind, data_dir = sys.argv[1], Path(sys.argv[2])
    if kind not in KINDS:
        raise SystemExit(f"usage: python -m bench.fresh {'|'.join(KINDS)} DATA_DIR")
    container = bootstrap(settings(data_dir))
    try:
        if kind == "raw":
            events, seconds = rebuild.raw_read(container)
        else:
            events, seconds = rebuild.rebuild(container)
    finally:
        container.close()
    line = {"kind": kind, "events": events, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
