"""A small, fast HTTP/1.1 load client: raw asyncio protocols over keep-alive connections.

Why not httpx: a client that spends more per request than the server squeezes every
server-to-server ratio towards 1 and hides the server's own cost. Here a request is a
prebuilt bytes object and a response is parsed just far enough to read its status and
find its end (Content-Length), so the client costs a small fraction of either server.

Each connection keeps exactly one request in flight (closed loop), so concurrency is
the number of connections.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

# Builds the next request for one connection: the whole HTTP/1.1 message as bytes.
RequestFactory = Callable[[], bytes]

_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"


def post_json(host: str, port: int, path: str, body: bytes, actor: str = "bench") -> bytes:
    """A keep-alive JSON POST, byte for byte the same shape for every server we load."""
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"X-Keel-Actor: {actor}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


@dataclass
class LoadResult:
    requests: int = 0  # responses with the expected status
    errors: int = 0  # any other status, or a connection that broke
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # the first few unexpected responses

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


class _Connection(asyncio.Protocol):
    """One keep-alive connection that sends its next request as soon as a response ends."""

    def __init__(
        self,
        next_request: RequestFactory,
        expect: int,
        deadline: float,
        result: LoadResult,
        done: asyncio.Future[None],
    ) -> None:
        self.next_request = next_request
        self.expect = expect
        self.deadline = deadline
        self.result = result
        self.done = done
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.next_request())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(_HEADER_END)
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            at = head.find(_CONTENT_LENGTH)
            if at < 0:
                # Both servers answer with Content-Length; anything else is a fault here.
                self._fail("response without Content-Length: " + head[:200].decode("latin-1"))
                return
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + len(_CONTENT_LENGTH) : stop if stop > 0 else len(head)])
            total = end + len(_HEADER_END) + length
            if len(self.buffer) < total:
                return
            status = int(head[9:12])
            body = bytes(self.buffer[end + len(_HEADER_END) : total])
            del self.buffer[:total]
            self._record(status, body)
            if self.done.done():
                return
            if time.perf_counter() >= self.deadline:
                self._finish()
                return
            assert self.transport is not None
            self.transport.write(self.next_request())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.result.errors += 1
            self.result.samples.append(f"connection lost: {exc!r}")
            self.done.set_result(None)

    def _record(self, status: int, body: bytes) -> None:
        self.result.statuses[status] += 1
        if status == self.expect:
            self.result.requests += 1
            return
        self.result.errors += 1
        if len(self.result.samples) < 5:
            self.result.samples.append(f"{status}: {body[:300].decode('utf-8', 'replace')}")

    def _fail(self, why: str) -> None:
        self.result.errors += 1
        self.result.samples.append(why)
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()


async def _load(
    host: str, port: int, factories: Sequence[RequestFactory], seconds: float, expect: int
) -> LoadResult:
    loop = asyncio.get_running_loop()
    result = LoadResult()
    started = time.perf_counter()
    deadline = started + seconds
    dones: list[asyncio.Future[None]] = []
    for factory in factories:
        done: asyncio.Future[None] = loop.create_future()
        dones.append(done)
        protocol = partial(_Connection, factory, expect, deadline, result, done)
        await loop.create_connection(protocol, host, port)
    await asyncio.gather(*dones)
    # Responses that were in flight at the deadline count, and so does the time they took.
    result.seconds = time.perf_counter() - started
    return result


def run_load(
    host: str, port: int, factories: Sequence[RequestFactory], seconds: float, expect: int
) -> LoadResult:
    """Drive one connection per factory for `seconds`; count responses by status."""
    return asyncio.run(_load(host, port, factories, seconds, expect))
