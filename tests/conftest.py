"""Shared fixtures. Every test gets its own SQLite directory or its own PostgreSQL
database, and leaves nothing behind."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from services.bootstrap import Container, bootstrap
from services.http.app import create_app
from services.settings import Settings

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 in its TestClient and warns when it falls back to
    # httpx, which is what the dev group installs. The warning is about the client
    # library, not about Keel, so it is silenced here, once, for this import only.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

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


@pytest.fixture
def client_for() -> Iterator[Callable[[Settings], TestClient]]:
    """Start the HTTP API on the given settings, lifespan and runner included; every
    client started is shut down (and its container closed) after the test."""
    with ExitStack() as stack:

        def start(settings: Settings) -> TestClient:
            return stack.enter_context(TestClient(create_app(settings=settings)))

        yield start


@pytest.fixture
def client(sqlite_settings: Settings, client_for: Callable[[Settings], TestClient]) -> TestClient:
    """The HTTP API on a fresh SQLite directory, with the runner following the log."""
    return client_for(sqlite_settings)
