"""The `keel` command line: serve the API, and inspect or rebuild the views."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from typing import TextIO

import typer
import uvicorn
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from domain import calendar
from services import rebuilding
from services.bootstrap import Container, bootstrap
from services.cli_alerts import alerts_app
from services.cli_transfer import export_events, import_checkins, import_events
from services.demo import demo_teams, load_demo
from services.gc_tuning import tune_for_service
from services.relay import run_relays, start_relays
from services.settings import Settings

app = typer.Typer(help="Keel: goal churn and team morale from an immutable event log.")
projections_app = typer.Typer(help="Inspect and rebuild the views.")
app.add_typer(projections_app, name="projections")
app.add_typer(alerts_app, name="alerts")
app.command("export")(export_events)
app.command("import")(import_events)
app.command("import-checkins")(import_checkins)
console = Console()


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to bind (default: KEEL_HOST)."),
    port: int = typer.Option(None, help="Port to bind (default: KEEL_PORT)."),
) -> None:
    """Serve the HTTP API; the views and the alert process follow the log in a child
    process (KEEL_FOLLOWERS=process, the default) or in this one (threads)."""
    settings = Settings()
    console.print(
        f"Keel on http://{host or settings.host}:{port or settings.port} "
        f"(store: {settings.store}"
        + (f", data in {settings.data_dir.resolve()}" if settings.store == "sqlite" else "")
        + "); API docs at /docs"
    )
    uvicorn.run(
        "services.http.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
    )


def _stopped_by_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, for commands that run until stopped."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    return stopping


@app.command()
def relay(
    every: float = typer.Option(10.0, help="Seconds between progress lines."),
) -> None:
    """Publish to NATS JetStream (KEEL_NATS_URL) as a process of its own, until
    interrupted: Keel's events to KEEL_EVENTS, alerts to KEEL_ALERTS."""
    settings = Settings()
    if settings.nats_url is None:
        console.print("KEEL_NATS_URL is not set: there is nowhere to publish")
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stopping = _stopped_by_signals()
    console.print(f"relaying to {settings.nats_url} (store: {settings.store}); Ctrl-C stops")
    run_relays(settings, stopping, logging.getLogger("keel.relay").info, every)


@app.command()
def follow(
    views: bool = typer.Option(True, help="Fold the log into the views."),
    alerts: bool = typer.Option(True, help="Evaluate the alert rules."),
    every: float = typer.Option(10.0, help="Seconds between progress lines (0: none)."),
    relays: bool = typer.Option(
        False, "--relays", help="Also publish to NATS (KEEL_NATS_URL), as `keel relay` does."
    ),
    parent: int = typer.Option(
        None, hidden=True, help="Stop when this process is gone (`keel serve`'s child)."
    ),
    status_fd: int = typer.Option(
        None, hidden=True, help="Write a status line here every second (for `keel serve`)."
    ),
) -> None:
    """Follow the log as a process of its own, until interrupted. `keel serve` starts
    one itself (KEEL_FOLLOWERS=process); run it by hand beside a `keel serve` started
    with KEEL_RUN_PROJECTIONS=false and/or KEEL_RUN_ALERTS=false."""
    if not (views or alerts):
        console.print("nothing to follow: --no-views and --no-alerts")
        raise typer.Exit(2)
    stopping = _stopped_by_signals()
    tune_for_service()
    container = bootstrap(Settings())
    publishing = None
    status = os.fdopen(status_fd, "w", buffering=1) if status_fd is not None else None
    try:
        if views:
            container.runner.start()
            container.alert_runner.start()
        if alerts:
            container.alert_process.start()
        if relays:
            publishing = start_relays(container.settings, container.keel, container.alerts)
        console.print(f"following the log (views: {views}, alerts: {alerts}); Ctrl-C stops")
        if parent is not None:
            threading.Thread(
                target=_nudged_by_stdin,
                args=(container, stopping),
                name="keel-nudges",
                daemon=True,
            ).start()
        shown_at = time.monotonic()
        while True:
            if status is not None and not _reported(container, status):
                break  # nobody reads it any more: the server is gone
            if stopping.wait(min(1.0, every) if every > 0 else 1.0):
                break
            if parent is not None and os.getppid() != parent:
                console.print("the server that started this follower is gone; stopping")
                break
            if every > 0 and time.monotonic() - shown_at >= every:
                shown_at = time.monotonic()
                head = container.keel.head()
                positions = container.runner.positions()
                shown = {**positions, "alerts": container.alert_process.position}
                console.print(f"log head {head}: {shown}")
    finally:
        if publishing is not None:
            publishing.close()
        container.close()
        if status is not None:
            with contextlib.suppress(OSError):
                status.close()


def _reported(container: Container, status: TextIO) -> bool:
    """Tell `keel serve` whether the alert process is evaluating (not while it reads
    its state back after a start) and what is failing, for its /readyz."""
    live = container.alert_process.rules is not None
    line = json.dumps({"alerts_live": live, "failures": container.failures()})
    try:
        status.write(line + "\n")
    except OSError:  # BrokenPipeError: the server has closed its end
        return False
    return True


def _nudged_by_stdin(container: Container, stopping: threading.Event) -> None:
    """`keel serve` writes a line to its follower's stdin at every save: wake what
    follows the logs here, as a save here would. The end of stdin means the server
    is gone."""
    while os.read(0, 4096):
        for listener in (*container.keel.on_recorded, *container.alerts.on_recorded):
            listener(0)  # the listeners are nudges: none reads the position
    stopping.set()


@app.command()
def demo(
    force: bool = typer.Option(False, "--force", help="Load another copy if one is there."),
) -> None:
    """Load a two-year story of two teams (ending today) to explore Keel with."""
    container = bootstrap(Settings())
    try:
        already = {} if force else demo_teams(container.keel)
        if already:
            console.print(f"The demo is already loaded ({', '.join(already)}): nothing was added.")
            console.print("`keel demo --force` loads another copy.")
            return
        columns = (TextColumn("loading the demo"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TextColumn("days"), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("demo", total=None)
            loaded = load_demo(
                container.keel,
                today=calendar.today(),
                force=force,
                on_day=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        container.close()
    console.print(f"Loaded {loaded.events} events, {loaded.first_day} to {loaded.last_day}:")
    for name, team_id in loaded.teams.items():
        console.print(f"  {name}: {team_id}")
    console.print("Managers see more: send `X-Keel-Actor: Kay` (Customer Success) or `Noor`.")
    console.print("Serve it with `make run`, then: curl -s http://127.0.0.1:8000/v1/teams")


@projections_app.command("status")
def status() -> None:
    """Each view's position against the head of the log."""
    container = bootstrap(Settings())
    try:
        head = container.runner.head()
        table = Table("view", "position", "head", "behind")
        for name, position in container.runner.positions().items():
            table.add_row(name, str(position), str(head), str(head - position))
        console.print(table)
    finally:
        container.close()


@projections_app.command("rebuild")
def rebuild(
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        "-j",
        min=1,
        show_default=False,
        help="Processes to rebuild in, each folding a share of the views and reading the "
        "whole log itself. Default: one per CPU core, at most one per view. 1: in this "
        "process, one read of the log for every view.",
    ),
) -> None:
    """Empty the views and fold the whole log into them again."""
    container = bootstrap(Settings())
    try:
        runner = container.runner
        head = runner.head()
        columns = (
            TextColumn("rebuilding views"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("rebuild", total=head)
            children = rebuilding.rebuild(
                runner,
                container.settings,
                jobs=jobs,
                progress=lambda count: progress.advance(task, count),
            )
        shared = " | ".join(", ".join(child.views) for child in children)
        done = f"rebuilt {len(runner.views)} views up to position {head}"
        console.print(done + (f" in {len(children)} processes ({shared})" if children else ""))
    except rebuilding.RebuildFailed as error:
        console.print(error.details, markup=False, highlight=False)
        console.print(str(error), style="red", markup=False, highlight=False)
        console.print(
            "The other views were stopped. Each view holds every row up to its position "
            "(`keel projections status`): `keel serve` or `keel follow` carry it on from "
            "there, or rebuild again once the cause is fixed.",
            highlight=False,
        )
        raise typer.Exit(1) from None
    finally:
        container.close()


def main() -> None:
    app()


if __name__ == "__main__":  # `python -m services.cli`, as `keel serve` starts `keel follow`
    main()
