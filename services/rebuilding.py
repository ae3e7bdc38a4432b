"""Rebuilding the views in parallel processes.

`Runner.rebuild()` folds every view in one process: it reads and decodes each page of
the log once and folds it into every view, so the folds and the writes of all the views
take turns on one core. `rebuild` here splits the views into groups balanced by
`WEIGHTS` and rebuilds each group in a process of its own, started with
multiprocessing's "spawn" context: a fresh interpreter, safe whatever threads and
SQLite connections this process holds. Each child opens the log and its group's view
stores from the same Settings, runs a Runner over those views only, and reads and
decodes the whole log itself: every process pays for the read, the folds and the
writes are shared out. It reports its progress after each page over a queue; the
slowest child sets the progress shown.

A child opens only its own group's stores, not the whole container (`bootstrap`):
opening a view store installs it, indexes included, and would put back the indexes
another child has just dropped for its rebuild, or wait on its locks.

A child that fails fails the whole rebuild (`RebuildFailed`, naming the view), and the
others are stopped. A child whose parent is gone (killed) does not start, or stops
after its page. Each view's rows and its position commit together, one transaction a
page, so a failed or stopped child leaves each of its views where its last page put
it, with every row up to there: never marked at the head with rows missing. The runner
following the log (`keel serve`, `keel follow`) catches such a view up from
there, and a new rebuild starts it over. A view whose indexes were dropped for the
rebuild gets them back whenever its store is opened again (`ViewStore.install`).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from projections.rows import Fold
from services.keel import Keel
from services.runner import Runner, View, ViewsFailed
from services.settings import Settings
from services.views import ViewStore, open_view_store

# What each view costs a rebuild beyond reading and decoding the log, which every
# process does: the seconds its folds and its writes took in a single-process rebuild
# of the 1M-event benchmark log (work_life: fold 3.5 + write 5.7; team_history 3.8 +
# 2.6; goal_audit 0.5 + 0.4; team_directory 0.3 + 0.1). Only the proportions matter.
# For 2 processes they put work_life alone against the other three (9.2 against 7.7),
# the balance measured for 2 jobs. A view not listed weighs DEFAULT_WEIGHT.
WEIGHTS = {"work_life": 9.2, "team_history": 6.4, "goal_audit": 0.9, "team_directory": 0.4}
DEFAULT_WEIGHT = 1.0

# How long the parent waits for a word from its children before it looks whether one
# of them ended without saying anything.
POLL_SECONDS = 0.2


class _ParentGone(Exception):
    """The process that started this child is gone: nobody waits for its rebuild."""


class RebuildFailed(Exception):
    """A child process failed: its views are left where its last page put them."""

    def __init__(self, views: Sequence[str], message: str, details: str = "") -> None:
        self.views = tuple(views)
        self.details = details
        super().__init__(message)


@dataclass(frozen=True)
class Child:
    """What a child process reports once its views have reached the head."""

    views: tuple[str, ...]
    pid: int
    seconds: float  # from its start (imports done) to its views at the head, closed
    cpu_seconds: float  # the child's CPU time, imports included
    peak_rss_mb: float
    positions: dict[str, int]


def weight(view: str) -> float:
    return WEIGHTS.get(view, DEFAULT_WEIGHT)


def default_jobs(views: int) -> int:
    """One process per core this process may run on, at most one per view."""
    return max(1, min(len(os.sched_getaffinity(0)), views))


def plan(views: Sequence[View], jobs: int) -> list[list[View]]:
    """The views in at most `jobs` groups of about equal weight: the heaviest view first,
    each into the lightest group so far. Each group keeps the runner's order."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    groups: list[list[View]] = [[] for _ in range(min(jobs, len(views)))]
    loads = [0.0 for _ in groups]
    for view in sorted(views, key=lambda v: weight(v.name), reverse=True):
        lightest = loads.index(min(loads))
        groups[lightest].append(view)
        loads[lightest] += weight(view.name)
    order = {view.name: i for i, view in enumerate(views)}
    return [sorted(group, key=lambda v: order[v.name]) for group in groups if group]


def child_page_size(*, rebuild_batch_size: int, batch_size: int, processes: int) -> int:
    """How many events each child reads at a time. A page's events and rows are most of
    a child's memory, and `Runner.rebuild_batch_size` was chosen for two processes
    (bench/README.md, figure e): with more, each reads smaller pages, so that together
    they hold about as much as two."""
    return max(batch_size, rebuild_batch_size * 2 // max(2, processes))


def peak_rss_mb() -> float:
    """This process's high-water resident set (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rebuild(
    runner: Runner,
    settings: Settings,
    *,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Child]:
    """Empty the runner's views and fold the whole log into them again, in up to `jobs`
    processes (default: `default_jobs`). With one group this is `runner.rebuild()`, in
    this process, and nothing is returned; otherwise what each child reported.

    `settings` must be those the runner's stores were opened with: each child opens
    them again. Raises RebuildFailed when a child fails."""
    groups = plan(runner.views, default_jobs(len(runner.views)) if jobs is None else jobs)
    if len(groups) <= 1:
        runner.rebuild(progress)
        return []
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    opening = context.Lock()
    processes = [
        context.Process(
            target=_child,
            args=(
                settings,
                index,
                [view.projection for view in group],
                runner.batch_size,
                child_page_size(
                    rebuild_batch_size=runner.rebuild_batch_size,
                    batch_size=runner.batch_size,
                    processes=len(groups),
                ),
                messages,
                opening,
                os.getpid(),
            ),
            name="keel-rebuild-" + "+".join(view.name for view in group),
            daemon=True,
        )
        for index, group in enumerate(groups)
    ]
    try:
        for process in processes:
            process.start()
        children = _collect(processes, [[v.name for v in g] for g in groups], messages, progress)
    finally:
        _stop(processes)
        messages.close()
        messages.join_thread()
        # Whatever happened, the children moved the views: this runner must not go on
        # from the positions it held before.
        runner.reload_positions()
    return children


def _collect(
    processes: Sequence[BaseProcess],
    groups: Sequence[Sequence[str]],
    messages: Any,
    progress: Callable[[int], None] | None,
) -> list[Child]:
    """Read the children's messages until each has finished; raise when one fails."""
    done: dict[int, Child] = {}
    pages = [0 for _ in processes]
    shown = 0
    while len(done) < len(processes):
        # A child's messages are all in the queue by the time it has ended, so one that
        # had ended before a wait that found the queue empty has nothing more to say.
        ended = [i for i, p in enumerate(processes) if i not in done and p.exitcode is not None]
        try:
            message = messages.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if ended:
                i = ended[0]
                raise RebuildFailed(
                    groups[i],
                    f"rebuilding {_named(groups[i])} failed: its process ended with exit "
                    f"code {processes[i].exitcode} without reporting why",
                ) from None
            continue
        kind, index, *rest = message
        if kind == "page":
            pages[index] += rest[0]
            slowest = min(pages)
            if progress is not None and slowest > shown:
                progress(slowest - shown)
            shown = max(shown, slowest)
        elif kind == "done":
            done[index] = rest[0]
        else:
            views, reason, details = rest
            raise RebuildFailed(
                views, f"rebuilding {_named(views)} failed in its process: {reason}", details
            )
    return [done[i] for i in range(len(processes))]


def _named(views: Sequence[str]) -> str:
    return ("view " if len(views) == 1 else "views ") + ", ".join(views)


def _stop(processes: Sequence[BaseProcess]) -> None:
    """Wait for the children that finished, stop those still running."""
    for process in processes:
        if process.pid is None:  # never started
            continue
        if process.exitcode is None:
            process.terminate()
        process.join(10)
        if process.exitcode is None:
            process.kill()
            process.join()
        process.close()


def _child(
    settings: Settings,
    index: int,
    projections: Sequence[Fold],
    batch_size: int,
    rebuild_batch_size: int,
    messages: Any,
    opening: Any,
    parent: int,
) -> None:
    """A child process: rebuild these views, reporting each page, then how it ended.
    `parent` is the process that started it."""
    # Ctrl-C reaches the whole process group; the parent stops its children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    started = time.perf_counter()
    names = tuple(projection.name for projection in projections)
    keel: Keel | None = None
    stores: list[ViewStore] = []
    runner: Runner | None = None
    failure: tuple[tuple[str, ...], str, str] | None = None

    def check_parent() -> None:
        # A parent killed outright (SIGKILL, or SIGTERM to `keel projections rebuild`)
        # cannot stop its children, so each looks before it empties its views and
        # after every page, and stops too: otherwise it would go on writing views that
        # a new rebuild is emptying. (The parent's id comes from the parent: one read
        # here could already be that of the process that adopted this one.)
        if os.getppid() != parent:
            raise _ParentGone

    def report(count: int) -> None:
        check_parent()
        messages.put(("page", index, count))

    try:
        # One child at a time: opening creates the tables that are not there yet, and
        # PostgreSQL can refuse two sessions creating the same one at once ("tuple
        # concurrently updated"), IF NOT EXISTS or not.
        with opening:
            check_parent()
            keel = Keel(env=settings.eventsourcing_env(Keel.name))
            stores = [open_view_store(settings, projection) for projection in projections]
        views = [View(p, s) for p, s in zip(projections, stores, strict=True)]
        runner = Runner(keel, views, batch_size=batch_size, rebuild_batch_size=rebuild_batch_size)

        runner.rebuild(report)
        positions = runner.positions()
    except _ParentGone:
        # Nobody reads the queue any more: leave (once the stores are closed) without
        # flushing it, or this process would wait for ever on a full pipe.
        messages.cancel_join_thread()
        sys.exit(1)
    except Exception as error:
        if runner is not None and runner.fold_failure is not None:
            view, position = runner.fold_failure
            failed: tuple[str, ...] = (view,)
            reason = f"{type(error).__name__}: {error} (at position {position})"
        elif isinstance(error, ViewsFailed):
            failed, reason = tuple(error.failures), f"writing its rows failed: {error}"
        else:
            failed, reason = names, f"{type(error).__name__}: {error}"
        failure = (failed, reason, "".join(traceback.format_exception(error)))
    finally:
        for store in stores:
            store.close()
        if keel is not None:
            keel.close()
    if failure is not None:
        messages.put(("failed", index, *failure))
        sys.exit(1)
    seconds = time.perf_counter() - started
    child = Child(names, os.getpid(), seconds, time.process_time(), peak_rss_mb(), positions)
    messages.put(("done", index, child))
