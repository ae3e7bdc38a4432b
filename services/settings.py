"""Configuration, read from the environment (prefix KEEL_) by pydantic-settings."""

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEEL_", extra="ignore")

    store: Literal["sqlite", "postgres"] = "sqlite"
    data_dir: Path = Path("var")

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str = ""
    postgres_db: str = "keel"
    # Connections each recorder keeps open (it opens more, up to 10 above this, under
    # load). One process has several recorders (the log, the alerts, each view), and
    # PostgreSQL allows 100 connections by default.
    postgres_pool_size: int = Field(2, ge=1)

    host: str = "127.0.0.1"
    port: int = 8000

    poll_interval_seconds: float = Field(0.2, gt=0)
    batch_size: int = Field(1000, ge=1)
    wait_for_timeout_seconds: float = Field(5.0, ge=0)
    run_projections: bool = True
    # Where `keel serve` runs the followers (the views and the alert process): in a
    # child process of their own (services/follower_process.py), or in threads of the
    # API's process. One core: threads.
    followers: Literal["process", "threads"] = "process"
    # Where `keel serve` commits the busiest commands (check-ins and the like): in a
    # child process of its own (services/writer_process.py), or in a thread of the
    # API's process. One core: thread.
    writer: Literal["process", "thread"] = "process"
    # How many aggregates the application keeps in memory (0: none). A command then
    # reads only the events saved since its cached copy, not the aggregate's whole
    # history; eventsourcing fast-forwards the copy from the store on every load, so it
    # is never stale, even with several processes writing.
    aggregate_cache_size: int = Field(10_000, ge=0)

    # How hard a commit to the SQLite event store waits for the disk (see
    # services/sqlite_store.py). Views always use NORMAL: they can be folded again.
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = "FULL"

    min_group: int = Field(5, ge=3, description="Smallest group whose mood is shown.")
    setback_weight: float = Field(2.0, ge=0)

    churn_window_days: int = Field(60, ge=1)
    goal_churn_threshold: int = Field(2, ge=1)
    goal_churn_window_days: int = Field(60, ge=1)
    team_churn_threshold: int = Field(3, ge=1)
    team_churn_window_days: int = Field(90, ge=1)

    # Alerts (see domain/alert.py for each rule's parameters and defaults).
    run_alerts: bool = True
    # Installation-wide overrides of rule parameters, as JSON:
    # KEEL_ALERT_RULES='{"morale_drop": {"ewma_l": 2.8}}'. Teams override these in turn.
    alert_rules: dict[str, dict[str, float]] = Field(default_factory=dict)

    # NATS JetStream. Unset: embedded mode, no publishing; alerts still work.
    nats_url: str | None = None
    # Stream names and the subject prefix are settings so tests can use their own.
    nats_alerts_stream: str = "KEEL_ALERTS"
    nats_events_stream: str = "KEEL_EVENTS"
    nats_subject_prefix: str = "keel"
    # Run the relay inside `keel serve` when nats_url is set; off when it runs as its
    # own process (`keel relay`).
    run_relay: bool = True
    relay_poll_interval_seconds: float = Field(0.05, gt=0)

    def environment(self) -> dict[str, str]:
        """KEEL_* variables that make `Settings()` in a child process equal these."""
        prefix = str(self.model_config.get("env_prefix", ""))
        values: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            if isinstance(value, dict | list):
                text = json.dumps(value)
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            values[f"{prefix}{name}".upper()] = text
        return values

    def child_environment(self) -> dict[str, str]:
        """This process's environment with its KEEL_* variables replaced by these
        settings: a child process started with it (the followers, the writer) runs on
        exactly the server's settings."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
        return {**inherited, **self.environment()}

    def eventsourcing_env(self, name: str, synchronous: str | None = None) -> dict[str, str]:
        """The environment eventsourcing reads to build the recorder called `name`.

        On SQLite every recorder gets its own file, because two recorders in one file
        would share one `stored_events` and one `tracking` table.
        """
        # Only the application reads the cache size; the views' recorders ignore it.
        cache = (
            {"AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache_size)}
            if self.aggregate_cache_size
            else {}
        )
        if self.store == "sqlite":
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "services.sqlite_store:Factory",
                "SQLITE_SYNCHRONOUS": synchronous or self.sqlite_synchronous,
                "SQLITE_DBNAME": str(self.data_dir / f"{name.lower()}.db"),
                "SQLITE_LOCK_TIMEOUT": "10",
                **cache,
            }
        return {
            **cache,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.postgres_db,
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password,
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
        }
