"""Group commit on each real backend: commands that arrive together share one
transaction, each answer carries its own event's position, a failing or conflicting
command fails alone, and nothing is answered before it is saved."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from domain.errors import Conflict
from domain.journal import CheckIn, Entry, Journal
from services.bootstrap import Container, bootstrap
from services.errors import VersionMismatch
from services.group_commit import GroupCommit
from services.keel import Keel, Recorded

DAY = date.today() - timedelta(days=20)
JOINED = DAY - timedelta(days=30)


def team_of(keel: Keel, members: int) -> tuple[UUID, list[UUID]]:
    team = keel.form_team(name="Ops", manager="Maya", actor="maya", occurred_on=JOINED).id
    ids = [
        keel.add_member(team, name=f"P{i}", role="dev", actor="maya", occurred_on=JOINED).id
        for i in range(members)
    ]
    return team, ids


def check_in(
    keel: Keel, team: UUID, member: UUID, day: date
) -> Callable[[], tuple[Recorded, Entry]]:
    return lambda: keel.check_in(team, member, CheckIn(day, 3, wins=["w"]), actor=str(member))


class Gate:
    """A first command that holds the writer until the test opens the gate, so that
    the commands submitted meanwhile queue up and form one batch."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()

    def command(self) -> None:
        self.entered.set()
        assert self.opened.wait(10)


class Outcomes:
    """Collects what `settle` reports, from the writer thread."""

    def __init__(self, count: int) -> None:
        self.results: dict[int, tuple[Any, BaseException | None]] = {}
        self.done = threading.Semaphore(0)
        self.count = count

    def settle(self, index: int) -> Callable[[Any, BaseException | None], None]:
        def settle(result: Any, error: BaseException | None) -> None:
            self.results[index] = (result, error)
            self.done.release()

        return settle

    def wait(self) -> list[tuple[Any, BaseException | None]]:
        for _ in range(self.count):
            assert self.done.acquire(timeout=10)
        return [self.results[i] for i in range(self.count)]


def run_gated(writer: GroupCommit, commands: list[Callable[[], Any]]) -> list[Any]:
    """Submit `commands` while the writer is held, so they are run as one batch."""
    gate = Gate()
    held = Outcomes(1)
    writer.submit(gate.command, held.settle(0))
    assert gate.entered.wait(10)
    outcomes = Outcomes(len(commands))
    for i, command in enumerate(commands):
        writer.submit(command, outcomes.settle(i))
    gate.opened.set()
    held.wait()
    return outcomes.wait()


def test_commands_that_arrive_together_share_one_transaction(container: Container) -> None:
    keel = container.keel
    team, members = team_of(keel, 4)
    head = keel.head()
    heard: list[int] = []
    keel.on_recorded.append(heard.append)

    outcomes = run_gated(keel.writer, [check_in(keel, team, m, DAY) for m in members])

    assert [error for _, error in outcomes] == [None] * 4
    # The gate's batch saved nothing; the four check-ins were one batch.
    assert (keel.writer.batches, keel.writer.commands) == (1, 4)
    recorded = [result[0] for result, _ in outcomes]
    assert [r.position for r in recorded] == [head + 1, head + 2, head + 3, head + 4]
    notifications = keel.recorder.select_notifications(start=head + 1, limit=10)
    assert [(n.id, n.originator_id) for n in notifications] == [
        (r.position, Journal.id_for(m)) for r, m in zip(recorded, members, strict=True)
    ]
    assert [(r.id, r.version) for r in recorded] == [(Journal.id_for(m), 2) for m in members]
    assert heard == [head + 4]  # listeners (the runner's nudge) hear of the batch once


def test_execute_runs_commands_in_the_calling_thread_in_as_few_batches_as_they_allow(
    container: Container,
) -> None:
    keel = container.keel
    team, (ana, bo, cy) = team_of(keel, 3)
    days = [DAY, DAY + timedelta(days=1)]
    commands = [check_in(keel, team, m, d) for d in days for m in (ana, bo, cy)]
    outcomes = Outcomes(len(commands))

    keel.writer.execute([(c, outcomes.settle(i)) for i, c in enumerate(commands)])

    assert [error for _, error in outcomes.wait()] == [None] * 6
    # Each member's second day waited for the batch that saved their first.
    assert (keel.writer.batches, keel.writer.commands) == (2, 6)
    assert [sorted(keel.journal(m).entries) for m in (ana, bo, cy)] == [days] * 3
    assert keel.writer._thread is None  # the writer's own thread never started


def test_a_second_command_on_the_same_aggregate_sees_the_first(container: Container) -> None:
    keel = container.keel
    team, (ana,) = team_of(keel, 1)
    days = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]

    outcomes = run_gated(keel.writer, [check_in(keel, team, ana, d) for d in days])

    assert [error for _, error in outcomes] == [None] * 3
    versions = [result[0].version for result, _ in outcomes]
    assert versions == [2, 3, 4]
    # Each waited for the batch that saved the one before it.
    assert (keel.writer.batches, keel.writer.commands) == (3, 3)
    assert sorted(keel.journal(ana).entries) == days


def test_a_failing_command_fails_alone(container: Container) -> None:
    keel = container.keel
    team, (ana, bo) = team_of(keel, 2)
    keel.check_in(team, bo, CheckIn(DAY, 4), actor=str(bo))

    outcomes = run_gated(
        keel.writer,
        [check_in(keel, team, ana, DAY), check_in(keel, team, bo, DAY)],
    )

    (recorded, _), error = outcomes[0]
    assert error is None
    assert isinstance(outcomes[1][1], Conflict)  # bo already checked in that day
    assert keel.head() == recorded.position
    assert DAY in keel.journal(ana).entries


def test_a_lost_race_with_another_writer_fails_only_the_loser(container: Container) -> None:
    """Another process saves a check-in for ana while the batch is being decided: the
    batch's transaction is refused, then each command runs alone. Ana's runs again on
    the newer journal and succeeds; bo's is saved too."""
    keel = container.keel
    team, (ana, bo) = team_of(keel, 2)
    elsewhere = bootstrap(container.settings)
    try:
        elsewhere.keel.journal(ana)
        raced = threading.Event()

        def ana_checks_in() -> Any:
            result = keel.check_in(team, ana, CheckIn(DAY, 3), actor=str(ana))
            if not raced.is_set():
                raced.set()
                other_day = CheckIn(DAY + timedelta(days=1), 5)
                elsewhere.keel.check_in(team, ana, other_day, actor=str(ana))
            return result

        outcomes = run_gated(keel.writer, [ana_checks_in, check_in(keel, team, bo, DAY)])
    finally:
        elsewhere.close()

    assert [error for _, error in outcomes] == [None, None]
    (ana_recorded, _), _ = outcomes[0]
    assert ana_recorded.version == 3  # after the other process's check-in (version 2)
    assert sorted(keel.journal(ana).entries) == [DAY, DAY + timedelta(days=1)]
    assert DAY in keel.journal(bo).entries
    assert keel.writer.batches == 0  # the refused batch is not counted


def test_a_stale_if_match_is_still_refused(container: Container) -> None:
    keel = container.keel
    team, _ = team_of(keel, 1)

    def stale() -> Recorded:
        return keel.set_min_group(
            team, min_group=4, actor="maya", occurred_on=DAY, expected_version=1
        )

    outcomes = run_gated(keel.writer, [stale])
    assert isinstance(outcomes[0][1], VersionMismatch)


def test_a_failed_save_fails_every_command_of_the_batch(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    keel = container.keel
    team, (ana, bo) = team_of(keel, 2)
    head = keel.head()

    def broken(*_: Any, **__: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(keel.events, "put", broken)
    outcomes = run_gated(keel.writer, [check_in(keel, team, m, DAY) for m in (ana, bo)])
    monkeypatch.undo()

    assert [type(error) for _, error in outcomes] == [OSError, OSError]
    assert keel.head() == head
    # Nothing half-done stays cached: both check in again.
    again = run_gated(keel.writer, [check_in(keel, team, m, DAY) for m in (ana, bo)])
    assert [error for _, error in again] == [None, None]


def test_the_async_front_answers_after_the_commit(container: Container) -> None:
    keel = container.keel
    team, members = team_of(keel, 5)

    async def all_at_once() -> list[tuple[Recorded, Entry]]:
        return await asyncio.gather(
            *(keel.writer.run(check_in(keel, team, m, DAY)) for m in members)
        )

    results = asyncio.run(all_at_once())
    positions = [recorded.position for recorded, _ in results]
    for recorded, _ in results:
        # Already in the log, in another connection's view of it, when it is answered.
        stored = keel.recorder.select_notifications(start=recorded.position, limit=1)
        assert stored[0].originator_id == recorded.id
    assert len(set(positions)) == 5
    assert keel.writer.commands == 5


def test_the_async_front_raises_what_the_command_raised(container: Container) -> None:
    keel = container.keel
    team, (ana,) = team_of(keel, 1)
    keel.check_in(team, ana, CheckIn(DAY, 4), actor=str(ana))
    with pytest.raises(Conflict):
        asyncio.run(keel.writer.run(check_in(keel, team, ana, DAY)))


def test_close_finishes_what_was_submitted_then_refuses(container: Container) -> None:
    keel = container.keel
    team, members = team_of(keel, 3)
    outcomes = Outcomes(3)
    for i, member in enumerate(members):
        keel.writer.submit(check_in(keel, team, member, DAY), outcomes.settle(i))
    keel.writer.close()
    assert [error for _, error in outcomes.wait()] == [None] * 3
    with pytest.raises(RuntimeError):
        keel.writer.submit(lambda: None, lambda *_: None)


def test_integrity_error_is_what_a_refused_save_raises(container: Container) -> None:
    """The retry above relies on eventsourcing refusing a stale save with
    IntegrityError, on both backends."""
    keel = container.keel
    team, (ana,) = team_of(keel, 1)
    stale = keel.journal(ana)
    keel.check_in(team, ana, CheckIn(DAY, 3), actor=str(ana))
    stale.check_in(CheckIn(DAY + timedelta(days=1), 3), actor=str(ana))
    with pytest.raises(IntegrityError):
        keel.save(stale)


def test_what_another_process_saved_is_seen_by_the_next_batch(container: Container) -> None:
    """The writer takes aggregates it knows to be current from its cache; another
    process's save makes its copy stale, and the next batch loads it afresh."""
    keel = container.keel
    team, (ana,) = team_of(keel, 1)
    assert run_gated(keel.writer, [check_in(keel, team, ana, DAY)])[0][1] is None
    elsewhere = bootstrap(container.settings)
    try:
        cy = elsewhere.keel.add_member(
            team, name="Cy", role="dev", actor="maya", occurred_on=JOINED
        ).id
        elsewhere.keel.check_in(team, ana, CheckIn(DAY + timedelta(days=1), 2), actor="x")
    finally:
        elsewhere.close()

    later = DAY + timedelta(days=2)
    outcomes = run_gated(
        keel.writer, [check_in(keel, team, cy, DAY), check_in(keel, team, ana, later)]
    )

    assert [error for _, error in outcomes] == [None, None]
    assert outcomes[1][0][0].version == 4  # after the other process's check-in
    assert keel.writer.batches == 2  # no batch was refused: nothing stale was used


def test_a_batch_does_not_read_back_what_the_writer_saved_itself(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    keel = container.keel
    team, (ana, bo) = team_of(keel, 2)
    assert run_gated(keel.writer, [check_in(keel, team, ana, DAY)])[0][1] is None
    read: list[int] = []
    select = keel.recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        page = select(*args, **kwargs)
        read.extend(n.id for n in page)
        return page

    monkeypatch.setattr(keel.recorder, "select_notifications", counted)
    outcomes = run_gated(keel.writer, [check_in(keel, team, bo, DAY)])

    assert outcomes[0][1] is None
    assert read == []  # the first batch's check-in was not read again


def test_a_batch_that_cannot_read_the_store_fails_its_callers_and_the_writer_goes_on(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    keel = container.keel
    team, (ana,) = team_of(keel, 1)
    real = keel.recorder.select_notifications
    broken = iter([True])

    def unreadable(*args: Any, **kwargs: Any) -> Any:
        if next(broken, False):
            raise OSError("disk I/O error")
        return real(*args, **kwargs)

    monkeypatch.setattr(keel.recorder, "select_notifications", unreadable)
    keel.writer.close()  # a writer of its own, which reads the store at its first batch
    keel.writer = GroupCommit(keel)
    for expected in (OSError, type(None)):
        outcome = Outcomes(1)
        keel.writer.submit(check_in(keel, team, ana, DAY), outcome.settle(0))
        assert isinstance(outcome.wait()[0][1], expected)
