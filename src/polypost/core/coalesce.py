"""Group commit: callers arriving within a few milliseconds share one batched write.

Concurrent jobs each need a small write (a ledger row, a target's final state); paying a
transaction per caller costs far more CPU than one transaction for all of them. Each
caller still waits until its own item is durable, so nothing is acknowledged early.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """`await submit(item)` returns `flush(items)[i]` for the batch `item` landed in.

    `flush` gets every item submitted within `window` seconds of the first (at most
    `max_items`) and returns one result per item, in order; an exception it raises is
    raised to every caller of that batch.
    """

    def __init__(
        self,
        flush: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        *,
        window: float = 0.005,
        max_items: int = 200,
    ) -> None:
        self._flush = flush
        self._window = window
        self._max_items = max_items
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_items:
            self._fire()
        elif self._timer is None:
            self._timer = loop.call_later(self._window, self._fire)
        return await future

    def _fire(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise ValueError(f"flush answered {len(results)} of {len(batch)} items")
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
