"""Which adapter serves which platform, one instance per runtime."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from polypost.core.errors import Unprocessable
from polypost.core.runtime import Runtime
from polypost.platforms.base import Credentials

AdapterFactory = Callable[[Runtime], Any]


def _sandbox(runtime: Runtime) -> Any:
    from polypost.platforms.sandbox.adapter import SandboxAdapter

    return SandboxAdapter(runtime)


def _bluesky(runtime: Runtime) -> Any:
    from polypost.platforms.bluesky.adapter import BlueskyAdapter

    return BlueskyAdapter(runtime)


def _mastodon(runtime: Runtime) -> Any:
    from polypost.platforms.mastodon.adapter import MastodonAdapter

    return MastodonAdapter(runtime)


def _x(runtime: Runtime) -> Any:
    from polypost.platforms.x.adapter import XAdapter

    return XAdapter(runtime)


def _threads(runtime: Runtime) -> Any:
    from polypost.platforms.threads.adapter import ThreadsAdapter

    return ThreadsAdapter(runtime)


FACTORIES: dict[str, AdapterFactory] = {
    "sandbox": _sandbox,
    "bluesky": _bluesky,
    "mastodon": _mastodon,
    "x": _x,
    "threads": _threads,
}


class PlatformUnavailable(Unprocessable):
    code = "unsupported"
    default_message = "Publishing to this platform is not available on this server."


def adapter_for(runtime: Runtime, platform: str) -> Any:
    cache: dict[str, Any] = runtime.extras.setdefault("adapters", {})
    adapter = cache.get(platform)
    if adapter is None:
        factory = FACTORIES.get(platform)
        if factory is None:
            raise PlatformUnavailable(f"No adapter for platform '{platform}'.")
        adapter = cache[platform] = factory(runtime)
    return adapter


def recovery_mode(adapter: Any, credentials: Credentials) -> tuple[str, timedelta | None]:
    """How an interrupted publish can be settled on this platform.

    `idempotency_key`: resending with the same key within `window` returns the original;
    `lookup`: the platform can be searched for the post; `none`: neither (the target
    then fails as `outcome_unknown`, never risking a duplicate).
    """
    per_account = getattr(adapter, "recovery_for", None)
    if per_account is not None:
        mode, window = per_account(credentials)
        return str(mode), window
    return str(getattr(adapter, "recovery", "none")), getattr(adapter, "dedup_window", None)
