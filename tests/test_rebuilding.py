"""Rebuilding the views in parallel processes, on both backends: the same rows as in one
process, and a child's failure fails the rebuild, naming its view."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from projections.goal_audit import GoalAudit
from projections.rows import Fold, Put, RowOp, Table
from services import rebuilding
from services.bootstrap import Container, bootstrap
from services.keel import Keel
from services.rebuilding import RebuildFailed, child_page_size
from services.runner import Runner, View
from services.settings import Settings
from services.views import ViewStore, open_view_store
from tests.conftest import process_running
from tests.test_runner import dump, populate

SEEN = Table("seen", ("position",), ("position",), types={"position": "INTEGER"})
FAILS_AT = 5


class Exploding:
    """A view whose fold raises at FAILS_AT: the test's fault, in a spawned child (which
    imports this module to unpickle it)."""

    name = "exploding"
    tables: tuple[Table, ...] = (SEEN,)

    def fold(self, event: object, position: int) -> list[RowOp]:
        if position == FAILS_AT:
            raise RuntimeError(f"boom at {position}")
        return [Put(SEEN, {"position": position})]


class Vanishing(Exploding):
    """A view whose child process ends at FAILS_AT without a word, as if killed."""

    name = "vanishing"

    def fold(self, event: object, position: int) -> list[RowOp]:
        if position == FAILS_AT:
            os._exit(3)
        return super().fold(event, position)


class Unwritable(Exploding):
    """A view whose rows at FAILS_AT cannot be written (a Put without its key column)."""

    name = "unwritable"

    def fold(self, event: object, position: int) -> list[RowOp]:
        if position == FAILS_AT:
            return [Put(SEEN, {"when": position})]
        return super().fold(event, position)


@contextmanager
def runner_over(settings: Settings, *projections: Fold, batch: int) -> Iterator[Runner]:
    """A runner over these views alone, reading pages of `batch` events when rebuilding."""
    keel = Keel(env=settings.eventsourcing_env(Keel.name))
    views = [View(p, open_view_store(settings, p)) for p in projections]
    try:
        yield Runner(keel, views, batch_size=batch, rebuild_batch_size=batch)
    finally:
        for view in views:
            view.store.close()
        keel.close()


def test_the_views_are_shared_out_by_weight(container: Container) -> None:
    views = container.runner.views
    assert [v.name for v in views] == ["goal_audit", "team_directory", "work_life", "team_history"]

    def names(jobs: int) -> list[list[str]]:
        return [[v.name for v in group] for group in rebuilding.plan(views, jobs)]

    assert names(1) == [["goal_audit", "team_directory", "work_life", "team_history"]]
    assert names(2) == [["work_life"], ["goal_audit", "team_directory", "team_history"]]
    assert names(3) == [["work_life"], ["team_history"], ["goal_audit", "team_directory"]]
    assert sorted(names(9)) == sorted([[v.name] for v in views])
    assert rebuilding.default_jobs(4) == min(os.cpu_count() or 1, 4)
    assert rebuilding.default_jobs(1) == 1
    with pytest.raises(ValueError, match="at least 1"):
        rebuilding.plan(views, 0)


def test_a_parallel_rebuild_gives_the_rows_of_a_single_process_one(settings: Settings) -> None:
    container: Container = bootstrap(settings.model_copy(update={"batch_size": 3}))
    try:
        populate(container.keel)
        runner = container.runner
        runner.rebuild_batch_size = 4  # several pages, so progress comes in steps
        runner.rebuild()
        single = dump(container)
        head = runner.head()

        advanced: list[int] = []
        children = rebuilding.rebuild(runner, settings, jobs=2, progress=advanced.append)

        assert dump(container) == single
        assert runner.positions() == dict.fromkeys(single, head)
        assert sum(advanced) == head
        assert len(advanced) > 1
        assert [c.views for c in children] == [
            ("work_life",),
            ("goal_audit", "team_directory", "team_history"),
        ]
        assert {c.pid for c in children}.isdisjoint({os.getpid()})
        assert all(c.positions == dict.fromkeys(c.views, head) for c in children)
        assert all(c.peak_rss_mb > 0 for c in children)
        # The runner knows where its views are now, and carries on from there.
        runner.catch_up()
        assert dump(container) == single
    finally:
        container.close()


def test_one_job_rebuilds_in_this_process(sqlite_settings: Settings) -> None:
    container = bootstrap(sqlite_settings)
    try:
        populate(container.keel)
        container.runner.catch_up()
        before = dump(container)
        assert rebuilding.rebuild(container.runner, sqlite_settings, jobs=1) == []
        assert dump(container) == before
    finally:
        container.close()


def populated(settings: Settings) -> int:
    """Write the story into the store these settings name; return the log's head."""
    writer = bootstrap(settings)
    try:
        populate(writer.keel)
        return writer.runner.head()
    finally:
        writer.close()


def store_of(runner: Runner, view: str) -> ViewStore:
    return next(v.store for v in runner.views if v.name == view)


def test_a_child_whose_fold_raises_fails_the_rebuild_naming_its_view(
    settings: Settings,
) -> None:
    head = populated(settings)
    with runner_over(settings, GoalAudit(), Exploding(), batch=2) as runner:
        with pytest.raises(RebuildFailed) as failed:
            rebuilding.rebuild(runner, settings, jobs=2)
        assert failed.value.views == ("exploding",)
        message = str(failed.value)
        assert "view exploding failed" in message
        assert "RuntimeError: boom at 5 (at position 5)" in message
        assert "in the fold of view exploding, at position 5" in failed.value.details
        # Pages of two: the exploding view holds every row before the failed page, and
        # its position says so; it is not at the head.
        exploding = store_of(runner, "exploding")
        assert exploding.position("Keel") == 4 < head
        assert exploding.dump() == {"seen": [{"position": p} for p in range(1, 5)]}
        # The other view, stopped or finished, holds exactly the rows up to its position.
        goal_audit = store_of(runner, "goal_audit")
        position = goal_audit.position("Keel")
        changes = goal_audit.dump()["goal_changes"]
        assert all(change["position"] <= position for change in changes)


def test_a_child_that_ends_without_a_word_fails_the_rebuild_naming_its_view(
    sqlite_settings: Settings,
) -> None:
    populated(sqlite_settings)
    with runner_over(sqlite_settings, GoalAudit(), Vanishing(), batch=2) as runner:
        with pytest.raises(RebuildFailed, match=r"view vanishing failed.*exit code 3"):
            rebuilding.rebuild(runner, sqlite_settings, jobs=2)
        vanishing = store_of(runner, "vanishing")
        assert vanishing.position("Keel") == 4
        assert vanishing.dump() == {"seen": [{"position": p} for p in range(1, 5)]}


def test_a_child_whose_rows_cannot_be_written_fails_the_rebuild_naming_its_view(
    sqlite_settings: Settings,
) -> None:
    populated(sqlite_settings)
    with runner_over(sqlite_settings, GoalAudit(), Unwritable(), batch=2) as runner:
        # The runner gives up once the view has failed a page again (Runner.catch_up).
        with pytest.raises(RebuildFailed, match=r"view unwritable failed.*KeyError") as failed:
            rebuilding.rebuild(runner, sqlite_settings, jobs=2)
        assert failed.value.views == ("unwritable",)
        unwritable = store_of(runner, "unwritable")
        assert unwritable.position("Keel") == 4


def test_in_one_process_the_error_itself_goes_up_saying_which_view(
    sqlite_settings: Settings,
) -> None:
    populated(sqlite_settings)
    with runner_over(sqlite_settings, GoalAudit(), Exploding(), batch=2) as runner:
        with pytest.raises(RuntimeError, match="boom at 5") as raised:
            rebuilding.rebuild(runner, sqlite_settings, jobs=1)
        assert raised.value.__notes__ == ["in the fold of view exploding, at position 5"]
        assert runner.fold_failure == ("exploding", 5)
        # The views before it in the runner's order wrote that page; it did not.
        assert runner.positions() == {"goal_audit": 6, "exploding": 4}


class Slow(Exploding):
    """A view that, in a process where KEEL_TEST_PIDS names a directory, takes a while
    over each event and leaves its process's id in that directory."""

    name = "slow"

    def fold(self, event: object, position: int) -> list[RowOp]:
        pids = os.environ.get("KEEL_TEST_PIDS")
        if pids:
            (Path(pids) / str(os.getpid())).touch()
            time.sleep(0.5)  # the whole log would take 8 s
        return [Put(SEEN, {"position": position})]


def rebuild_slowly(data_dir: str) -> None:
    """The parent of the test below, run in a process of its own."""
    settings = Settings(store="sqlite", data_dir=Path(data_dir))
    with runner_over(settings, GoalAudit(), Slow(), batch=1) as runner:
        rebuilding.rebuild(runner, settings, jobs=2)


def _start_rebuild_slowly(settings: Settings, pids: Path) -> subprocess.Popen[bytes]:
    """`rebuild_slowly` in a process of its own; its slow child leaves its id in `pids`."""
    pids.mkdir()
    code = (
        "from tests.test_rebuilding import rebuild_slowly; "
        f"rebuild_slowly({str(settings.data_dir)!r})"
    )
    env = {**os.environ, "KEEL_TEST_PIDS": str(pids)}
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (state, parent, ...), or
    None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _children(pid: int) -> list[int]:
    return [
        int(path.name)
        for path in Path("/proc").glob("[0-9]*")
        if (fields := _stat(path.name)) is not None and int(fields[1]) == pid
    ]


def _wait_until(done: Callable[[], bool], seconds: float, pause: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(pause)


def test_the_children_stop_when_the_rebuild_is_killed(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    head = populated(sqlite_settings)
    pids = tmp_path / "pids"
    parent = _start_rebuild_slowly(sqlite_settings, pids)
    try:
        _wait_until(lambda: any(pids.iterdir()), 60)
        (child,) = (int(p.name) for p in pids.iterdir())  # the slow view's process
        assert process_running(child)

        parent.kill()
        parent.wait()

        _wait_until(lambda: not process_running(child), 10)
        assert not process_running(child)
        slow = open_view_store(sqlite_settings, Slow())
        try:
            # It stopped between pages, each with its rows: never at the head, never
            # past a row it did not write.
            position = slow.position("Keel")
            assert 0 < position < head
            assert slow.dump() == {"seen": [{"position": p} for p in range(1, position + 1)]}
        finally:
            slow.close()
    finally:
        parent.kill()
        parent.wait()


def test_children_whose_rebuild_is_killed_as_they_start_leave_the_views_alone(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    head = populated(sqlite_settings)
    with runner_over(sqlite_settings, GoalAudit(), Slow(), batch=100) as runner:
        runner.catch_up()
        before = {view.name: view.store.dump() for view in runner.views}
    pids = tmp_path / "pids"
    parent = _start_rebuild_slowly(sqlite_settings, pids)
    try:
        children: list[int] = []

        def started() -> bool:  # the two, or one and multiprocessing's tracker
            children[:] = _children(parent.pid)
            return len(children) >= 2

        _wait_until(started, 60, pause=0.001)
        parent.kill()  # while they start: a new interpreter importing Keel
        parent.wait()

        _wait_until(lambda: not any(map(process_running, children)), 20)
        assert not any(map(process_running, children))
        assert not any(pids.iterdir())  # no child folded an event
        with runner_over(sqlite_settings, GoalAudit(), Slow(), batch=100) as runner:
            assert runner.positions() == {"goal_audit": head, "slow": head}
            assert {view.name: view.store.dump() for view in runner.views} == before
    finally:
        parent.kill()
        parent.wait()


def test_more_processes_read_smaller_pages() -> None:
    def page(processes: int) -> int:
        return child_page_size(rebuild_batch_size=25_000, batch_size=1000, processes=processes)

    assert [page(n) for n in (2, 3, 4, 100)] == [25_000, 16_666, 12_500, 1000]
