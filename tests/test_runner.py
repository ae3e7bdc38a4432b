"""The runner and view stores on both backends: exactly once, resumable, rebuildable."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import StoredEvent

from domain.goal import Goal
from domain.journal import Journal
from domain.team import DepartureReason
from projections.rows import fold_all
from services.bootstrap import Container, bootstrap
from services.event_decoding import FastMapper
from services.keel import Keel
from services.log_pages import Logged
from services.runner import Runner
from services.settings import Settings
from services.views import ViewStore


def populate(keel: Keel, after_each: Any = None) -> int:
    """A small but varied history; returns the number of commands."""
    commands: list[Any] = []
    team = keel.form_team(
        name="Support", manager="kay", actor="owner", occurred_on=date(2025, 1, 6)
    )
    commands.append(team)
    sandra = keel.add_member(
        team.id, name="Sandra", role="agent", actor="kay", occurred_on=date(2025, 1, 7)
    )
    commands.append(sandra)
    commands.append(
        keel.add_member(team.id, name="Lee", role=None, actor="kay", occurred_on=date(2025, 1, 7))
    )
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
    )
    commands.append(goal)
    other = keel.set_goal(
        team.id,
        title="CSAT",
        metric="score",
        target=4.5,
        unit="",
        due=date(2025, 6, 30),
        why=None,
        actor="owner",
        occurred_on=date(2025, 1, 8),
    )
    commands.append(other)
    for day, target in [
        (date(2025, 2, 1), 95.0),
        (date(2025, 3, 3), 80.0),
        (date(2025, 4, 20), 99.0),
    ]:

        def change(g: Goal, t: float = target, d: date = day) -> None:
            g.change_target(target=t, reason="owners", actor="owner", occurred_on=d)

        commands.append(keel.change_goal(goal.id, None, change))
    commands.append(
        keel.change_goal(
            other.id,
            None,
            lambda g: g.change_due_date(
                due=date(2025, 9, 30), reason="slip", actor="kay", occurred_on=date(2025, 3, 1)
            ),
        )
    )
    commands.append(
        keel.change_goal(
            other.id,
            None,
            lambda g: g.redefine(
                title="Customer happiness",
                metric=None,
                reason="clarity",
                actor="kay",
                occurred_on=date(2025, 3, 2),
            ),
        )
    )
    commands.append(
        keel.change_goal(
            other.id,
            None,
            lambda g: g.record_progress(
                value=4.1, note=None, actor="kay", occurred_on=date(2025, 3, 5)
            ),
        )
    )
    commands.append(
        keel.record_departure(
            team.id,
            sandra.id,
            reason=DepartureReason.DISMISSED,
            note=None,
            actor="owner",
            occurred_on=date(2025, 5, 1),
        )
    )
    commands.append(
        keel.change_goal(
            other.id,
            None,
            lambda g: g.achieve(reason="done", actor="kay", occurred_on=date(2025, 6, 1)),
        )
    )
    commands.append(
        keel.change_goal(
            goal.id,
            None,
            lambda g: g.abandon(reason=None, actor="owner", occurred_on=date(2025, 6, 2)),
        )
    )
    return len(commands)


def dump(container: Container) -> dict[str, Any]:
    return {view.name: view.store.dump() for view in container.runner.views}


def in_memory(container: Container) -> dict[str, Any]:
    """The reference meaning of the folds, applied to dicts, for comparison with a store."""
    keel = container.keel
    notifications = keel.recorder.select_notifications(start=1, limit=10_000)
    events = [(keel.mapper.to_domain_event(n), n.id) for n in notifications]
    result = {}
    for view in container.runner.views:
        tables = fold_all(view.projection, events)
        result[view.name] = {
            name: [rows[key] for key in sorted(rows)] for name, rows in tables.items()
        }
    return result


def test_incremental_build_equals_rebuild_and_the_pure_fold(settings: Settings) -> None:
    settings = settings.model_copy(update={"batch_size": 2})
    container = bootstrap(settings)
    try:
        populate(container.keel)
        container.runner.catch_up()
        incremental = dump(container)
        head = container.runner.head()
        assert set(container.runner.positions().values()) == {head}

        container.runner.rebuild()
        assert dump(container) == incremental
        assert incremental == in_memory(container)
        assert len(incremental["goal_audit"]["goal_changes"]) == 9
    finally:
        container.close()


def test_a_restarted_runner_resumes_where_its_view_stopped(settings: Settings) -> None:
    first = bootstrap(settings.model_copy(update={"batch_size": 3}))
    populate(first.keel)
    first.runner.process_page()  # three events in, then "crash"
    assert set(first.runner.positions().values()) == {3}
    first.close()

    second = bootstrap(settings)
    try:
        second.runner.catch_up()
        resumed = dump(second)
        second.runner.rebuild()
        assert dump(second) == resumed
    finally:
        second.close()


def test_a_failed_write_leaves_neither_rows_nor_position(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(container.keel)
    store: ViewStore = container.goal_audit

    def crash(c: object, tracking: object, after: int) -> None:
        raise RuntimeError("power cut between the rows and the position")

    monkeypatch.setattr(store, "_move", crash)
    container.runner.process_page()
    assert store.position("Keel") == 0
    assert store.dump() == {"goals": [], "goal_changes": []}
    # The failure is reported, and does not hold the other views back.
    assert "power cut" in container.runner.failures["goal_audit"]
    assert container.team_directory.position("Keel") > 0

    monkeypatch.undo()
    restarted = bootstrap(container.settings)
    try:
        restarted.runner.catch_up()
        assert len(restarted.goal_audit.dump()["goal_changes"]) == 9
    finally:
        restarted.close()


def test_two_runners_on_one_view_apply_each_event_once(settings: Settings) -> None:
    settings = settings.model_copy(update={"batch_size": 1})
    writer = bootstrap(settings)
    populate(writer.keel)
    rivals = [bootstrap(settings), bootstrap(settings)]
    try:
        threads = [threading.Thread(target=r.runner.catch_up) for r in rivals]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for rival in rivals:
            rival.runner.catch_up()  # whoever lost a race re-reads its position and finishes
        head = writer.runner.head()
        assert set(rivals[0].runner.positions().values()) == {head}
        changes = rivals[0].goal_audit.dump()["goal_changes"]
        assert [c["position"] for c in changes] == sorted({c["position"] for c in changes})
        assert len(changes) == 9
    finally:
        for container in (writer, *rivals):
            container.close()


def test_a_runner_that_missed_a_rebuild_never_moves_a_view_past_rows_it_did_not_write(
    settings: Settings,
) -> None:
    """`keel serve` follows the log while `keel projections rebuild` runs elsewhere: the
    server's runner still believes every view at the head when the rebuild empties
    them, and must not move a view there over the rows the rebuild has yet to write."""
    settings = settings.model_copy(update={"batch_size": 2})
    server, rebuild = bootstrap(settings), bootstrap(settings)
    try:
        populate(server.keel)
        server.runner.catch_up()
        for view in rebuild.runner.views:  # what Runner.rebuild does first
            view.store.reset("Keel")
        rebuild.runner.reload_positions()
        rebuild.runner.process_page(2)  # the rebuild is two events in
        server.keel.form_team(
            name="Late", manager="Lee", actor="owner", occurred_on=date(2025, 7, 1)
        )

        server.runner.catch_up()
        rebuild.runner.catch_up()

        head = server.runner.head()
        assert set(server.runner.positions().values()) == {head}
        assert dump(server) == in_memory(server)
    finally:
        rebuild.close()
        server.close()


def test_the_following_runner_sees_a_new_event_promptly(settings: Settings) -> None:
    container = bootstrap(settings.model_copy(update={"poll_interval_seconds": 5.0}))
    container.runner.start()
    try:
        recorded = container.keel.form_team(
            name="A", manager="m", actor="x", occurred_on=date(2025, 1, 1)
        )
        # The poll interval is 5 s: only the nudge from the save can make this quick.
        assert container.team_directory.wait_until("Keel", recorded.position, timeout=2.0)
    finally:
        container.close()


def test_a_rebuild_reads_bigger_pages_and_gives_the_same_views(sqlite_settings: Settings) -> None:
    container = bootstrap(sqlite_settings.model_copy(update={"batch_size": 2}))
    try:
        populate(container.keel)
        container.runner.catch_up()
        incremental = dump(container)
        read: list[int] = []
        read_page = container.runner.read_page

        def counted(start: int, limit: int) -> Sequence[Logged]:
            read.append(limit)
            return read_page(start, limit)

        container.runner.rebuild_batch_size = 5
        container.runner.read_page = counted
        container.runner.rebuild()
        assert dump(container) == incremental
        assert set(read) == {5}  # not the following batch size, 2
    finally:
        container.close()


def test_a_rebuild_writes_sqlite_views_without_syncing_then_as_before(
    sqlite_settings: Settings,
) -> None:
    container = bootstrap(sqlite_settings)
    levels: list[tuple[int, int]] = []
    store = container.work_life
    apply = store.apply

    def level() -> tuple[int, int]:
        with store.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
            c.execute("PRAGMA synchronous")
            synchronous = c.fetchone()[0]
            c.execute("PRAGMA cache_size")
            return synchronous, c.fetchone()[0]

    def observed(ops: Any, tracking: Any, *, after: int) -> None:
        levels.append(level())
        apply(ops, tracking, after=after)

    try:
        populate(container.keel)
        store.apply = observed  # type: ignore[method-assign]
        container.runner.rebuild()
        # SQLite's numbers: synchronous OFF = 0, NORMAL = 1; a negative cache size is KiB.
        assert set(levels) == {(0, -32 * 1024)}
        assert level() == (1, -2000)
        container.runner.catch_up()
    finally:
        container.close()


def test_a_view_hands_each_event_type_to_its_handler_or_to_none(container: Container) -> None:
    work_life, team_directory = (
        next(v for v in container.runner.views if v.name == name)
        for name in ("work_life", "team_directory")
    )
    assert work_life.handler(Goal.TargetChanged) is None
    assert not work_life.wants(Goal.TargetChanged)
    assert team_directory.handler(DepartureReason) is None  # any type it ignores
    opened = Journal.JournalOpened
    bound = work_life.handler(opened)
    assert bound is not None
    assert work_life.wants(opened)
    assert work_life.handler(opened) is bound  # looked up once
    event = Journal.open(
        member_id=UUID(int=1), team_id=UUID(int=2), actor="x", occurred_on=date(2025, 1, 1)
    ).collect_events()[0]
    assert bound(event, 7) == work_life.projection.fold(event, 7)


def test_a_runner_decodes_only_the_events_its_views_fold(container: Container) -> None:
    populate(container.keel)
    work_life = next(v for v in container.runner.views if v.name == "work_life")
    decoded: list[str] = []

    class Counting(FastMapper):
        def to_domain_event(self, stored_event: StoredEvent | Logged) -> DomainEventProtocol[UUID]:
            decoded.append(stored_event.topic)
            return super().to_domain_event(stored_event)

    runner = Runner(container.keel, [work_life], mapper=Counting(container.keel.mapper.transcoder))
    runner.rebuild()

    log = container.keel.recorder.select_notifications(start=1, limit=1000)
    assert any(n.topic.startswith("domain.goal:") for n in log)
    assert decoded == [n.topic for n in log if not n.topic.startswith("domain.goal:")]
    assert runner.positions() == {"work_life": container.runner.head()}
