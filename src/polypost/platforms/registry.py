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


def _linkedin(runtime: Runtime) -> Any:
    from polypost.platforms.linkedin.adapter import LinkedInAdapter

    return LinkedInAdapter(runtime)


def _discord(runtime: Runtime) -> Any:
    from polypost.platforms.discord.adapter import DiscordAdapter

    return DiscordAdapter(runtime)


def _slack(runtime: Runtime) -> Any:
    from polypost.platforms.slack.adapter import SlackAdapter

    return SlackAdapter(runtime)


def _telegram(runtime: Runtime) -> Any:
    from polypost.platforms.telegram.adapter import TelegramAdapter

    return TelegramAdapter(runtime)


def _instagram(runtime: Runtime) -> Any:
    from polypost.platforms.instagram.adapter import InstagramAdapter

    return InstagramAdapter(runtime)


def _facebook(runtime: Runtime) -> Any:
    from polypost.platforms.facebook.adapter import FacebookAdapter

    return FacebookAdapter(runtime)


def _tiktok(runtime: Runtime) -> Any:
    from polypost.platforms.tiktok.adapter import TikTokAdapter

    return TikTokAdapter(runtime)


def _pinterest(runtime: Runtime) -> Any:
    from polypost.platforms.pinterest.adapter import PinterestAdapter

    return PinterestAdapter(runtime)


def _youtube(runtime: Runtime) -> Any:
    from polypost.platforms.youtube.adapter import YouTubeAdapter

    return YouTubeAdapter(runtime)


FACTORIES: dict[str, AdapterFactory] = {
    "sandbox": _sandbox,
    "instagram": _instagram,
    "facebook": _facebook,
    "bluesky": _bluesky,
    "mastodon": _mastodon,
    "x": _x,
    "threads": _threads,
    "linkedin": _linkedin,
    "discord": _discord,
    "slack": _slack,
    "telegram": _telegram,
    "tiktok": _tiktok,
    "pinterest": _pinterest,
    "youtube": _youtube,
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
