"""Settings: what a child process is handed reads back as the same settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from services.settings import Settings


def test_the_environment_gives_another_process_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(
        store="postgres",
        data_dir=tmp_path / "elsewhere",
        postgres_db="keel_x",
        poll_interval_seconds=0.25,
        run_alerts=False,
        sqlite_synchronous="NORMAL",
        alert_rules={"morale_drop": {"ewma_l": 2.8}},
        followers="threads",
    )
    environment = settings.environment()
    assert environment["KEEL_RUN_ALERTS"] == "false"
    assert json.loads(environment["KEEL_ALERT_RULES"]) == {"morale_drop": {"ewma_l": 2.8}}
    assert "KEEL_NATS_URL" not in environment  # unset stays unset
    for name in [n for n in os.environ if n.startswith("KEEL_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings


def test_a_child_gets_this_environment_with_only_these_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KEEL_STORE", "postgres")  # from the shell: not what the server runs on
    monkeypatch.setenv("KEEL_UNKNOWN", "x")
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    settings = Settings(store="sqlite", data_dir=tmp_path)

    env = settings.child_environment()

    assert env["SOMETHING_ELSE"] == "kept"
    assert "KEEL_UNKNOWN" not in env
    assert {k: v for k, v in env.items() if k.startswith("KEEL_")} == settings.environment()
    assert env["KEEL_STORE"] == "sqlite"
