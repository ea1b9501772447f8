"""Group commit: concurrent callers share one flush, and each gets its own result."""

from __future__ import annotations

import asyncio

import pytest

from polypost.core.coalesce import Coalescer


async def test_callers_within_the_window_share_one_flush() -> None:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 10 for item in items]

    coalescer: Coalescer[int, int] = Coalescer(flush, window=0.01)
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]


async def test_a_full_batch_flushes_without_waiting_for_the_window() -> None:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[None]:
        batches.append(items)
        return [None] * len(items)

    coalescer: Coalescer[int, None] = Coalescer(flush, window=60.0, max_items=3)
    await asyncio.wait_for(asyncio.gather(*(coalescer.submit(n) for n in range(6))), 5)
    assert batches == [[0, 1, 2], [3, 4, 5]]


async def test_later_callers_get_a_batch_of_their_own() -> None:
    batches: list[list[str]] = []

    async def flush(items: list[str]) -> list[str]:
        batches.append(items)
        return items

    coalescer: Coalescer[str, str] = Coalescer(flush, window=0.001)
    assert await coalescer.submit("a") == "a"
    assert await coalescer.submit("b") == "b"
    assert batches == [["a"], ["b"]]


async def test_a_failed_flush_fails_every_caller_of_that_batch() -> None:
    async def flush(items: list[int]) -> list[int]:
        raise RuntimeError("database unavailable")

    coalescer: Coalescer[int, int] = Coalescer(flush, window=0.001)
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True)
    assert [str(r) for r in results] == ["database unavailable"] * 3

    async def working(items: list[int]) -> list[int]:
        return items

    coalescer = Coalescer(working, window=0.001)
    assert await coalescer.submit(7) == 7  # a new batch after a failure works


async def test_a_flush_must_answer_every_item() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:1]

    coalescer: Coalescer[int, int] = Coalescer(short, window=0.001)
    with pytest.raises(ValueError):
        await asyncio.gather(coalescer.submit(1), coalescer.submit(2))
