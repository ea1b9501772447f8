"""The post/target status machine under random sequences of API calls and worker runs.

Whatever the order of create, edit, reschedule, cancel, publish-now, retry and worker
steps (with flaky and failing accounts), no target makes an illegal transition, the
post's status is always the one derived from its targets, a published target always
has its platform id, and the sandbox never receives the same step twice.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, update

from polypost.app import create_app
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import PostTarget, SandboxLedgerEntry
from polypost.platforms.sandbox.adapter import PUBLISHING_ACTIONS
from polypost.posts import jobs
from polypost.posts.state import TRANSITIONS, derive_post_status
from polypost.settings import load_settings
from polypost.worker.runner import EmbeddedRunner
from tests.fixtures.factories import connect_sandbox, make_tenant


def reachable(source: str) -> set[str]:
    """Statuses a target may reach from `source` through any number of transitions."""
    seen = {source}
    frontier = [source]
    while frontier:
        for nxt in TRANSITIONS.get(frontier.pop(), frozenset()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def machine_for(template: Path, workdir: Path) -> type[RuleBasedStateMachine]:
    counter = iter(range(1_000_000))

    class PublishingMachine(RuleBasedStateMachine):
        posts = Bundle("posts")

        def __init__(self) -> None:
            super().__init__()
            run_dir = workdir / f"run{next(counter)}"
            run_dir.mkdir()
            shutil.copy(template, run_dir / "db.sqlite")
            self.loop = asyncio.new_event_loop()
            config = load_settings(
                database_url=f"sqlite+aiosqlite:///{run_dir / 'db.sqlite'}",
                redis_url=None,
                data_dir=run_dir / "data",
            )
            self.runtime = Runtime.build(config)
            app = create_app(runtime=self.runtime, run_jobs=False)
            self.client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://machine"
            )
            self.seen: dict[str, str] = {}
            self.serial = 0
            self.run(self._setup())

        def run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        async def _setup(self) -> None:
            self.tenant = await make_tenant(self.runtime)
            self.accounts = [
                await connect_sandbox(self.client, self.tenant),
                await connect_sandbox(self.client, self.tenant, failWith="transient", failTimes=1),
                await connect_sandbox(self.client, self.tenant, failWith="permanent"),
            ]

        def teardown(self) -> None:
            self.run(self.client.aclose())
            self.run(self.runtime.close())
            self.loop.close()

        async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
            response = await self.client.request(method, url, headers=self.tenant.headers, **kwargs)
            assert response.status_code < 500, response.text
            return response

        @rule(
            target=posts,
            accounts=st.sets(st.integers(0, 2), min_size=1),
            start=st.sampled_from(["now", "future", "draft"]),
        )
        def create(self, accounts: set[int], start: str) -> str:
            self.serial += 1
            body: dict[str, Any] = {
                "accountIds": [self.accounts[i] for i in sorted(accounts)],
                "content": f"post {self.serial}",
            }
            if start == "future":
                body["scheduledAt"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            elif start == "draft":
                body["draft"] = True
            response = self.run(self.call("POST", "/v1/posts", json=body))
            assert response.status_code == 201, response.text
            return str(response.json()["postId"])

        @rule(post=posts)
        def edit(self, post: str) -> None:
            self.serial += 1
            response = self.run(
                self.call("PUT", f"/v1/posts/{post}", json={"content": f"edit {self.serial}"})
            )
            assert response.status_code in (200, 409, 422), response.text

        @rule(post=posts)
        def reschedule(self, post: str) -> None:
            later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
            response = self.run(
                self.call("PATCH", f"/v1/posts/{post}", json={"scheduledAt": later})
            )
            assert response.status_code in (200, 409, 422), response.text

        @rule(post=posts)
        def cancel(self, post: str) -> None:
            response = self.run(self.call("DELETE", f"/v1/posts/{post}"))
            assert response.status_code in (200, 409), response.text

        @rule(post=posts)
        def publish_now(self, post: str) -> None:
            response = self.run(self.call("POST", f"/v1/posts/{post}/publish"))
            assert response.status_code in (200, 409), response.text

        @rule(post=posts)
        def retry(self, post: str) -> None:
            response = self.run(self.call("POST", f"/v1/posts/{post}/retry"))
            assert response.status_code in (200, 409), response.text

        @rule()
        def time_passes(self) -> None:
            """Every scheduled target falls due; the reconciler hands them to the queue."""

            async def advance() -> None:
                async with self.runtime.sessions() as session:
                    await session.execute(
                        update(PostTarget)
                        .where(PostTarget.status == "scheduled")
                        .values(scheduled_at=utcnow() - timedelta(seconds=1), queued_at=None)
                    )
                    await session.commit()
                await jobs.reconcile_targets(
                    {"runtime": self.runtime, "worker_id": "machine", "job_try": 1}
                )

            self.run(advance())

        @rule()
        def worker_runs(self) -> None:
            self.run(EmbeddedRunner(self.runtime).run_until_idle())

        @invariant()
        def statuses_are_consistent(self) -> None:
            async def check() -> None:
                async with self.runtime.sessions() as session:
                    targets = (await session.execute(select(PostTarget))).scalars().all()
                    ledger = (
                        await session.execute(
                            select(SandboxLedgerEntry.idempotency_key).where(
                                SandboxLedgerEntry.outcome == "accepted",
                                SandboxLedgerEntry.action.in_(PUBLISHING_ACTIONS),
                            )
                        )
                    ).scalars()
                    duplicates = [k for k, n in Counter(ledger).items() if n > 1]
                assert duplicates == [], f"sent twice: {duplicates}"
                by_post: dict[str, list[str]] = {}
                for target in targets:
                    by_post.setdefault(target.post_id, []).append(target.status)
                    previous = self.seen.get(target.id, target.status)
                    assert target.status in reachable(previous), (
                        f"{target.id}: {previous} -> {target.status}"
                    )
                    self.seen[target.id] = target.status
                    if target.status == "published":
                        assert target.platform_post_id
                for post_id, statuses in by_post.items():
                    body = (await self.call("GET", f"/v1/posts/{post_id}")).json()
                    assert body["status"] == derive_post_status(statuses), (post_id, statuses)

            self.run(check())

    return PublishingMachine


def test_random_sequences_never_reach_an_illegal_state(
    sqlite_template: Path, tmp_path: Path
) -> None:
    jobs_backoff = jobs.BACKOFF_BASE
    jobs.BACKOFF_BASE = timedelta(0)
    try:
        run_state_machine_as_test(
            machine_for(sqlite_template, tmp_path),
            settings=settings(
                max_examples=15,
                stateful_step_count=10,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            ),
        )
    finally:
        jobs.BACKOFF_BASE = jobs_backoff
