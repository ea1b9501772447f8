"""HTTP load in pure Python (asyncio streams): closed loop for capacity, open loop for
latency.

A closed loop (N connections, each sending its next request when the previous one
answered) finds the throughput ceiling but hides queueing: a slow server slows the
senders down (coordinated omission). The open loop sends at a constant arrival rate
whatever the server does, and measures each latency from the moment the request was
due to be sent, so queueing shows up in the tail.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

BodyFactory = Callable[[int], dict[str, Any]]
# Idle keep-alive connections older than this are not reused: uvicorn closes them after
# 5 s, and a request sent on a connection the server is closing fails.
IDLE_LIMIT = 2.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    """Latencies in seconds of the requests that completed inside the window."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    offered_rate: float | None = None
    first_error: str | None = None
    # Every 2xx answer, warm-up and stragglers included (what CPU time is divided by).
    answered: int = 0

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def p(self, fraction: float) -> float:
        return percentile(self.latencies, fraction)

    def note_error(self, detail: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = detail[:300]


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for a JSON
    POST. A general client (httpx) costs about 2.5 ms of CPU per request here, which on
    two shared cores would throttle the server under test; this costs a tenth of that."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = time.perf_counter()

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_and_headers = await self.reader.readuntil(b"\r\n\r\n")
        lines = status_and_headers.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value.strip())
            elif lowered == b"transfer-encoding":
                raise ValueError("chunked responses are not supported by the load generator")
        content = await self.reader.readexactly(length)
        self.last_used = time.perf_counter()
        return status, content

    def close(self) -> None:
        self.writer.close()


class Target:
    """Where the load goes: a URL and the headers every request carries."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"a host and a port are needed: {url}")
        self.host = parts.hostname
        self.port = parts.port
        lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += ["Content-Type: application/json", "Connection: keep-alive"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode()

    async def connect(self) -> Connection:
        return await Connection.open(self.host, self.port)


async def _send(
    target: Target, connection: Connection, body: dict[str, Any]
) -> tuple[str | None, Connection | None]:
    """(None on a 2xx answer, else what went wrong; the connection if still usable)."""
    try:
        status, content = await connection.post(target.head, json.dumps(body).encode())
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        connection.close()
        return f"{type(exc).__name__}: {exc}", None
    if status >= 300:
        return f"HTTP {status}: {content.decode(errors='replace')}", connection
    return None, connection


async def closed_loop(
    url: str,
    headers: dict[str, str],
    body: BodyFactory,
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
) -> LoadResult:
    """`concurrency` senders back to back; only requests started after the warm-up and
    finished before the end count."""
    counter = itertools.count()
    target = Target(url, headers)
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    result = LoadResult(seconds=seconds)

    async def sender() -> None:
        connection: Connection | None = None
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                if connection is None:
                    connection = await target.connect()
                error, connection = await _send(target, connection, body(next(counter)))
                done = time.perf_counter()
                result.answered += error is None
                if sent < measure_from or done > stop_at:
                    continue
                if error is None:
                    result.latencies.append(done - sent)
                else:
                    result.note_error(error)
        finally:
            if connection is not None:
                connection.close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return result


async def open_loop(
    url: str,
    headers: dict[str, str],
    body: BodyFactory,
    *,
    rate: float,
    seconds: float,
    warmup: float,
    max_in_flight: int = 512,
) -> LoadResult:
    """Requests due every 1/rate s; latency counts from the due time (so a sender that
    falls behind is charged to the server), and waiting for a free connection counts too.
    """
    interval = 1.0 / rate
    total = math.floor((warmup + seconds) * rate)
    warmup_count = math.floor(warmup * rate)
    result = LoadResult(seconds=seconds, offered_rate=rate)
    target = Target(url, headers)
    slots = asyncio.Semaphore(max_in_flight)
    idle: list[Connection] = []
    start = time.perf_counter()

    async def one(index: int, due: float) -> None:
        async with slots:
            connection = idle.pop() if idle else None
            if connection is not None and time.perf_counter() - connection.last_used > IDLE_LIMIT:
                connection.close()  # the server may already have closed it
                connection = None
            try:
                connection = connection or await target.connect()
            except OSError as exc:
                error: str | None = f"{type(exc).__name__}: {exc}"
            else:
                error, connection = await _send(target, connection, body(index))
                if connection is not None:
                    idle.append(connection)
        result.answered += error is None
        if index < warmup_count:
            return
        if error is None:
            result.latencies.append(time.perf_counter() - due)
        else:
            result.note_error(error)

    tasks: list[asyncio.Task[None]] = []
    try:
        for index in range(total):
            due = start + index * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, due)))
        await asyncio.gather(*tasks)
    finally:
        for connection in idle:
            connection.close()
    return result
