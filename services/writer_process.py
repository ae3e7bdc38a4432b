"""`keel serve`'s busiest commands, committed in a process of their own.

Check-ins, corrections, recognitions, success definitions and goal targets go through
the group-commit writer (services/group_commit.py). In the API's process that writer is
a thread, and it shares the process's one GIL with the event loop: under the check-in
benchmark's load each check-in cost the writer about 210 us of CPU there, against
120 us for the same batches in a process of its own, and the event loop waited for it.
So by default (KEEL_WRITER=process) the server starts the writer as a child process,
and the event loop only sends commands and reads answers.

The two talk over a socket pair, in frames: a 4-byte length, then a pickle.
- The server sends (number, command, arguments, keywords), where the command is the
  name of a Keel method listed in `COMMANDS`.
- The child reads every frame that has arrived, runs them as one group commit in its
  one thread (`GroupCommit.execute`), and answers each with (number, result, error,
  position): the command's result or the exception it raised, and the newest position
  the child has saved, with which the server nudges its followers.
- The server reads the answers on its event loop (`_Answers`): no thread of its own.

The child is `python -m services.writer_process`, with exactly the server's settings
in its environment. It stops when its socket ends, so it never outlives the server,
even one killed outright. If it dies, the commands in flight fail with 503 (whether
each was saved is unknown, as after any crash: a retried check-in that was saved is
refused with 409), and the server starts a new child after a delay. KEEL_WRITER=thread
keeps the writer in the API's process, as on a one-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from eventsourcing.persistence import PersistenceError

from services.follower_process import HEALTHY_SECONDS, RESTART_DELAYS
from services.gc_tuning import tune_for_service
from services.keel import Keel
from services.settings import Settings

log = logging.getLogger(__name__)

# The Keel methods the HTTP routes send to the writer.
COMMANDS = frozenset(
    {"check_in", "correct_check_in", "define_success", "recognise", "change_target"}
)
_LENGTH = struct.Struct("!I")
_READ = 1 << 20
STOP_TIMEOUT = 10.0


class Commands(Protocol):
    """Where the HTTP routes send Keel's busiest commands."""

    async def run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run Keel's method `name`; return (or raise) once it is committed."""
        ...

    @property
    def down(self) -> str | None:
        """Why commands cannot be run now, or None."""
        ...


class InProcess:
    """The writer as a thread of this process (KEEL_WRITER=thread, and the tests)."""

    def __init__(self, keel: Keel) -> None:
        self._keel = keel

    async def run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._keel, name)
        return await self._keel.writer.run(partial(method, *args, **kwargs))

    @property
    def down(self) -> str | None:
        return None


class WriterUnavailable(PersistenceError):
    """The writer process is not running: the API answers 503, retry."""


def _framed(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def _unframed(buffer: bytearray) -> list[Any]:
    """The whole frames at the start of `buffer`, taken out of it."""
    messages, start = [], 0
    while len(buffer) - start >= _LENGTH.size:
        (length,) = _LENGTH.unpack_from(buffer, start)
        end = start + _LENGTH.size + length
        if end > len(buffer):
            break
        messages.append(pickle.loads(buffer[start + _LENGTH.size : end]))
        start = end
    del buffer[:start]
    return messages


# --- the server's side ------------------------------------------------------------------


class WriterProcess:
    """The child process, seen from the server's event loop."""

    def __init__(self, settings: Settings, on_recorded: list[Callable[[int], None]]) -> None:
        self._settings = settings
        self._on_recorded = on_recorded
        self._numbers = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._transport: asyncio.Transport | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._failures = 0
        self._started_at = 0.0
        self._down: str | None = "starting"
        self._nudged = 0
        self._restarting: asyncio.Task[None] | None = None

    @property
    def down(self) -> str | None:
        return self._down

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the child and connect to it; on the server's event loop."""
        ours, theirs = socket.socketpair()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
        env.update(self._settings.environment())
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "services.writer_process", "--fd", str(theirs.fileno())],
                env=env,
                # A Ctrl-C in the terminal reaches the server, which stops the child.
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the child holds the only other end
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_unix_connection(lambda: _Answers(self), sock=ours)
        self._started_at = time.monotonic()
        self._down = None

    async def run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name not in COMMANDS:
            raise ValueError(f"{name} is not a command the writer process runs")
        if self._transport is None or self._down is not None:
            raise WriterUnavailable(f"the writer process is down ({self._down}); retry")
        number = next(self._numbers)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        self._transport.write(_framed((number, name, args, kwargs)))
        try:
            return await future
        finally:
            self._pending.pop(number, None)

    def _answered(self, answers: list[Any]) -> None:
        newest = self._nudged
        for number, result, error, position in answers:
            newest = max(newest, position)
            future = self._pending.pop(number, None)
            if future is None or future.done():  # its request was cancelled
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
        if newest > self._nudged:
            self._nudged = newest
            for listener in self._on_recorded:
                try:
                    listener(newest)
                except Exception:  # the commands are committed: their callers must hear
                    log.exception("a listener failed at position %d", newest)

    def _lost(self) -> None:
        """The child's end closed: it stopped, or died."""
        self._transport = None
        gone = WriterUnavailable("the writer process ended before answering; retry")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(gone)
        self._pending.clear()
        if self._stopping:
            return
        code = _reaped(self._process) if self._process is not None else None
        healthy = time.monotonic() - self._started_at > HEALTHY_SECONDS
        self._failures = 1 if healthy else self._failures + 1
        delay = RESTART_DELAYS[min(self._failures, len(RESTART_DELAYS)) - 1]
        self._down = f"its process exited with {code}; restarting"
        log.error("the writer process is down (%s); next start in %s s", self._down, delay)
        asyncio.get_running_loop().call_later(delay, self._restart)

    def _restart(self) -> None:
        if self._stopping:
            return

        async def again() -> None:
            try:
                await self.start()
            except Exception as error:  # say, out of file descriptors
                log.exception("the writer process could not start")
                self._down = f"its process could not start ({error}); retrying"
                self._failures += 1
                delay = RESTART_DELAYS[min(self._failures, len(RESTART_DELAYS)) - 1]
                asyncio.get_running_loop().call_later(delay, self._restart)

        self._restarting = asyncio.get_running_loop().create_task(again())

    async def stop(self) -> None:
        """Let the child finish what it has, then wait for it to exit."""
        self._stopping = True
        self._down = "stopped"
        if self._transport is not None:
            self._transport.close()  # the end of its socket is the child's signal
        process = self._process
        if process is not None:
            try:
                await asyncio.to_thread(process.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.error("the writer process did not stop in %s s; killing it", STOP_TIMEOUT)
                process.kill()
                await asyncio.to_thread(process.wait)


def _reaped(process: subprocess.Popen[bytes]) -> int:
    """The exit code of a child whose socket has closed: it is exiting, or will be
    made to."""
    try:
        return process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


class _Answers(asyncio.Protocol):
    def __init__(self, writer: WriterProcess) -> None:
        self._writer = writer
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._writer._answered(_unframed(self._buffer))

    def connection_lost(self, exc: Exception | None) -> None:
        self._writer._lost()


# --- the child's side -------------------------------------------------------------------


def serve(connection: socket.socket, keel: Keel) -> None:
    """Answer the server's commands until it closes its end."""
    buffer = bytearray()
    saved = {"position": keel.head()}
    keel.on_recorded.append(lambda position: saved.update(position=position))
    while True:
        chunk = connection.recv(_READ)  # waits for the first command
        while chunk:
            buffer += chunk
            try:  # and takes every other one that has arrived meanwhile
                chunk = connection.recv(_READ, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
        else:
            return  # the server is gone
        connection.sendall(_run(keel, _unframed(buffer), saved))


def _run(keel: Keel, requests: list[Any], saved: dict[str, int]) -> bytes:
    """Run the commands that arrived together; return their answers, framed."""
    answers: list[bytes] = []

    def answer(number: int, result: Any, error: BaseException | None) -> None:
        answers.append(_answer(number, result, error, saved["position"]))

    commands = []
    for number, name, args, kwargs in requests:
        if name in COMMANDS:
            commands.append(
                (partial(getattr(keel, name), *args, **kwargs), partial(answer, number))
            )
        else:
            answer(number, None, ValueError(f"{name} is not a command the writer runs"))
    keel.writer.execute(commands)
    return b"".join(answers)


def _answer(number: int, result: Any, error: BaseException | None, position: int) -> bytes:
    try:
        return _framed((number, result, error, position))
    except Exception as failure:  # an outcome that does not pickle: say what it was
        log.exception("the outcome of command %d could not be sent", number)
        text = f"{type(error or failure).__name__}: {error or failure}"
        return _framed((number, None, RuntimeError(text), position))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Keel's writer, as `keel serve` starts it.")
    parser.add_argument("--fd", type=int, required=True, help="the socket to the server")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    tune_for_service()
    settings = Settings()
    connection = socket.socket(fileno=args.fd)
    keel = Keel(env=settings.eventsourcing_env(Keel.name))
    try:
        serve(connection, keel)
    finally:
        with contextlib.suppress(OSError):
            connection.close()
        keel.close()


if __name__ == "__main__":
    main()
