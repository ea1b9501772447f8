"""Scopes and what each membership role may do."""

from __future__ import annotations

from enum import StrEnum

from polypost.models.membership import Role


class Scope(StrEnum):
    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_WRITE = "accounts:write"
    POSTS_READ = "posts:read"
    POSTS_WRITE = "posts:write"
    MEDIA_READ = "media:read"
    MEDIA_WRITE = "media:write"
    ANALYTICS_READ = "analytics:read"
    INBOX_READ = "inbox:read"
    INBOX_WRITE = "inbox:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    KEYS_WRITE = "keys:write"
    WORKSPACE_ADMIN = "workspace:admin"


ALL_SCOPES: frozenset[str] = frozenset(Scope)
READ_SCOPES = frozenset(s for s in Scope if s.endswith(":read"))
EDITOR_SCOPES = READ_SCOPES | {
    Scope.ACCOUNTS_WRITE,
    Scope.POSTS_WRITE,
    Scope.MEDIA_WRITE,
    Scope.INBOX_WRITE,
}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.OWNER: ALL_SCOPES,
    Role.ADMIN: ALL_SCOPES,
    Role.EDITOR: frozenset(EDITOR_SCOPES),
    Role.VIEWER: READ_SCOPES,
}

ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}
