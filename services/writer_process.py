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

from services.follower_process import HEALTHY_SECONDS, restart_delay
from services.gc_tuning import tune_for_service
from services.group_commit import tell
from services.keel import Keel
from services.settings import Settings

log = logging.getLogger(__name__)

# The Keel methods the HTTP routes send to the writer.
COMMANDS = frozenset(
    {
        "check_in",
        "correct_check_in",
        "define_success",
        "recognise",
        "change_target",
        # Here too, so that the process that seals new texts with a person's key is the
        # one that deletes it (see services/personal_data.py).
        "erase_member",
    }
)
_LENGTH = struct.Struct("!I")
_READ = 1 << 20
STOP_TIMEOUT = 10.0
READY_TIMEOUT = 30.0
# The followers hear of new saves at most this often (and always of the last one): they
# read at most every PAUSE (services/following.py) anyway, and a nudge per batch was
# about 5% of the event loop's time under the check-in benchmark's load (py-spy).
NUDGE_EVERY = 0.01


class Commands(Protocol):
    """Where the HTTP routes send Keel's busiest commands."""

    async def run(self, command: str, /, *args: Any, **kwargs: Any) -> Any:
        """Run Keel's method `command`; return (or raise) once it is committed."""
        ...

    @property
    def down(self) -> str | None:
        """Why commands cannot be run now, or None."""
        ...


class InProcess:
    """The writer as a thread of this process (KEEL_WRITER=thread, and the tests)."""

    def __init__(self, keel: Keel) -> None:
        self._keel = keel

    async def run(self, command: str, /, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._keel, command)
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
        self._ready: asyncio.Future[None] | None = None
        self._stopping = False
        self._down: str | None = "starting"
        self._outgoing: list[bytes] = []
        self._saved = 0  # the newest position the child said it saved
        self._nudged = 0  # the newest position the followers were told of
        self._nudged_at = 0.0
        self._nudge_due: asyncio.TimerHandle | None = None
        self._recovering: asyncio.Task[None] | None = None
        self._failures = 0  # children in a row that died soon after they started
        self._started_at = 0.0

    @property
    def down(self) -> str | None:
        return self._down

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the child, and wait until it says it has opened the store (it starts
        again on its own if it dies). On the server's event loop."""
        if self._stopping:
            raise RuntimeError("the writer process was stopped")
        await self._spawn()
        assert self._ready is not None
        assert self._process is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), READY_TIMEOUT)
        except TimeoutError:
            # Stuck opening the store (a lock, a database that does not answer): end
            # it, and `_lost` starts another.
            log.error("the writer process did not open the store in %s s", READY_TIMEOUT)
            self._process.kill()
        except WriterUnavailable:
            pass  # it died starting: `_lost` is starting another

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        loop = asyncio.get_running_loop()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "services.writer_process", "--fd", str(theirs.fileno())],
                env=self._settings.child_environment(),
                # A Ctrl-C in the terminal reaches the server, which stops the child.
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the child holds the only other end
        self._down, self._started_at = "starting", time.monotonic()
        self._ready = loop.create_future()
        self._transport, _ = await loop.create_unix_connection(lambda: _Answers(self), sock=ours)

    async def run(self, command: str, /, *args: Any, **kwargs: Any) -> Any:
        if command not in COMMANDS:
            raise ValueError(f"{command} is not a command the writer process runs")
        if self._transport is None or self._down is not None:
            raise WriterUnavailable(f"the writer process is not running ({self._down})")
        number = next(self._numbers)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[number] = future
        if not self._outgoing:
            # The commands of one turn of the event loop go out in one write.
            loop.call_soon(self._send)
        self._outgoing.append(_framed((number, command, args, kwargs)))
        try:
            return await future
        finally:
            self._pending.pop(number, None)

    def _send(self) -> None:
        frames, self._outgoing = self._outgoing, []
        if self._transport is not None:
            self._transport.write(b"".join(frames))
        # Otherwise the child is gone, and `_lost` has failed these commands.

    def _answered(self, answers: list[Any]) -> None:
        for number, result, error, position in answers:
            self._saved = max(self._saved, position)
            if number is None:  # the child has opened the store
                if not self._stopping:
                    self._down = None
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
                continue
            future = self._pending.pop(number, None)
            if future is None or future.done():  # its request was cancelled
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
        if self._saved > self._nudged and self._nudge_due is None:
            wait = self._nudged_at + NUDGE_EVERY - time.monotonic()
            if wait > 0:
                self._nudge_due = asyncio.get_running_loop().call_later(wait, self._nudge)
            else:
                self._nudge()

    def _nudge(self) -> None:
        """Tell the followers of the newest save (see NUDGE_EVERY)."""
        self._nudge_due = None
        self._nudged, self._nudged_at = self._saved, time.monotonic()
        tell(self._on_recorded, self._nudged)

    def _lost(self) -> None:
        """The child's end closed: it stopped, or died."""
        self._transport = None
        self._outgoing.clear()
        gone = WriterUnavailable("the writer process ended before answering")
        for future in [*self._pending.values(), self._ready]:
            if future is not None and not future.done():
                future.set_exception(gone)
                future.exception()  # retrieved: nobody may be waiting for `_ready`
        self._pending.clear()
        if self._stopping:
            return
        self._down = "its process ended; restarting"
        if time.monotonic() - self._started_at > HEALTHY_SECONDS:
            self._failures = 0
        if self._recovering is None or self._recovering.done():
            self._recovering = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        """Reap the child that ended, then start another, waiting longer while they
        keep dying soon after they start."""
        while not self._stopping:
            if self._process is not None:
                code = await asyncio.to_thread(_reaped, self._process)
                self._down = f"its process exited with {code}; restarting"
            self._failures += 1
            delay = restart_delay(self._failures)
            log.error("the writer process is down (%s); next start in %s s", self._down, delay)
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                await self.start()
            except Exception as error:  # say, out of file descriptors
                log.exception("the writer process could not start")
                self._down = f"its process could not start ({error}); retrying"
                self._process = None
                continue
            if self._transport is not None:
                return  # running, or still starting; if it dies, `_lost` calls this again

    async def stop(self) -> None:
        """Let the child finish the commands it has, then wait for it to exit."""
        self._stopping = True
        self._down = "stopped"
        if self._nudge_due is not None:
            self._nudge_due.cancel()
            self._nudge_due = None
        if self._recovering is not None and not self._recovering.done():
            self._recovering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovering
        if self._outgoing:
            self._send()
        if self._transport is not None:
            # The end of its socket is the child's signal to stop, once it has answered
            # what it read; its answers still arrive here until it closes its end.
            self._transport.write_eof()
        process = self._process
        if process is not None:
            await asyncio.to_thread(_reaped, process)
        if self._transport is not None:
            self._transport.close()


def _reaped(process: subprocess.Popen[bytes]) -> int:
    """The exit code of a child whose socket has closed: it is exiting, or is made to."""
    try:
        return process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.error("the writer process did not stop in %s s; killing it", STOP_TIMEOUT)
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
    connection.sendall(_framed((None, None, None, saved["position"])))  # ready
    while True:
        chunk = connection.recv(_READ)  # waits for the first command
        if not chunk:
            return  # the server is gone
        buffer += chunk
        with contextlib.suppress(BlockingIOError):  # and takes all that arrived meanwhile
            while chunk := connection.recv(_READ, socket.MSG_DONTWAIT):
                buffer += chunk
        answers = _run(keel, _unframed(buffer), saved)
        try:
            connection.sendall(answers)
        except OSError:
            return  # the server is gone


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
        framed = _framed((number, result, error, position))
        if error is not None:
            # An exception that pickles may still not unpickle (a custom __init__):
            # in the server that would end the connection, and every command in it.
            pickle.loads(framed[_LENGTH.size :])
        return framed
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
