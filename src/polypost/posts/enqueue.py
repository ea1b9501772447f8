"""Handing due targets to the queue: which job publishes which targets, under which id.

Targets of one post due at the same instant go out as one `publish_targets` job
(posts/group_jobs.py); a target on its own as a `publish_target` job. Job ids are
deterministic in the targets and their revisions, so handing the same work over twice
dedupes, and an edit (a new revision) makes a new job.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from polypost.core.runtime import Runtime

# Targets per group job: enough to amortise the job, few enough to spread a large
# fan-out over several workers.
GROUP_SIZE = 25
# Enqueues in flight at once: each is a few Redis round trips, so a burst of them
# overlaps the waits instead of paying them one after another.
ENQUEUE_CONCURRENCY = 32


@dataclass(frozen=True)
class DueTarget:
    post_id: str
    target_id: str
    revision: int
    when: datetime


@dataclass(frozen=True)
class PlannedJob:
    function: str
    args: tuple[Any, ...]
    job_id: str
    when: datetime
    targets: tuple[DueTarget, ...]


def job_id(target_id: str, revision: int) -> str:
    return f"publish:{target_id}:{revision}"


def group_job_id(post_id: str, items: Iterable[tuple[str, int]]) -> str:
    digest = hashlib.sha256(";".join(f"{t}:{r}" for t, r in sorted(items)).encode())
    return f"publish:{post_id}:{digest.hexdigest()[:20]}"


def plan_jobs(due: Iterable[DueTarget]) -> list[PlannedJob]:
    """One job per post and due instant (in chunks of `GROUP_SIZE`)."""
    groups: dict[tuple[str, datetime], list[DueTarget]] = {}
    for target in due:
        groups.setdefault((target.post_id, target.when), []).append(target)
    planned: list[PlannedJob] = []
    for (post_id, when), members in groups.items():
        members.sort(key=lambda t: t.target_id)
        for start in range(0, len(members), GROUP_SIZE):
            chunk = tuple(members[start : start + GROUP_SIZE])
            if len(chunk) == 1:
                only = chunk[0]
                planned.append(
                    PlannedJob(
                        "publish_target",
                        (only.target_id, only.revision),
                        job_id(only.target_id, only.revision),
                        when,
                        chunk,
                    )
                )
                continue
            items = [(t.target_id, t.revision) for t in chunk]
            planned.append(
                PlannedJob(
                    "publish_targets",
                    (post_id, [list(item) for item in items]),
                    group_job_id(post_id, items),
                    when,
                    chunk,
                )
            )
    return planned


async def enqueue_jobs(runtime: Runtime, planned: list[PlannedJob]) -> None:
    """Hand planned jobs to the queue concurrently (bounded)."""
    slots = asyncio.Semaphore(ENQUEUE_CONCURRENCY)

    async def one(job: PlannedJob) -> None:
        async with slots:
            await runtime.queue.enqueue(
                job.function, *job.args, job_id=job.job_id, defer_until=job.when
            )

    await asyncio.gather(*(one(job) for job in planned))


async def enqueue_many(runtime: Runtime, due: Iterable[DueTarget]) -> None:
    await enqueue_jobs(runtime, plan_jobs(due))
