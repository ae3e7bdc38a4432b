"""The writer process: `keel serve`'s busiest commands, sent to a real child process
over a socket pair, committed there, and answered or refused as in the server's own
process; a child that dies is replaced, and one whose server is gone stops."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from domain.errors import Conflict, InvalidCommand
from domain.journal import CheckIn, Entry, Journal
from services import writer_process
from services.bootstrap import Container
from services.errors import NotFound, VersionMismatch, ViewNotCaughtUp
from services.keel import Recorded
from services.settings import Settings
from services.writer_process import (
    NUDGE_EVERY,
    WriterProcess,
    WriterUnavailable,
    _answer,
    _framed,
    _unframed,
)
from tests.conftest import process_running

T = TypeVar("T")
DAY = date.today() - timedelta(days=10)
JOINED = DAY - timedelta(days=30)


def team_with(container: Container, members: int) -> tuple[UUID, list[UUID]]:
    keel = container.keel
    team = keel.form_team(name="Ops", manager="Maya", actor="maya", occurred_on=JOINED).id
    ids = [
        keel.add_member(team, name=f"P{i}", role=None, actor="maya", occurred_on=JOINED).id
        for i in range(members)
    ]
    return team, ids


def with_writer(
    settings: Settings, heard: list[int], test: Callable[[WriterProcess], Awaitable[T]]
) -> T:
    """Run `test` on an event loop, against a started writer process, always stopped."""

    async def run() -> T:
        writer = WriterProcess(settings, [heard.append])
        await writer.start()
        try:
            return await asyncio.wait_for(test(writer), 30)  # never hang the suite
        finally:
            await writer.stop()

    return asyncio.run(run())


def report(day: date = DAY) -> CheckIn:
    return CheckIn(day, 4, progress=["shipped"], wins=["a win"])


def test_frames_survive_being_cut_anywhere() -> None:
    messages = [(1, "check_in", (uuid4(), report()), {"actor": "ana"}), (2, None, None, 7)]
    stream = b"".join(_framed(m) for m in messages)
    for cut in range(len(stream) + 1):
        buffer = bytearray(stream[:cut])
        got = _unframed(buffer)
        buffer += stream[cut:]
        got += _unframed(buffer)
        assert got == messages
        assert buffer == b""


@pytest.mark.parametrize(
    "refusal",
    [
        InvalidCommand("mood", "must be from 1 to 5"),
        Conflict("already checked in"),
        NotFound("member", uuid4()),
        VersionMismatch(3, 5),
        VersionMismatch(3, None),
    ],
)
def test_refusals_cross_the_process_boundary_whole(refusal: Exception) -> None:
    again = pickle.loads(pickle.dumps(refusal))
    assert type(again) is type(refusal)
    assert (str(again), vars(again)) == (str(refusal), vars(refusal))


def test_commands_are_committed_in_the_child_and_answered(
    settings: Settings, container: Container
) -> None:
    team, members = team_with(container, 3)
    head = container.keel.head()
    heard: list[int] = []

    async def test(writer: WriterProcess) -> list[tuple[Recorded, Entry]]:
        assert writer.pid is not None
        assert writer.pid != os.getpid()
        answers: list[tuple[Recorded, Entry]] = await asyncio.gather(
            *(writer.run("check_in", team, m, report(), actor=str(m)) for m in members)
        )
        await asyncio.sleep(NUDGE_EVERY * 2)  # the followers hear of the last one too
        return answers

    answers = with_writer(settings, heard, test)

    recorded = [r for r, _ in answers]
    assert sorted(r.position for r in recorded) == [head + 1, head + 2, head + 3]
    assert [r.id for r in recorded] == [Journal.id_for(m) for m in members]
    assert [(e.day, e.mood, e.progress) for _, e in answers] == [(DAY, 4, ["shipped"])] * 3
    # The server nudges its followers with the newest position it heard of.
    assert heard
    assert heard[-1] == head + 3
    journal = container.keel.journal(members[0])
    assert journal.entries[DAY].wins == answers[0][1].wins


def test_a_refusal_in_the_child_is_raised_in_the_server(
    settings: Settings, container: Container
) -> None:
    team, (ana,) = team_with(container, 1)
    _, (stranger,) = team_with(container, 1)

    async def test(writer: WriterProcess) -> list[BaseException]:
        await writer.run("check_in", team, ana, report(), actor="ana")
        outcomes = await asyncio.gather(
            writer.run("check_in", team, ana, report(), actor="ana"),
            writer.run("check_in", team, stranger, report(), actor="x"),
            writer.run("define_success", uuid4(), text="t", actor="x", occurred_on=DAY),
            return_exceptions=True,
        )
        assert all(isinstance(o, BaseException) for o in outcomes)
        return [o for o in outcomes if isinstance(o, BaseException)]

    twice, stranger_error, unknown = with_writer(settings, [], test)

    assert isinstance(twice, Conflict)
    assert isinstance(stranger_error, InvalidCommand)
    assert stranger_error.field == "member_id"
    assert isinstance(unknown, NotFound)
    assert unknown.kind == "member"


def test_only_the_listed_commands_are_sent(sqlite_settings: Settings) -> None:
    async def test(writer: WriterProcess) -> None:
        with pytest.raises(ValueError, match="set_min_group"):
            await writer.run("set_min_group", uuid4(), min_group=3, actor="x", occurred_on=DAY)

    with_writer(sqlite_settings, [], test)


def test_a_dead_child_fails_its_commands_and_is_replaced(
    settings: Settings, container: Container
) -> None:
    team, (ana,) = team_with(container, 1)

    async def test(writer: WriterProcess) -> tuple[int, int | None, int]:
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while "exited" not in (writer.down or "") and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # its socket closes as it dies; then it is reaped
        assert "exited with -9" in (writer.down or "")
        with pytest.raises(WriterUnavailable):
            await writer.run("check_in", team, ana, report(), actor="ana")
        deadline = time.monotonic() + 10
        while writer.down is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert writer.down is None, "no new child within 10 s"
        recorded, _ = await writer.run("check_in", team, ana, report(), actor="ana")
        return first, writer.pid, recorded.version

    first, second, version = with_writer(settings, [], test)

    assert second is not None
    assert second != first
    assert version == 2  # the journal's first check-in: the refused one saved nothing
    assert not process_running(first)


def test_the_child_stops_with_its_server(sqlite_settings: Settings) -> None:
    async def test(writer: WriterProcess) -> int:
        assert writer.pid is not None
        return writer.pid

    pid = with_writer(sqlite_settings, [], test)  # stop() closes the socket, then waits

    assert not process_running(pid)


def test_a_command_in_flight_when_the_child_dies_fails(
    settings: Settings, container: Container
) -> None:
    team, (ana,) = team_with(container, 1)

    async def test(writer: WriterProcess) -> BaseException | Any:
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGSTOP)  # it takes the command, never answers
        pending = asyncio.ensure_future(writer.run("check_in", team, ana, report(), actor="a"))
        await asyncio.sleep(0.2)
        assert not pending.done()
        os.kill(writer.pid, signal.SIGKILL)
        return (await asyncio.gather(pending, return_exceptions=True))[0]

    outcome = with_writer(settings, [], test)

    assert isinstance(outcome, WriterUnavailable)


def test_stopped_while_it_waits_to_start_another_child_it_starts_none(
    sqlite_settings: Settings,
) -> None:
    async def test(writer: WriterProcess) -> int:
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        while writer.down is None:
            await asyncio.sleep(0.01)
        await writer.stop()  # during the second before the next start
        await asyncio.sleep(1.5)
        assert writer.pid == first, "a child was started after stop()"
        assert writer.down == "stopped"
        return first

    first = with_writer(sqlite_settings, [], test)

    assert not process_running(first)


def test_a_child_that_cannot_open_the_store_leaves_the_writer_down(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    nowhere = Settings(store="sqlite", data_dir=tmp_path / "a-file" / "var")

    async def test(writer: WriterProcess) -> str | None:
        # start() returned: the child died opening the store, and says so.
        with pytest.raises(WriterUnavailable):
            await writer.run("check_in", uuid4(), uuid4(), report(), actor="a")
        deadline = time.monotonic() + 5
        while "exited" not in (writer.down or "") and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # until the dead child is reaped
        return writer.down

    down = with_writer(nowhere, [], test)

    assert down is not None
    assert "exited with 1" in down


def test_an_answer_that_would_not_unpickle_is_sent_as_its_text() -> None:
    refusal = ViewNotCaughtUp(9, 3)  # pickles, but cannot be made again from its args
    with pytest.raises(TypeError):
        pickle.loads(pickle.dumps(refusal))

    (number, result, error, position), *_ = _unframed(bytearray(_answer(4, None, refusal, 12)))

    assert (number, result, position) == (4, None, 12)
    assert isinstance(error, RuntimeError)
    assert str(error) == f"ViewNotCaughtUp: {refusal}"


def test_a_child_that_does_not_open_the_store_in_time_is_replaced(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_process, "READY_TIMEOUT", 0.001)

    async def test(writer: WriterProcess) -> int | None:
        # start() gave up on the child before it said it was ready, and ended it.
        assert writer.down is not None
        return writer.pid

    first = with_writer(sqlite_settings, [], test)

    assert first is not None
    assert not process_running(first)
