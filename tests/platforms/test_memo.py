"""StepMemo in both modes: Redis (distributed) and the runtime's memory (embedded)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from polypost.core.runtime import Runtime
from polypost.platforms.memo import StepMemo


async def test_put_get_drop(runtime: Runtime) -> None:
    memo = StepMemo(runtime, "x")
    assert await memo.get("acc_1:md_1") is None
    await memo.put("acc_1:md_1", {"id": "1880028106020515840"}, timedelta(hours=1))
    assert await memo.get("acc_1:md_1") == {"id": "1880028106020515840"}
    assert await StepMemo(runtime, "threads").get("acc_1:md_1") is None
    await memo.drop("acc_1:md_1")
    assert await memo.get("acc_1:md_1") is None


async def test_entries_expire(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    memo = StepMemo(runtime, "x")
    await memo.put("k", {"id": "1"}, timedelta(seconds=1))
    if runtime.redis is not None:
        assert 0 < await runtime.redis.ttl("polypost:memo:x:k") <= 1
        return
    from polypost.platforms import memo as module

    later = module.utcnow() + timedelta(seconds=2)
    monkeypatch.setattr(module, "utcnow", lambda: later)
    assert await memo.get("k") is None
