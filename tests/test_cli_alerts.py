"""`keel alerts backtest`, run as a command on a SQLite data directory holding the
story of tests/test_http_alerts.py: a blocker left open from 7 January 2025, and a goal
whose target moved on 20 January and 3 February."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from services.bootstrap import bootstrap
from services.cli import app
from services.settings import Settings
from tests.test_http_alerts import Story, tell_story

YEAR = ("--from", "2025-01-01", "--to", "2025-12-31")


def keel_cli(data_dir: Path, *args: str) -> Result:
    env = {"KEEL_STORE": "sqlite", "KEEL_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return CliRunner().invoke(app, ["alerts", "backtest", *args], env=env)


def ok(data_dir: Path, *args: str) -> Result:
    result = keel_cli(data_dir, *args)
    assert result.exception is None, result.output
    assert result.exit_code == 0, result.output
    return result


def alerts_head(data_dir: Path) -> int:
    container = bootstrap(Settings(store="sqlite", data_dir=data_dir))
    try:
        return container.alerts.head()
    finally:
        container.close()


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Story]:
    data_dir = tmp_path / "var"
    container = bootstrap(Settings(store="sqlite", data_dir=data_dir))
    try:
        story = tell_story(container.keel)
    finally:
        container.close()
    return data_dir, story


def test_when_a_rule_would_have_fired_and_nothing_is_recorded(store: tuple[Path, Story]) -> None:
    data_dir, story = store

    result = ok(data_dir, "--rule", "target_churn", *YEAR)

    rows = [line for line in result.stdout.splitlines() if "2025-" in line and "│" in line]
    assert len(rows) == 1
    cells = [cell.strip() for cell in rows[0].split("│")[1:-1]]
    assert cells == [
        "2025-02-03",
        "CS",
        str(story.goal_id),
        "warning",
        "changes=2, threshold=2, window_days=60",
        "-",
    ]
    assert result.stdout.splitlines()[-1] == (
        "target_churn would have fired 1 time between 2025-01-01 and 2025-12-31"
    )
    assert "replaying the log" in result.stderr
    assert alerts_head(data_dir) == 0


def test_set_tries_other_parameters_and_team_and_dates_narrow_it(
    store: tuple[Path, Story],
) -> None:
    data_dir, story = store
    team = ("--team", str(story.team_id))

    stricter = ok(data_dir, "--rule", "target_churn", *YEAR, *team, "--set", "goal_changes=3")
    assert stricter.stdout.splitlines() == [
        "target_churn (goal_changes=3) would have fired 0 times for CS "
        "between 2025-01-01 and 2025-12-31"
    ]
    # The changes are 14 days apart: a 14-day window ending on 3 February starts after
    # 20 January and holds one change; a 15-day window holds both.
    narrow = ("--set", "goal_changes=2", "--set", "goal_window_days=14")
    assert "fired 0 times" in ok(data_dir, "--rule", "target_churn", *YEAR, *narrow).stdout
    wider = ("--set", "goal_window_days=15")
    assert "fired 1 time " in ok(data_dir, "--rule", "target_churn", *YEAR, *wider).stdout
    before = ok(data_dir, "--rule", "target_churn", "--from", "2025-01-01", "--to", "2025-02-02")
    assert "fired 0 times" in before.stdout
    assert alerts_head(data_dir) == 0


def test_json_output(store: tuple[Path, Story]) -> None:
    data_dir, story = store

    result = ok(data_dir, "--rule", "blocker_aging", *YEAR, "--json")

    assert json.loads(result.stdout) == [
        {
            "alert_id": str(story.blocker_alert),
            "rule": "blocker_aging",
            "team_id": str(story.team_id),
            "subject_id": str(story.blocker_id),
            "severity": "info",
            "raised_on": "2025-01-20",
            "numbers": {"working_days_open": 9, "limit": 5},
            "evidence": [
                {
                    "position": story.blocker_position,
                    "event": "CheckedIn",
                    "id": str(story.blocker_id),
                }
            ],
            "cleared_on": None,
        }
    ]
    # Four working days is the new limit: the blocker is then older than twice that.
    tighter = ok(data_dir, "--rule", "blocker_aging", *YEAR, "--json", "--set", "working_days=4")
    assert [(f["severity"], f["numbers"]) for f in json.loads(tighter.stdout)] == [
        ("warning", {"working_days_open": 9, "limit": 4})
    ]


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (("--rule", "morale_dip", *YEAR), "--rule", "'morale_dip' is not one of"),
        (("--rule", "target_churn", "--from", "2025-02-30", "--to", "2025-03-01"), "--from", ""),
        (("--rule", "target_churn", "--from", "2025-01-01", "--to", "March"), "--to", ""),
        (("--rule", "target_churn", "--from", "2025-03-01", "--to", "2025-01-01"), "--from", ""),
        (("--rule", "target_churn", *YEAR, "--team", "CS"), "--team", "no team with id CS"),
        (
            ("--rule", "target_churn", *YEAR, "--team", "5d0b7a1e-6c1f-4f2e-9a57-0c6a1e4b2d10"),
            "--team",
            "no team with id",
        ),
        (("--rule", "target_churn", *YEAR, "--set", "goal_changes"), "--set", "name=value"),
        (("--rule", "target_churn", *YEAR, "--set", "=3"), "--set", "name=value"),
        (("--rule", "target_churn", *YEAR, "--set", "ewma_l=3"), "--set", "no parameter"),
        (("--rule", "target_churn", *YEAR, "--set", "goal_changes=two"), "--set", "a number"),
        (("--rule", "target_churn", *YEAR, "--set", "goal_changes=2.5"), "--set", "whole"),
        (("--rule", "target_churn", *YEAR, "--set", "goal_changes=0"), "--set", "greater than"),
        (("--rule", "target_churn", *YEAR, "--set", "goal_changes=inf"), "--set", "finite"),
        (("--rule", "unrecognised_wins", *YEAR, "--set", "share=2"), "--set", "between 0 and 1"),
        ((*YEAR,), "--rule", "Missing option"),
    ],
)
def test_bad_options_name_the_option_and_exit_2_without_a_traceback(
    store: tuple[Path, Story], args: tuple[str, ...], option: str, message: str
) -> None:
    data_dir, _ = store

    result = keel_cli(data_dir, *args)

    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    error = " ".join(result.stderr.replace("│", " ").split())
    assert option in error
    assert message in error
    assert "Traceback" not in result.output
    assert result.stdout == ""
