"""The `keel projections` commands, on a data directory that already holds events."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.goal import Goal
from domain.team import DepartureReason
from services.bootstrap import bootstrap
from services.cli import app
from services.rebuilding import RebuildFailed
from services.settings import Settings

DAY = date(2026, 1, 5)
VIEWS = {"goal_audit", "team_directory"}  # at least these; later releases add more


@dataclass(frozen=True)
class Store:
    data_dir: Path
    caught_up: int  # the position the views were left at
    head: int  # the head of the log, further on

    @property
    def settings(self) -> Settings:
        return Settings(store="sqlite", data_dir=self.data_dir)


def keel(data_dir: Path, *args: str) -> str:
    env = {"KEEL_STORE": "sqlite", "KEEL_DATA_DIR": str(data_dir), "COLUMNS": "120"}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None, result.output
    assert result.exit_code == 0, result.output
    return result.output


def status_rows(output: str) -> dict[str, tuple[int, int, int]]:
    """view -> (position, head, behind), read from the status table."""
    rows = {}
    for name, position, head, behind in re.findall(
        r"(\w+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)", output
    ):
        rows[name] = (int(position), int(head), int(behind))
    return rows


def assert_status(output: str, position: int, head: int) -> None:
    rows = status_rows(output)
    assert set(rows) >= VIEWS, output
    assert set(rows.values()) == {(position, head, head - position)}, output


def dumps(settings: Settings) -> dict[str, Any]:
    """Every row of every view, by view name."""
    container = bootstrap(settings)
    try:
        return {view.name: view.store.dump() for view in container.runner.views}
    finally:
        container.close()


def retarget(target: float) -> Callable[[Goal], None]:
    def command(goal: Goal) -> None:
        goal.change_target(target=target, reason="r", actor="maya", occurred_on=DAY)

    return command


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A team, a member who left, a goal whose target moved three times; the views
    have read all but the last two commands."""
    settings = Settings(store="sqlite", data_dir=tmp_path / "var")
    container = bootstrap(settings)
    try:
        keel = container.keel
        team = keel.form_team(name="Platform", manager="Maya", actor="maya", occurred_on=DAY)
        bo = keel.add_member(team.id, name="Bo", role="dev", actor="maya", occurred_on=DAY)
        goal = keel.set_goal(
            team.id,
            title="Latency",
            metric="p99",
            target=300,
            unit="ms",
            due=date(2026, 6, 1),
            why=None,
            actor="maya",
            occurred_on=DAY,
        )
        for target in (250.0, 200.0, 150.0):
            keel.change_goal(goal.id, None, retarget(target))
        container.runner.catch_up()
        caught_up = keel.head()
        keel.add_member(team.id, name="Cy", role=None, actor="maya", occurred_on=DAY)
        keel.record_departure(
            team.id,
            bo.id,
            reason=DepartureReason.RESIGNED,
            note=None,
            actor="maya",
            occurred_on=DAY,
        )
        head = keel.head()
    finally:
        container.close()
    assert 0 < caught_up < head
    return Store(settings.data_dir, caught_up, head)


def test_status_shows_each_view_against_the_head(store: Store) -> None:
    output = keel(store.data_dir, "projections", "status")
    assert_status(output, store.caught_up, store.head)
    for header in ("view", "position", "head", "behind"):
        assert header in output


def test_status_of_an_empty_store(tmp_path: Path) -> None:
    assert_status(keel(tmp_path / "empty", "projections", "status"), 0, 0)


def test_rebuild_reports_the_position_and_rebuilds_the_same_views(store: Store) -> None:
    container = bootstrap(store.settings)
    try:
        container.runner.catch_up()
        views = len(container.runner.views)
    finally:
        container.close()
    before = dumps(store.settings)
    assert len(before["goal_audit"]["goal_changes"]) == 4
    members = before["team_directory"]["members"]
    assert sorted(m["left_reason"] or "" for m in members) == ["", "resigned"]

    output = keel(store.data_dir, "projections", "rebuild")

    assert f"rebuilt {views} views up to position {store.head}" in output
    assert dumps(store.settings) == before
    assert_status(keel(store.data_dir, "projections", "status"), store.head, store.head)


def test_rebuild_brings_views_that_are_behind_to_the_head(store: Store) -> None:
    output = keel(store.data_dir, "projections", "rebuild")
    assert re.search(rf"rebuilt \d+ views up to position {store.head}\b", output), output
    assert_status(keel(store.data_dir, "projections", "status"), store.head, store.head)
    members = dumps(store.settings)["team_directory"]["members"]
    assert sorted(m["left_reason"] or "" for m in members) == ["", "resigned"]


def test_rebuild_of_an_empty_store(tmp_path: Path) -> None:
    output = keel(tmp_path / "empty", "projections", "rebuild")
    assert re.search(r"rebuilt \d+ views up to position 0\b", output), output


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_rebuild_with_jobs_gives_the_views_one_process_gives(store: Store, jobs: str) -> None:
    keel(store.data_dir, "projections", "rebuild")
    before = dumps(store.settings)

    output = keel(store.data_dir, "projections", "rebuild", "--jobs", jobs)

    assert re.search(rf"rebuilt \d+ views up to position {store.head}\b", output), output
    in_processes = "in 2 processes (work_life | goal_audit, team_directory, team_history)"
    assert (in_processes in " ".join(output.split())) == (jobs == "2"), output
    assert f"{store.head}/{store.head}" in output  # the progress bar reached the head
    assert dumps(store.settings) == before
    assert_status(keel(store.data_dir, "projections", "status"), store.head, store.head)


def test_rebuild_help_shows_the_jobs_option(tmp_path: Path) -> None:
    output = keel(tmp_path / "empty", "projections", "rebuild", "--help")
    assert "--jobs" in output
    assert "one per CPU core, at most one per view" in re.sub(r"[│\s]+", " ", output)
    refused = CliRunner().invoke(app, ["projections", "rebuild", "--jobs", "0"])
    assert refused.exit_code == 2


def test_a_failed_rebuild_names_the_view_and_exits_1(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any, **kwargs: Any) -> None:
        raise RebuildFailed(["work_life"], "rebuilding view work_life failed: boom", "trace")

    monkeypatch.setattr("services.cli.rebuilding.rebuild", failing)
    env = {"KEEL_STORE": "sqlite", "KEEL_DATA_DIR": str(store.data_dir), "COLUMNS": "120"}
    result = CliRunner().invoke(app, ["projections", "rebuild", "--jobs", "2"], env=env)
    assert result.exit_code == 1, result.output
    assert "rebuilding view work_life failed: boom" in result.output


@pytest.mark.slow
def test_keel_follow_runs_the_views_and_alerts_apart_until_stopped(store: Store) -> None:
    keel_bin = Path(sys.executable).with_name("keel")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env = {**inherited, "KEEL_STORE": "sqlite", "KEEL_DATA_DIR": str(store.data_dir)}
    process = subprocess.Popen(
        [str(keel_bin), "follow", "--every", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        reader = bootstrap(store.settings)
        try:
            deadline = time.monotonic() + 30
            while True:
                views = set(reader.runner.positions().values())
                evaluated = reader.alerts.tracked(reader.keel.name)
                if views == {store.head} and evaluated == store.head:
                    break
                assert time.monotonic() < deadline, (views, evaluated, store.head)
                time.sleep(0.05)
        finally:
            reader.close()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output.decode()
    assert "following the log (views: True, alerts: True)" in output.decode()
