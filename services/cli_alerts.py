"""`keel alerts backtest`: replay the whole log through one rule, with parameters a
manager is thinking of, and show when it would have fired. Nothing is recorded.

Bad options exit with code 2 and a message naming the option, as click does for its
own checks; progress goes to stderr, so `--json` output on stdout stays clean."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table

from domain.alert import Rule, check_parameters
from domain.errors import InvalidCommand
from services.alerting import Firing, backtest
from services.bootstrap import Container, alert_rules, bootstrap
from services.errors import NotFound
from services.settings import Settings

alerts_app = typer.Typer(help="Alerts: try a rule on history before turning it on.")
stdout = Console()
stderr = Console(stderr=True)


def parse_sets(rule: Rule, sets: list[str]) -> dict[str, float]:
    """`--set name=value` options, checked against the rule's parameters."""
    values: dict[str, float] = {}
    for item in sets:
        name, equals, raw = item.partition("=")
        if not equals or not name.strip():
            raise typer.BadParameter(f"expected name=value, got {item!r}", param_hint="--set")
        try:
            values[name.strip()] = float(raw)
        except ValueError:
            message = f"{name.strip()} must be a number, not {raw!r}"
            raise typer.BadParameter(message, param_hint="--set") from None
    try:
        return check_parameters(rule, values, field="--set")
    except InvalidCommand as refused:
        name = refused.field.removeprefix("--set.")
        raise typer.BadParameter(f"{name}: {refused.message}", param_hint="--set") from None


def _team_names(container: Container, firings: list[Firing], team: UUID | None) -> dict[UUID, str]:
    teams = {f.raised.team_id for f in firings} | ({team} if team is not None else set())
    return {team_id: container.keel.team(team_id).name for team_id in teams}


def _numbers(numbers: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:g}" for name, value in sorted(numbers.items()))


def _as_json(firing: Firing) -> dict[str, Any]:
    raised = firing.raised
    return {
        "alert_id": str(raised.alert_id),
        "rule": raised.rule.value,
        "team_id": str(raised.team_id),
        "subject_id": str(raised.subject_id) if raised.subject_id else None,
        "severity": raised.severity.value,
        "raised_on": raised.raised_on.isoformat(),
        "numbers": dict(raised.numbers),
        "evidence": [e.as_dict() for e in raised.evidence],
        "cleared_on": firing.cleared_on.isoformat() if firing.cleared_on else None,
    }


def _table(firings: list[Firing], names: dict[UUID, str]) -> Table:
    # Ids are folded, never cut: they are what a manager follows up with.
    subject = Column("subject", overflow="fold", min_width=36)
    table = Table("raised on", "team", subject, "severity", "numbers", "cleared on")
    for firing in firings:
        raised = firing.raised
        table.add_row(
            raised.raised_on.isoformat(),
            names[raised.team_id],
            str(raised.subject_id) if raised.subject_id else "the team",
            raised.severity.value,
            _numbers(dict(raised.numbers)),
            firing.cleared_on.isoformat() if firing.cleared_on else "-",
        )
    return table


def _summary(
    rule: Rule, tuned: dict[str, float], count: int, since: date, until: date, team: str | None
) -> str:
    with_values = f" ({_numbers(tuned)})" if tuned else ""
    times = "time" if count == 1 else "times"
    for_team = f" for {team}" if team is not None else ""
    fired = f"would have fired {count} {times}{for_team}"
    return f"{rule}{with_values} {fired} between {since} and {until}"


@alerts_app.command("backtest")
def backtest_rule(
    rule: Annotated[Rule, typer.Option("--rule", help="The rule to try.", show_default=False)],
    since: Annotated[
        datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day to report, YYYY-MM-DD."),
    ],
    until: Annotated[
        datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day to report, YYYY-MM-DD."),
    ],
    team: Annotated[
        str | None, typer.Option("--team", help="Only this team (its id).", show_default=False)
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="A parameter to try, name=value; repeatable.", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """When RULE would have fired between --from and --to, replaying the whole log with
    the installation's and each team's parameters, overridden by --set. Records nothing."""
    first, last = since.date(), until.date()
    if first > last:
        raise typer.BadParameter(f"{first} is after --to {last}", param_hint="--from")
    tuned = parse_sets(rule, sets or [])
    settings = Settings()
    container = bootstrap(settings)
    try:
        team_id = _team(container, team)
        rules = alert_rules(settings, forced={rule.value: tuned})
        columns = (TextColumn("replaying the log"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=stderr) as progress:
            task = progress.add_task("backtest", total=container.keel.head())
            firings = backtest(
                container.alert_process,
                rules,
                rule=rule,
                team_id=team_id,
                since=first,
                until=last,
                progress=lambda count: progress.advance(task, count),
            )
        names = _team_names(container, firings, team_id)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps([_as_json(f) for f in firings], indent=2))
        return
    if firings:
        stdout.print(_table(firings, names))
    team_name = names[team_id] if team_id is not None else None
    stdout.print(_summary(rule, tuned, len(firings), first, last, team_name), highlight=False)


def _team(container: Container, team: str | None) -> UUID | None:
    if team is None:
        return None
    try:
        return container.keel.team(UUID(team)).id
    except (ValueError, NotFound):
        raise typer.BadParameter(f"no team with id {team}", param_hint="--team") from None
