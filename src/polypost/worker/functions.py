"""Every job function by name, for the arq worker and the embedded runner alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from polypost.posts.group_jobs import publish_targets
from polypost.posts.jobs import publish_target, reconcile_targets
from polypost.worker.jobs import PERIODIC as MAINTENANCE

FUNCTIONS: dict[str, Callable[..., Awaitable[Any]]] = {
    "publish_target": publish_target,
    "publish_targets": publish_targets,
}

# How often the embedded runner runs each periodic job (seconds).
RECONCILE_INTERVAL = 5
PERIODIC: list[tuple[Callable[..., Awaitable[Any]], float]] = [
    *MAINTENANCE,
    (reconcile_targets, RECONCILE_INTERVAL),
]
