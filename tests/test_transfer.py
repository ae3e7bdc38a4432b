"""Export and import of the event log, on both backends: an export imported into an
empty store gives the same aggregates and the same views; a second import adds nothing;
a file with one bad line is refused whole, naming the line."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from domain.goal import ConcernKind, Goal
from domain.journal import CheckIn, Journal
from domain.recognition import Recognition
from domain.team import ERASED, DepartureReason
from services.bootstrap import Container, bootstrap
from services.keel import Keel
from services.settings import Settings
from services.transfer import (
    ImportRefused,
    ImportResult,
    export_records,
    import_events,
    jsonl,
    read_csv,
    read_jsonl,
    write_csv,
)
from tests.conftest import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER

MONDAY = date(2025, 3, 3)


@dataclass(frozen=True)
class Story:
    team: UUID
    other_team: UUID
    sandra: UUID
    lee: UUID
    ana: UUID
    goal: UUID


def _goal(keel: Keel, goal_id: UUID, change: Any) -> None:
    keel.change_goal(goal_id, None, change)


def tell(keel: Keel) -> Story:
    """Two teams; members who join, leave and are erased; a goal whose target moves
    three times; check-ins, a correction, a cleared blocker, recognitions."""
    team = keel.form_team(name="Support", manager="kay", actor="kay", occurred_on=date(2025, 1, 6))
    other = keel.form_team(
        name="Platform", manager="maya", actor="maya", occurred_on=date(2025, 1, 6)
    )
    sandra, lee, ana, bo = (
        keel.add_member(team.id, name=n, role=r, actor="kay", occurred_on=date(2025, 1, 7)).id
        for n, r in (("Sandra", "agent"), ("Lee", None), ("Ana", None), ("Bo", "manager"))
    )
    cy = keel.add_member(other.id, name="Cy", role=None, actor="maya", occurred_on=MONDAY).id
    keel.set_min_group(team.id, min_group=3, actor="kay", occurred_on=date(2025, 1, 8))
    goal = keel.set_goal(
        team.id,
        title="Renewals",
        metric="rate",
        target=90,
        unit="%",
        due=date(2025, 12, 31),
        why="growth",
        actor="owner",
        occurred_on=date(2025, 1, 8),
    ).id
    for day, target in ((date(2025, 2, 1), 95.5), (date(2025, 3, 1), 80), (date(2025, 4, 1), 99)):

        def retarget(g: Goal, t: float = target, d: date = day) -> None:
            g.change_target(target=t, reason="owners", actor="owner", occurred_on=d)

        _goal(keel, goal, retarget)
    _goal(
        keel,
        goal,
        lambda g: g.change_due_date(
            due=date(2025, 11, 30), reason="audit", actor="kay", occurred_on=date(2025, 4, 2)
        ),
    )
    _goal(
        keel,
        goal,
        lambda g: g.redefine(
            title="Renewals+", metric=None, reason="scope", actor="kay", occurred_on=MONDAY
        ),
    )
    _goal(
        keel,
        goal,
        lambda g: g.raise_concern(
            kind=ConcernKind.UNATTAINABLE, text="too high", actor=str(lee), occurred_on=MONDAY
        ),
    )
    concern = next(iter(keel.goal(goal).concerns))
    keel.answer_concern(goal, concern, text="we'll see", actor="kay", occurred_on=MONDAY)
    _goal(
        keel,
        goal,
        lambda g: g.record_progress(value=71.5, note="q1", actor="kay", occurred_on=MONDAY),
    )
    keel.set_goal(
        other.id,
        title="Latency",
        metric="p99",
        target=300,
        unit="ms",
        due=date(2025, 6, 1),
        why=None,
        actor="maya",
        occurred_on=MONDAY,
    )

    for offset in range(3):
        day = date(2025, 3, 3 + offset)
        for i, member in enumerate((sandra, lee, ana)):
            keel.check_in(
                team.id,
                member,
                CheckIn(
                    day,
                    (i + offset) % 5 + 1,
                    progress=[f"step {offset}"],
                    setbacks=["flaky CI"] if i == 1 else [],
                    wins=[f"win {offset}.{i}"] if (i + offset) % 2 == 0 else [],
                    blockers=["no VPN"] if offset == 0 and i == 0 else [],
                    private_note="tired" if i == 2 else None,
                ),
                actor=str(member),
            )
    keel.check_in(other.id, cy, CheckIn(MONDAY, 4, progress=["deploy"]), actor=str(cy))
    keel.correct_check_in(
        ana, CheckIn(MONDAY, 3, progress=["step 0", "more"], wins=[]), actor=str(ana)
    )
    blocker = next(iter(keel.journal(sandra).blockers))
    keel.clear_blocker(sandra, blocker, note="access granted", actor="kay", occurred_on=MONDAY)
    keel.define_success(lee, text="Fewer escalations", actor=str(lee), occurred_on=MONDAY)
    win = UUID(keel.journal(sandra).entries[MONDAY].wins[0]["id"])
    keel.recognise(
        from_member_id=lee,
        to_member_id=sandra,
        win_id=win,
        message="Great save!",
        actor=str(lee),
        occurred_on=date(2025, 3, 4),
    )
    keel.recognise(
        from_member_id=bo,
        to_member_id=ana,
        win_id=None,
        message="Thanks, Ana",
        actor=str(bo),
        occurred_on=date(2025, 3, 5),
    )
    keel.record_departure(
        team.id,
        bo,
        reason=DepartureReason.TRANSFERRED,
        note="to Platform",
        actor="kay",
        occurred_on=date(2025, 3, 6),
    )
    keel.erase_member(ana, actor="ana", occurred_on=date(2025, 3, 7))
    # What Ana writes after her erasure is readable again, under a new key.
    keel.check_in(team.id, ana, CheckIn(date(2025, 3, 10), 4, progress=["back"]), actor="ana")
    return Story(team.id, other.id, sandra, lee, ana, goal)


# --- helpers ---------------------------------------------------------------------------


def export(keel: Keel, **options: Any) -> list[str]:
    return [jsonl(record) for record in export_records(keel, **options)]


def import_lines(keel: Keel, lines: list[str]) -> ImportResult:
    return import_events(keel, read_jsonl(line.encode() for line in lines))


def views(container: Container) -> dict[str, Any]:
    container.runner.catch_up()
    return {view.name: view.store.dump() for view in container.runner.views}


def originator_ids(keel: Keel) -> list[UUID]:
    notifications = keel.recorder.select_notifications(start=1, limit=100_000)
    return [UUID(str(n.originator_id)) for n in notifications]


def aggregates(keel: Keel) -> dict[UUID, dict[str, Any]]:
    """Every aggregate in the log, as the application loads it (personal text opened)."""
    return {i: dict(vars(keel.repository.get(i))) for i in set(originator_ids(keel))}


def stored_events(keel: Keel) -> list[tuple[str, int, str]]:
    return [
        (str(n.originator_id), n.originator_version, n.topic)
        for n in keel.recorder.select_notifications(start=1, limit=100_000)
    ]


def admin() -> psycopg.Connection[Any]:
    return psycopg.connect(
        dbname="postgres",
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        user=POSTGRES_USER,
        autocommit=True,
    )


@pytest.fixture
def other(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second, empty store on the same backend as `settings`."""
    if settings.store == "sqlite":
        yield settings.model_copy(update={"data_dir": tmp_path / "other"})
        return
    name = f"keel_test_{uuid.uuid4().hex[:12]}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield settings.model_copy(update={"postgres_db": name})
    finally:
        with admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def source(container: Container) -> tuple[Container, Story]:
    return container, tell(container.keel)


@pytest.fixture
def target(other: Settings) -> Iterator[Container]:
    built = bootstrap(other)
    try:
        yield built
    finally:
        built.close()


# --- acceptance ------------------------------------------------------------------------


def test_an_export_imported_into_an_empty_store_gives_the_same_aggregates_and_views(
    source: tuple[Container, Story], target: Container
) -> None:
    container, story = source
    lines = export(container.keel)
    assert len(lines) == container.keel.head()

    result = import_lines(target.keel, lines)

    assert (result.events, result.added, result.skipped) == (len(lines), len(lines), 0)
    assert result.head == target.keel.head() == container.keel.head()
    assert stored_events(target.keel) == stored_events(container.keel)
    assert aggregates(target.keel) == aggregates(container.keel)
    assert views(target) == views(container)
    # Personal text was sealed again, under this store's keys.
    raw = b"".join(bytes(n.state) for n in target.keel.recorder.select_notifications(1, 10_000))
    assert b"Great save!" not in raw
    assert b"Great save!" in "".join(lines).encode()
    assert target.keel.journal(story.lee).success == "Fewer escalations"
    # The erased member's texts were exported as "[erased]" and read so here; what
    # she wrote after her erasure reads as it does in the source.
    entries = target.keel.journal(story.ana).entries
    assert (entries[MONDAY].progress, entries[date(2025, 3, 4)].private_note) == (
        [ERASED, ERASED],
        ERASED,
    )
    assert entries[date(2025, 3, 10)].progress == ["back"]


def test_a_second_import_adds_nothing(source: tuple[Container, Story], target: Container) -> None:
    container, _ = source
    lines = export(container.keel)
    import_lines(target.keel, lines)
    head = target.keel.head()
    before = views(target)

    again = import_lines(target.keel, lines)

    assert (again.added, again.skipped, again.head) == (0, len(lines), head)
    assert target.keel.head() == head
    assert views(target) == before
    # Into the store it came from, too.
    assert import_lines(container.keel, lines).added == 0


def test_a_file_with_one_bad_line_in_the_middle_is_refused_whole(
    source: tuple[Container, Story], target: Container
) -> None:
    container, _ = source
    lines = export(container.keel)
    middle = len(lines) // 2
    record = json.loads(lines[middle])
    record["data"]["actor"] = 7
    lines[middle] = json.dumps(record)

    with pytest.raises(ImportRefused) as refused:
        import_lines(target.keel, lines)

    assert [str(e) for e in refused.value.errors] == [
        f"line {middle + 1}: data.actor: Input should be a valid string"
    ]
    assert target.keel.head() == 0
    assert all(rows == [] for tables in views(target).values() for rows in tables.values())


def test_a_partial_file_continues_what_the_store_holds(
    source: tuple[Container, Story], target: Container
) -> None:
    container, _ = source
    lines = export(container.keel)
    half = len(lines) // 2
    assert import_lines(target.keel, lines[:half]).added == half

    rest = import_lines(target.keel, lines)

    assert (rest.added, rest.skipped) == (len(lines) - half, half)
    assert views(target) == views(container)


# --- one team ---------------------------------------------------------------------------


def test_a_team_export_holds_its_team_goals_journals_and_recognitions(
    source: tuple[Container, Story], target: Container
) -> None:
    container, story = source
    keel = container.keel
    records = [json.loads(line) for line in export(keel, team_id=story.other_team)]
    originators = {UUID(r["originator_id"]) for r in records}
    cy = next(iter(keel.team(story.other_team).members))
    goals = {UUID(r["originator_id"]) for r in records if r["type"].endswith("Goal.GoalSet")}
    assert originators == {story.other_team, Journal.id_for(cy), *goals}
    assert len(goals) == 1
    assert [r["position"] for r in records] == sorted(r["position"] for r in records)

    support = [json.loads(line) for line in export(keel, team_id=story.team)]
    types = {r["type"].rsplit(".", 1)[-1] for r in support}
    assert {"TeamFormed", "GoalSet", "JournalOpened", "RecognitionGiven"} <= types
    assert len(support) + len(records) == keel.head()

    result = import_lines(target.keel, [jsonl(r) for r in records])
    assert result.added == len(records)
    assert target.keel.team(story.other_team).members[cy].name == "Cy"


# --- what a record holds ----------------------------------------------------------------


def test_a_record_holds_type_version_ids_days_and_data(source: tuple[Container, Story]) -> None:
    container, story = source
    records = [json.loads(line) for line in export(container.keel)]
    by_type = {r["type"]: r for r in records}
    changed = next(r for r in records if r["type"] == "domain.goal:Goal.TargetChanged")
    assert changed["version"] == 1
    assert changed["originator_id"] == str(story.goal)
    assert changed["originator_version"] == 2
    assert changed["occurred_on"] == "2025-02-01"
    assert changed["recorded_at"].endswith("+00:00")
    assert changed["data"] == {
        "actor": "owner",
        "occurred_on": "2025-02-01",
        "old": 90,
        "new": 95.5,
        "reason": "owners",
    }
    given = by_type["domain.recognition:Recognition.RecognitionGiven"]
    assert given["version"] == 2
    assert set(given["data"]) >= {"team_id", "win_id", "message", "originator_topic"}
    checked_in = [r for r in records if r["type"].endswith("Journal.CheckedIn")]
    assert {r["occurred_on"] for r in checked_in} == {
        "2025-03-03",
        "2025-03-04",
        "2025-03-05",
        "2025-03-10",
    }
    assert [r["position"] for r in records] == list(range(1, len(records) + 1))


def test_private_notes_can_be_withheld(source: tuple[Container, Story], target: Container) -> None:
    container, story = source
    records = [json.loads(line) for line in export(container.keel, withhold_private_notes=True)]
    withheld = [r for r in records if "withheld" in r]
    assert withheld
    assert all(r["withheld"] == ["private_note"] for r in withheld)
    assert all(r["data"]["private_note"] is None for r in records if "private_note" in r["data"])
    assert "tired" not in json.dumps(records)
    # Such a file still imports, and matches its source store except for those notes.
    lines = [jsonl(r) for r in records]
    assert import_lines(container.keel, lines).added == 0
    assert import_lines(target.keel, lines).added == len(lines)
    assert views(target) == views(container)
    assert target.keel.journal(story.ana).entries[date(2025, 3, 4)].private_note is None


def test_csv_export_has_one_row_per_event_and_imports_like_json_lines(
    source: tuple[Container, Story], target: Container
) -> None:
    container, _ = source
    out = io.StringIO()
    write_csv(export_records(container.keel), out)
    text = out.getvalue()
    header, first = text.splitlines()[:2]
    assert header == (
        "position,type,version,originator_id,originator_version,occurred_on,recorded_at,data"
    )
    assert first.startswith("1,domain.team:Team.TeamFormed,1,")

    result = import_events(target.keel, read_csv(io.StringIO(text)))

    assert result.added == container.keel.head()
    assert views(target) == views(container)


# --- refusals ---------------------------------------------------------------------------


def refusal(keel: Keel, lines: list[str]) -> list[str]:
    head = keel.head()
    with pytest.raises(ImportRefused) as refused:
        import_lines(keel, lines)
    assert keel.head() == head  # nothing written
    return [str(e) for e in refused.value.errors]


def edited(line: str, **changes: Any) -> str:
    record = json.loads(line)
    data = changes.pop("data", {})
    record.update(changes)
    record["data"].update(data)
    return json.dumps(record)


@pytest.fixture
def small(sqlite_settings: Settings) -> Iterator[tuple[Keel, list[str]]]:
    """An export of a team, a member and a goal moved once, and an empty store."""
    first = Keel(env=sqlite_settings.eventsourcing_env(Keel.name))
    team = first.form_team(name="T", manager="kay", actor="kay", occurred_on=MONDAY)
    first.add_member(team.id, name="Sam", role=None, actor="kay", occurred_on=MONDAY)
    goal = first.set_goal(
        team.id,
        title="G",
        metric="m",
        target=1,
        unit="",
        due=MONDAY,
        why=None,
        actor="kay",
        occurred_on=MONDAY,
    )

    def retarget(g: Goal) -> None:
        g.change_target(target=2, reason="r", actor="kay", occurred_on=MONDAY)

    first.change_goal(goal.id, None, retarget)
    lines = export(first)
    first.close()
    elsewhere = sqlite_settings.model_copy(update={"data_dir": sqlite_settings.data_dir / "empty"})
    empty = Keel(env=elsewhere.eventsourcing_env(Keel.name))
    try:
        yield empty, lines
    finally:
        empty.close()


def test_every_bad_line_is_named_with_its_reason(small: tuple[Keel, list[str]]) -> None:
    keel, lines = small
    assert len(lines) == 5  # formed, joined, opened, set, changed
    bad = [
        lines[0],
        "{not json",
        edited(lines[1], type="domain.team:Team.Promoted"),
        edited(lines[2], version=3),
        '{"type": "x"}',
        edited(lines[3], data={"target": "lots"}),
        edited(lines[4], occurred_on="2020-01-01"),
        edited(lines[4], originator_version=7, data={"reason": "other"}),
        edited(lines[0], type="os:system", originator_id=str(uuid.uuid4())),
        # Alerts have a log of their own; they do not belong in this one.
        edited(lines[0], type="domain.alert:Alert.AlertRaised", originator_id=str(uuid.uuid4())),
    ]
    errors = refusal(keel, bad)
    assert errors[0].startswith("line 2: record: Invalid JSON")
    assert errors[1] == "line 3: type: unknown event type 'domain.team:Team.Promoted'"
    assert errors[2] == (
        "line 4: version: domain.journal:Journal.JournalOpened version 3 is newer than "
        "this Keel reads (up to 1)"
    )
    assert errors[3].startswith("line 5: version: Field required")
    assert "originator_id: Field required" in errors[3]
    assert errors[4] == "line 6: data.target: Input should be a valid number"
    assert errors[5] == "line 7: occurred_on: 2020-01-01 is not the event's day 2025-03-03"
    assert errors[6].startswith("line 8: originator_version: 7 does not follow 2")
    assert errors[7] == "line 9: type: unknown event type 'os:system'"
    assert errors[8] == "line 10: type: unknown event type 'domain.alert:Alert.AlertRaised'"
    assert len(errors) == 9


def test_versions_must_run_on_from_what_the_store_holds(small: tuple[Keel, list[str]]) -> None:
    keel, lines = small
    # The goal's change without the goal: version 2 of nothing.
    (error,) = refusal(keel, [lines[4]])
    assert error.startswith("line 1: originator_version: the file starts ")
    assert error.endswith("at version 2, but the store holds nothing of it")
    # Version 1 is a creation.
    (error,) = refusal(keel, [edited(lines[4], originator_version=1)])
    assert error == (
        "line 1: originator_version: domain.goal:Goal.TargetChanged cannot be version 1"
    )
    # Extra or missing data is refused, and so is a creation of another aggregate.
    errors = refusal(
        keel,
        [
            edited(lines[0], data={"colour": "red"}),
            edited(lines[3], data={"originator_topic": "domain.team:Team"}),
        ],
    )
    assert errors == [
        "line 1: data.colour: Extra inputs are not permitted",
        "line 2: data.originator_topic: must be 'domain.goal:Goal'",
    ]


def test_an_event_stored_with_other_data_is_refused(small: tuple[Keel, list[str]]) -> None:
    keel, lines = small
    import_lines(keel, lines)
    changed = edited(lines[4], data={"new": 3, "reason": "other"})
    errors = refusal(keel, [*lines[:4], changed])
    assert len(errors) == 1
    assert errors[0].startswith("line 5: ")
    assert errors[0].endswith("version 2 is already stored with another new, reason")


@pytest.mark.postgres
def test_an_export_moves_a_store_from_sqlite_to_postgresql(
    sqlite_settings: Settings, postgres_settings: Settings
) -> None:
    source, target = bootstrap(sqlite_settings), bootstrap(postgres_settings)
    try:
        tell(source.keel)
        lines = export(source.keel)

        assert import_lines(target.keel, lines).added == len(lines)

        assert aggregates(target.keel) == aggregates(source.keel)
        assert views(target) == views(source)
    finally:
        source.close()
        target.close()


def test_what_a_file_brings_for_someone_erased_here_cannot_be_read(
    sqlite_settings: Settings,
) -> None:
    """Sam is erased in the target after a first import; a later export of the source
    brings a recognition of Sam. Its message is sealed under a key that is then deleted."""
    source = Keel(env=sqlite_settings.eventsourcing_env(Keel.name))
    elsewhere = sqlite_settings.model_copy(update={"data_dir": sqlite_settings.data_dir / "b"})
    target = Keel(env=elsewhere.eventsourcing_env(Keel.name))
    try:
        team = source.form_team(name="T", manager="kay", actor="kay", occurred_on=MONDAY)
        lee, sam = (
            source.add_member(team.id, name=n, role=None, actor="kay", occurred_on=MONDAY).id
            for n in ("Lee", "Sam")
        )
        import_lines(target, export(source))
        target.erase_member(sam, actor="sam", occurred_on=MONDAY)
        recognition = source.recognise(
            from_member_id=lee,
            to_member_id=sam,
            win_id=None,
            message="Great work",
            actor=str(lee),
            occurred_on=MONDAY,
        )

        result = import_lines(target, export(source))

        assert result.added == 1  # the recognition; the rest is already there
        given: object = target.repository.get(recognition.id)
        assert isinstance(given, Recognition)
        assert given.message == ERASED
        assert target.vault.key(Journal.id_for(sam), create=False) is None
        assert target.team(team.id).members[sam].name == ERASED
        assert target.team(team.id).members[lee].name == "Lee"
    finally:
        source.close()
        target.close()
