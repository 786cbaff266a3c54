"""An HTTP/1.1 load generator on raw asyncio protocols, independent of the service's own code path.

Three ways to drive a server:

- `sequential`: one keep-alive connection, one request at a time; latency from send to last byte.
- `open_loop`: requests are due at a constant rate whatever the server does. Latency runs from the
  time a request was *due*, not from when it could be sent, so a stalled server is charged for the
  requests that queued up behind it (coordinated omission avoided, as in wrk2).
- `closed_loop`: N connections, each sending its next request as soon as the last one returns; the
  achieved rate is the saturated throughput at that concurrency.

Only `Content-Length` responses are understood (what uvicorn sends for JSON); anything else is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np

T = TypeVar("T")
REQUEST_TIMEOUT_S = 5.0


class ProtocolError(Exception):
    pass


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None
        self._need = -1
        self._status = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionResetError("server closed the connection"))

    def send(self, raw: bytes) -> asyncio.Future[int]:
        assert self.transport is not None and self._waiter is None
        self._waiter = asyncio.get_running_loop().create_future()
        self._buffer.clear()
        self._need = -1
        self.transport.write(raw)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._need < 0:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).lower()
            self._status = int(head[9:12])
            start = head.find(b"content-length:")
            if start < 0:
                self._fail(ProtocolError("response without content-length"))
                return
            stop = head.find(b"\r\n", start)
            length = int(head[start + 15 : stop if stop > 0 else None])
            self._need = end + 4 + length
        if len(self._buffer) >= self._need:
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(self._status)

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def request_bytes(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: lensflow-bench\r\n\r\n".encode()


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    paths: Sequence[str]
    raw: list[bytes] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", [request_bytes(self.host, p) for p in self.paths])

    def request(self, i: int) -> bytes:
        return self.raw[i % len(self.raw)]

    async def connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(_Connection, self.host, self.port)
        return proto


async def _timed_request(conn: _Connection, raw: bytes) -> int:
    return await asyncio.wait_for(conn.send(raw), REQUEST_TIMEOUT_S)


@dataclass
class Run:
    """Raw outcome of one load run; `summary()` turns it into the reported figures."""

    mode: str
    latency_s: np.ndarray  # per completed-or-failed request
    ok: np.ndarray  # bool: 2xx answered in time
    due_s: np.ndarray  # when each request was due (open loop) or sent, relative to the run start
    wall_s: float
    client_cpu_s: float
    offered_rate: float | None = None
    concurrency: int | None = None
    # open loop: due time to the request's write (timer lateness plus waiting for a free connection)
    dispatch_delay_s: np.ndarray | None = None
    from_dispatch_s: np.ndarray | None = None  # open loop: latency from the dispatcher's wake-up
    statuses: dict[int, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = self.latency_s[self.ok] * 1e3
        out: dict[str, Any] = {
            "mode": self.mode,
            "requests": int(self.latency_s.size),
            "errors": int((~self.ok).sum()),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "wall_s": round(self.wall_s, 3),
            "achieved_rps": round(int(self.ok.sum()) / self.wall_s, 1) if self.wall_s else 0.0,
            "client_cpu_share": round(self.client_cpu_s / self.wall_s, 3) if self.wall_s else 0.0,
            "latency_ms": percentiles(lat),
        }
        if self.offered_rate is not None:
            out["offered_rps"] = self.offered_rate
        if self.concurrency is not None:
            out["concurrency"] = self.concurrency
        if self.dispatch_delay_s is not None and self.dispatch_delay_s.size:
            out["dispatch_delay_ms"] = percentiles(self.dispatch_delay_s * 1e3)
        if self.from_dispatch_s is not None and self.from_dispatch_s.size:
            out["latency_from_dispatch_ms"] = percentiles(self.from_dispatch_s[self.ok] * 1e3)
        return out

    def per_window(self, window_s: float) -> list[dict[str, Any]]:
        """Latency percentiles and errors per consecutive window of due times (drift over a soak)."""
        rows = []
        n_windows = int(self.due_s.max() // window_s) + 1 if self.due_s.size else 0
        for w in range(n_windows):
            sel = (self.due_s >= w * window_s) & (self.due_s < (w + 1) * window_s)
            lat = self.latency_s[sel & self.ok] * 1e3
            rows.append(
                {
                    "window": w,
                    "requests": int(sel.sum()),
                    "errors": int((sel & ~self.ok).sum()),
                    "latency_ms": percentiles(lat),
                }
            )
        return rows


def percentiles(values_ms: np.ndarray) -> dict[str, float]:
    if values_ms.size == 0:
        return {}
    p50, p95, p99, p999 = np.percentile(values_ms, [50, 95, 99, 99.9])
    return {
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "p99.9": round(float(p999), 3),
        "max": round(float(values_ms.max()), 3),
        "mean": round(float(values_ms.mean()), 3),
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def sequential(target: Target, *, requests: int, warmup: int = 200) -> Run:
    conn = await target.connect()
    try:
        for i in range(warmup):
            await _timed_request(conn, target.request(i))
        lat = np.empty(requests)
        ok = np.zeros(requests, dtype=bool)
        due = np.empty(requests)
        statuses: dict[int, int] = {}
        cpu0, t0 = _cpu(), time.perf_counter()
        for i in range(requests):
            start = time.perf_counter()
            try:
                status = await _timed_request(conn, target.request(i + warmup))
            except (TimeoutError, OSError, ProtocolError):
                status = 0
                conn.close()
                conn = await target.connect()
            end = time.perf_counter()
            lat[i], due[i], ok[i] = end - start, start - t0, 200 <= status < 300
            statuses[status] = statuses.get(status, 0) + 1
        wall = time.perf_counter() - t0
        return Run("sequential", lat, ok, due, wall, _cpu() - cpu0, statuses=statuses)
    finally:
        conn.close()


async def open_loop(
    target: Target, *, rate: float, duration_s: float, max_connections: int = 256, warm_connections: int = 8
) -> Run:
    """Requests due every 1/rate seconds; each latency counts from its due time.

    Callback-driven (no task per request) so the client stays cheap next to the server it measures.
    """
    n = int(rate * duration_s)
    due = np.arange(n) / rate
    lat = np.full(n, np.nan)
    lag = np.full(n, np.nan)
    picked = np.full(n, np.nan)  # when the event loop took the request from the pacer, relative to t0
    ok = np.zeros(n, dtype=bool)
    statuses: dict[int, int] = {}
    idle: deque[_Connection] = deque([await target.connect() for _ in range(warm_connections)])
    in_flight: dict[_Connection, tuple[int, float]] = {}
    waiting: deque[int] = deque()
    opened = len(idle)
    loop = asyncio.get_running_loop()
    drained = asyncio.Event()
    dispatched = False
    connecting: set[asyncio.Task[None]] = set()
    t0 = 0.0

    def record(i: int, status: int) -> None:
        lat[i] = time.perf_counter() - t0 - due[i]
        ok[i] = 200 <= status < 300
        statuses[status] = statuses.get(status, 0) + 1

    def start(conn: _Connection, i: int) -> None:
        now = time.perf_counter()
        lag[i] = now - t0 - due[i]
        in_flight[conn] = (i, now)
        conn.send(target.request(i)).add_done_callback(lambda f: finish(conn, f))

    def finish(conn: _Connection, fut: asyncio.Future[int]) -> None:
        nonlocal opened
        i, _ = in_flight.pop(conn)
        failed = fut.cancelled() or fut.exception() is not None
        record(i, 0 if failed else fut.result())
        if failed or conn.closed:
            conn.close()
            opened -= 1
            if waiting:
                connect_then_start(waiting.popleft())
        elif waiting:
            start(conn, waiting.popleft())
        else:
            idle.append(conn)
        check_drained()

    def check_drained(*_: object) -> None:
        if dispatched and not in_flight and not waiting and not connecting:
            drained.set()

    async def open_and_start(i: int) -> None:
        nonlocal opened
        try:
            conn = await target.connect()
        except OSError:
            opened -= 1
            record(i, 0)
        else:
            start(conn, i)

    def connect_then_start(i: int) -> None:
        nonlocal opened
        opened += 1
        task = loop.create_task(open_and_start(i))
        connecting.add(task)
        task.add_done_callback(connecting.discard)
        task.add_done_callback(check_drained)

    def dispatch(i: int) -> None:
        if idle:
            start(idle.popleft(), i)
        elif opened < max_connections:
            connect_then_start(i)
        else:
            waiting.append(i)

    async def sweep_timeouts() -> None:
        while True:
            await asyncio.sleep(0.1)
            limit = time.perf_counter() - REQUEST_TIMEOUT_S
            for conn, (_, sent) in list(in_flight.items()):
                if sent < limit:
                    conn._fail(TimeoutError("no answer in time"))

    def fire(first: int, last: int) -> None:
        now = time.perf_counter() - t0
        for j in range(first, last):
            picked[j] = now
            dispatch(j)

    def pace() -> None:
        # A thread paces the arrivals: time.sleep is precise to tens of microseconds, while event-loop
        # timers tick in whole milliseconds (a shorter sleep would spin a core the server needs).
        i = 0
        while i < n:
            delay = t0 + due[i] - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            j = int(np.searchsorted(due, time.perf_counter() - t0, side="right"))
            j = max(j, i + 1)
            loop.call_soon_threadsafe(fire, i, j)
            i = j

    sweeper = loop.create_task(sweep_timeouts())
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # the pacer gets the GIL within half a millisecond
    cpu0 = _cpu()
    t0 = time.perf_counter()
    try:
        await asyncio.to_thread(pace)
    finally:
        sys.setswitchinterval(switch)
    dispatched = True
    while in_flight or waiting or connecting:
        drained.clear()
        await drained.wait()
    wall = time.perf_counter() - t0
    sweeper.cancel()
    for conn in idle:
        conn.close()
    done = ~np.isnan(lat)
    return Run(
        "open_loop",
        lat[done],
        ok[done],
        due[done],
        max(wall, duration_s),
        _cpu() - cpu0,
        offered_rate=rate,
        dispatch_delay_s=lag[~np.isnan(lag)],
        from_dispatch_s=(lat + due - picked)[done],
        statuses=statuses,
    )


async def closed_loop(target: Target, *, concurrency: int, duration_s: float, warmup_s: float = 1.0) -> Run:
    """`concurrency` connections back to back; only requests started after the warm-up count."""
    lats: list[float] = []
    oks: list[bool] = []
    starts: list[float] = []
    statuses: dict[int, int] = {}
    t0 = time.perf_counter()
    measure_from = t0 + warmup_s
    stop_at = measure_from + duration_s

    async def worker(w: int) -> None:
        conn = await target.connect()
        i = w
        try:
            while True:
                start = time.perf_counter()
                if start >= stop_at:
                    return
                try:
                    status = await _timed_request(conn, target.request(i))
                except (TimeoutError, OSError, ProtocolError):
                    status = 0
                    conn.close()
                    conn = await target.connect()
                end = time.perf_counter()
                if start >= measure_from:
                    lats.append(end - start)
                    oks.append(200 <= status < 300)
                    starts.append(start - measure_from)
                    statuses[status] = statuses.get(status, 0) + 1
                i += concurrency
        finally:
            conn.close()

    await asyncio.sleep(0)
    cpu0 = _cpu()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    wall = time.perf_counter() - measure_from
    return Run(
        "closed_loop",
        np.array(lats),
        np.array(oks, dtype=bool),
        np.array(starts),
        wall,
        (_cpu() - cpu0) * duration_s / (duration_s + warmup_s),
        concurrency=concurrency,
        statuses=statuses,
    )


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on uvloop when it is installed (a cheaper client leaves more CPU to the server)."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    # The bench process holds MLflow, pandas and torch: a full cycle collection there pauses for 100+ ms,
    # which would be charged to the server as latency. Freeze that heap and keep the collector off for
    # the run (the run allocates few cycles; they are collected right after).
    gc.collect()
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(factory())  # type: ignore[arg-type]
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()
        gc.collect()
