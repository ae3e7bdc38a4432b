"""Figure (e): the raw read and the rebuild of one log, each in a fresh process.

`python -m bench.fresh raw|raw-keel|rebuild|rebuild-parallel DATA_DIR [JOBS]` opens the log with
default settings, does one pass, and prints one JSON line: events, seconds, CPU seconds
and peak resident memory (VmHWM, read inside each process, so nothing else the
benchmark ran counts). `rebuild-parallel` rebuilds in JOBS processes (default: as
`keel projections rebuild` chooses, services/rebuilding.py); its peak memory is the SUM
of the parent's VmHWM and every child's, each child reporting its own (the processes run
at the same time, so their peaks may coincide), and its CPU seconds the sum of theirs.
The parent side, `run`, starts that process and reads the line back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import rebuild
from bench.logcache import settings
from bench.servers import ROOT
from services.bootstrap import bootstrap
from services.rebuilding import peak_rss_mb

__all__ = ["KINDS", "Pass", "peak_rss_mb", "run"]

KINDS = ("raw", "raw-keel", "rebuild", "rebuild-parallel")


@dataclass
class Pass:
    kind: str
    events: int
    seconds: float
    # The process's VmHWM; for rebuild-parallel, the sum over the parent and children.
    peak_rss_mb: float
    # CPU time of the pass (and, for rebuild-parallel, all of each child's, imports too).
    cpu_seconds: float = 0.0
    processes: int = 1  # rebuild-parallel: the children, each with its group of views
    # rebuild-parallel: each process's own VmHWM, the parent's first, then each child's.
    peak_rss_parts_mb: list[float] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def run(kind: str, data_dir: Path, jobs: int | None = None) -> Pass:
    """One pass of `kind` over the log in `data_dir`, in a new interpreter."""
    argv = [sys.executable, "-m", "bench.fresh", kind, str(data_dir)]
    if jobs is not None:
        argv.append(str(jobs))
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed:\n{done.stderr[-3000:]}")
    return Pass(**json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in KINDS:
        raise SystemExit(f"usage: python -m bench.fresh {'|'.join(KINDS)} DATA_DIR [JOBS]")
    kind, data_dir = sys.argv[1], Path(sys.argv[2])
    jobs = int(sys.argv[3]) if len(sys.argv) == 4 else None
    container = bootstrap(settings(data_dir))
    cpu = time.process_time()
    try:
        if kind in ("raw", "raw-keel"):
            events, seconds = rebuild.raw_read(container, keels_mapper=kind == "raw-keel")
            result = Pass(kind, events, seconds, 0.0)
        elif kind == "rebuild":
            events, seconds = rebuild.rebuild(container)
            result = Pass(kind, events, seconds, 0.0)
        else:
            events, seconds, children = rebuild.rebuild_parallel(container, jobs)
            result = Pass(
                kind,
                events,
                seconds,
                0.0,
                cpu_seconds=sum(child.cpu_seconds for child in children),
                processes=len(children),
                peak_rss_parts_mb=[child.peak_rss_mb for child in children],
                groups=[list(child.views) for child in children],
            )
        result.cpu_seconds += time.process_time() - cpu
    finally:
        container.close()
    own = peak_rss_mb()
    if kind == "rebuild-parallel":
        result.peak_rss_parts_mb.insert(0, own)
        result.peak_rss_mb = sum(result.peak_rss_parts_mb)
    else:
        result.peak_rss_mb = own
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
