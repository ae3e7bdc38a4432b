"""`keel export`, `keel import` and `keel import-checkins`, run as commands on SQLite
data directories."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner, Result

from domain.goal import Goal
from domain.journal import CheckIn
from services.bootstrap import bootstrap
from services.cli import app
from services.keel import Keel
from services.settings import Settings

DAY = date(2025, 3, 3)


def keel_cli(data_dir: Path, *args: str) -> Result:
    env = {"KEEL_STORE": "sqlite", "KEEL_DATA_DIR": str(data_dir), "COLUMNS": "120"}
    return CliRunner().invoke(app, list(args), env=env)


def ok(data_dir: Path, *args: str) -> Result:
    result = keel_cli(data_dir, *args)
    assert result.exception is None, result.output
    assert result.exit_code == 0, result.output
    return result


def refused(data_dir: Path, *args: str) -> Result:
    result = keel_cli(data_dir, *args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert "Traceback" not in result.output
    return result


def head(data_dir: Path) -> int:
    keel = Keel(env=Settings(store="sqlite", data_dir=data_dir).eventsourcing_env(Keel.name))
    try:
        return keel.head()
    finally:
        keel.close()


def views(data_dir: Path) -> dict[str, Any]:
    container = bootstrap(Settings(store="sqlite", data_dir=data_dir))
    try:
        container.runner.catch_up()
        return {view.name: view.store.dump() for view in container.runner.views}
    finally:
        container.close()


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, UUID, UUID]:
    """A data directory with a team, two members, a goal moved twice and a check-in;
    and another team. Returns the directory, the first team and its member Sandra."""
    data_dir = tmp_path / "source"
    keel = Keel(env=Settings(store="sqlite", data_dir=data_dir).eventsourcing_env(Keel.name))
    try:
        team = keel.form_team(name="CS", manager="kay", actor="kay", occurred_on=DAY)
        sandra = keel.add_member(team.id, name="Sandra", role=None, actor="kay", occurred_on=DAY)
        keel.add_member(team.id, name="Lee", role=None, actor="kay", occurred_on=DAY)
        goal = keel.set_goal(
            team.id,
            title="Renewals",
            metric="rate",
            target=90,
            unit="%",
            due=date(2025, 12, 31),
            why=None,
            actor="owner",
            occurred_on=DAY,
        )
        for target in (95.0, 80.0):

            def retarget(g: Goal, t: float = target) -> None:
                g.change_target(target=t, reason="owners", actor="owner", occurred_on=DAY)

            keel.change_goal(goal.id, None, retarget)
        keel.check_in(team.id, sandra.id, CheckIn(DAY, 4, wins=["renewal"]), actor=str(sandra.id))
        keel.form_team(name="Ops", manager="mo", actor="mo", occurred_on=DAY)
    finally:
        keel.close()
    return data_dir, team.id, sandra.id


def test_export_then_import_gives_the_same_views_and_a_second_import_adds_nothing(
    store: tuple[Path, UUID, UUID], tmp_path: Path
) -> None:
    source, _, _ = store
    exported = ok(source, "export")
    lines = exported.stdout.splitlines()
    assert len(lines) == head(source) == 10
    assert [json.loads(line)["position"] for line in lines] == list(range(1, 11))
    assert "exporting" in exported.stderr  # progress, apart from the data
    file = tmp_path / "keel.jsonl"
    file.write_text(exported.stdout)
    target = tmp_path / "target"

    first = ok(target, "import", str(file))

    assert "imported 10 events (0 already in the store); the log's head is at 10" in first.stdout
    assert "checking lines" in first.stderr
    assert views(target) == views(source)
    second = ok(target, "import", str(file))
    assert "imported 0 events (10 already in the store)" in second.stdout
    assert head(target) == 10


def test_a_bad_line_is_reported_and_nothing_is_written(
    store: tuple[Path, UUID, UUID], tmp_path: Path
) -> None:
    source, _, _ = store
    lines = ok(source, "export").stdout.splitlines()
    record = json.loads(lines[6])  # the goal's first target change
    record["data"]["reason"] = ""
    record["data"]["new"] = "a lot"
    lines[6] = json.dumps(record)
    file = tmp_path / "bad.jsonl"
    file.write_text("\n".join(lines) + "\n")
    target = tmp_path / "target"

    result = refused(target, "import", str(file))

    assert "bad.jsonl: refused; nothing was written." in result.stderr
    assert "line 7: data.new: Input should be a valid number" in result.stderr
    assert head(target) == 0


def test_one_team_and_csv(store: tuple[Path, UUID, UUID], tmp_path: Path) -> None:
    source, team, _ = store
    team_lines = ok(source, "export", "--team", str(team)).stdout.splitlines()
    assert len(team_lines) == 9  # all but the other team's formation
    out = tmp_path / "team.csv"
    ok(source, "export", "--team", str(team), "--format", "csv", "--output", str(out))
    rows = out.read_text().splitlines()
    assert rows[0].startswith("position,type,version,originator_id,")
    assert len(rows) == 10

    target = tmp_path / "target"
    result = ok(target, "import", str(out))
    assert "imported 9 events" in result.stdout
    assert views(target)["goal_audit"] == views(source)["goal_audit"]


def test_an_unknown_team_or_file_is_a_usage_error(
    store: tuple[Path, UUID, UUID], tmp_path: Path
) -> None:
    source, _, _ = store
    unknown = keel_cli(source, "export", "--team", str(UUID(int=1)))
    assert unknown.exit_code == 2
    assert f"no team with id {UUID(int=1)}" in unknown.output
    malformed = keel_cli(source, "export", "--team", "nope")
    assert malformed.exit_code == 2
    assert "no team with id nope" in malformed.output
    missing = keel_cli(source, "import", str(tmp_path / "nothing.jsonl"))
    assert missing.exit_code == 2
    assert "Invalid value for 'file'" in missing.output


def test_import_checkins(store: tuple[Path, UUID, UUID], tmp_path: Path) -> None:
    source, team, sandra = store
    file = tmp_path / "checkins.csv"
    file.write_text(
        "day,member,mood,progress,setbacks,wins,blockers\n"
        "2025-03-04,Sandra,3,calls;docs,,,no VPN\n"
        "2025-03-04,Lee,5,demo,,big win,\n"
    )
    result = ok(source, "import-checkins", str(file), "--team", str(team), "--actor", "ops")
    assert "recorded 2 check-ins (0 already recorded)" in result.stdout
    again = ok(source, "import-checkins", str(file), "--team", str(team))
    assert "recorded 0 check-ins (2 already recorded)" in again.stdout

    keel = Keel(env=Settings(store="sqlite", data_dir=source).eventsourcing_env(Keel.name))
    try:
        entry = keel.journal(sandra).entries[date(2025, 3, 4)]
        assert (entry.mood, entry.progress) == (3, ["calls", "docs"])
    finally:
        keel.close()

    file.write_text(
        "day,member,mood,progress,setbacks,wins,blockers\n"
        "2025-03-05,Sandra,3,,,,\n"
        f"2025-03-05,{sandra},4,,,,\n"
    )
    bad = refused(source, "import-checkins", str(file), "--team", str(team))
    assert f"line 3: day: line 2 is already {sandra}'s check-in on 2025-03-05" in bad.stderr
    names_without_team = refused(source, "import-checkins", str(file))
    assert "line 2: member: 'Sandra' is not a member id" in names_without_team.stderr
