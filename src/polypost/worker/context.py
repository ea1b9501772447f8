"""What every job function receives (arq's `ctx`, or the embedded runner's)."""

from __future__ import annotations

from typing import Any, TypedDict

from polypost.core.runtime import Runtime


class JobContext(TypedDict, total=False):
    runtime: Runtime
    worker_id: str
    job_try: int
    job_id: str
    redis: Any
