"""Keeping the garbage collector off the objects every process holds for its lifetime."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Move what start-up allocated (modules, models, compiled statements, settings) into
    the permanent generation. Without it every full collection walks those hundreds of
    thousands of objects again, and the allocation that triggers it pays the bill:
    under a publishing burst that was a visible share of each ORM object created."""
    gc.collect()
    gc.freeze()
