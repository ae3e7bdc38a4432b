"""`keel export`, `keel import` and `keel import-checkins`. Progress and errors go to
stderr, so an export to stdout stays clean."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from services import checkin_import, transfer
from services.errors import NotFound
from services.keel import Keel
from services.settings import Settings

stderr = Console(stderr=True)
_SHOWN_ERRORS = 20


class Format(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@contextmanager
def _keel() -> Iterator[Keel]:
    keel = Keel(env=Settings().eventsourcing_env(Keel.name))
    try:
        yield keel
    finally:
        keel.close()


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, console=stderr)


def _team(keel: Keel, team: str | None) -> UUID | None:
    if team is None:
        return None
    try:
        return keel.team(UUID(team)).id
    except (ValueError, NotFound):
        raise typer.BadParameter(f"no team with id {team}", param_hint="--team") from None


def _fail(errors: list[transfer.LineError], what: str) -> typer.Exit:
    stderr.print(f"[red]{what} refused; nothing was written.[/red]", highlight=False)
    for error in errors[:_SHOWN_ERRORS]:
        stderr.print(str(error), markup=False, highlight=False)
    if len(errors) > _SHOWN_ERRORS:
        stderr.print(f"… and {len(errors) - _SHOWN_ERRORS} more bad lines", highlight=False)
    return typer.Exit(1)


class _Stages:
    """Turns the import's stages into a validating bar, then a writing bar."""

    def __init__(self, progress: Progress, lines: int) -> None:
        self.progress = progress
        self.validating = progress.add_task("checking lines", total=lines)
        self.writing: TaskID | None = None

    def __call__(self, stage: transfer.Stage, count: int) -> None:
        if stage == "validated":
            self.progress.advance(self.validating, count)
        elif stage == "writing":
            self.writing = self.progress.add_task("writing", total=count)
        elif self.writing is not None:
            self.progress.advance(self.writing, count)


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


TeamOption = Annotated[
    str | None, typer.Option("--team", help="The team's id.", show_default=False)
]


def export_events(
    team: TeamOption = None,
    format: Annotated[Format, typer.Option("--format", help="jsonl or csv.")] = Format.JSONL,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write here, not to stdout."),
    ] = None,
) -> None:
    """Write the event log, or one team's events, as JSON lines or CSV.

    Oldest first. Personal text is in the clear: treat the file as personal data."""
    with _keel() as keel:
        team_id = _team(keel, team)
        out: IO[str] = (
            output.open("w", encoding="utf-8", newline="") if output is not None else sys.stdout
        )
        try:
            with _progress() as progress:
                task = progress.add_task("exporting", total=keel.head())
                records = transfer.export_records(
                    keel, team_id=team_id, progress=lambda n: progress.advance(task, n)
                )
                if format is Format.CSV:
                    transfer.write_csv(records, out)
                else:
                    out.writelines(transfer.jsonl(r) for r in records)
        finally:
            if output is not None:
                out.close()


def import_events(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A .jsonl or .csv export."),
    ],
) -> None:
    """Import an export; a second import of the same file adds nothing.

    Every line is checked first; the new events are then written in one transaction,
    or none are. Events already in the store with the same data are skipped."""
    with _keel() as keel, _progress() as progress:
        stages = _Stages(progress, _count_lines(file))
        try:
            if file.suffix.lower() == ".csv":
                with file.open(encoding="utf-8", newline="") as text:
                    result = transfer.import_events(keel, transfer.read_csv(text), stages)
            else:
                with file.open("rb") as raw:
                    result = transfer.import_events(keel, transfer.read_jsonl(raw), stages)
        except transfer.ImportRefused as refused:
            progress.stop()
            raise _fail(refused.errors, f"{file.name}:") from None
        except (transfer.StoreChanged, UnicodeDecodeError) as error:
            progress.stop()
            stderr.print(f"[red]{file.name}: {error}[/red]", highlight=False)
            raise typer.Exit(1) from None
    typer.echo(
        f"imported {result.added} events ({result.skipped} already in the store); "
        f"the log's head is at {result.head}"
    )


def import_checkins(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A CSV of check-ins."),
    ],
    team: TeamOption = None,
    actor: Annotated[str, typer.Option("--actor", help="Who is importing.")] = "import",
) -> None:
    """Record check-ins from a CSV: day, member, mood, progress, setbacks, wins, blockers.

    Lists are separated by ';'. `member` is a member id, or a name with --team. Every
    row is checked first; rows already recorded with the same content are skipped."""
    with _keel() as keel, _progress() as progress:
        team_id = _team(keel, team)
        stages = _Stages(progress, max(_count_lines(file) - 1, 0))
        try:
            with file.open(encoding="utf-8", newline="") as text:
                result = checkin_import.import_checkins(
                    keel,
                    checkin_import.read_rows(text),
                    team_id=team_id,
                    actor=actor,
                    progress=stages,
                )
        except transfer.ImportRefused as refused:
            progress.stop()
            raise _fail(refused.errors, f"{file.name}:") from None
        except UnicodeDecodeError as error:
            progress.stop()
            stderr.print(f"[red]{file.name}: not UTF-8 text ({error.reason})[/red]")
            raise typer.Exit(1) from None
    typer.echo(
        f"recorded {result.added} check-ins ({result.skipped} already recorded); "
        f"the log's head is at {result.head}"
    )
