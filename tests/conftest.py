"""Shared fixtures. Every test gets its own SQLite directory or its own PostgreSQL
database, and leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from services.bootstrap import Container, bootstrap
from services.settings import Settings

POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER = "127.0.0.1", 5432, "postgres"


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(store="sqlite", data_dir=tmp_path / "var", poll_interval_seconds=0.01)


@pytest.fixture
def postgres_settings() -> Iterator[Settings]:
    name = f"keel_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        dbname="postgres",
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        user=POSTGRES_USER,
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(
            store="postgres",
            postgres_host=POSTGRES_HOST,
            postgres_port=POSTGRES_PORT,
            postgres_user=POSTGRES_USER,
            postgres_db=name,
            poll_interval_seconds=0.01,
        )
    finally:
        with psycopg.connect(
            dbname="postgres",
            host=POSTGRES_HOST,
            port=POSTGRES_PORT,
            user=POSTGRES_USER,
            autocommit=True,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    """Run the test once on each backend."""
    fixture = "sqlite_settings" if request.param == "sqlite" else "postgres_settings"
    chosen: Settings = request.getfixturevalue(fixture)
    return chosen


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    """A wired Keel whose runner is not started: tests drive it with catch_up()."""
    built = bootstrap(settings)
    try:
        yield built
    finally:
        built.close()
