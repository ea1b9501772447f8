"""ORM models; importing this package registers every table on `Base.metadata`."""

from polypost.models.api_key import ApiKey
from polypost.models.base import Base
from polypost.models.event import Event
from polypost.models.idempotency_key import IdempotencyKey
from polypost.models.invite import Invite
from polypost.models.media import Media, MediaKind, MediaStatus
from polypost.models.media_derivative import MediaDerivative
from polypost.models.membership import Membership, Role
from polypost.models.oauth_redirect_uri import OAuthRedirectUri
from polypost.models.oauth_state import OAuthState
from polypost.models.platform_credential import PlatformCredential
from polypost.models.post import Post, PostStatus
from polypost.models.post_target import PostTarget, TargetStatus
from polypost.models.sandbox_ledger import SandboxLedgerEntry
from polypost.models.social_account import AccountStatus, SocialAccount
from polypost.models.user import User
from polypost.models.webhook import Webhook
from polypost.models.webhook_delivery import WebhookDelivery
from polypost.models.workspace import Workspace

__all__ = [
    "AccountStatus",
    "ApiKey",
    "Base",
    "Event",
    "IdempotencyKey",
    "Invite",
    "Media",
    "MediaDerivative",
    "MediaKind",
    "MediaStatus",
    "Membership",
    "OAuthRedirectUri",
    "OAuthState",
    "PlatformCredential",
    "Post",
    "PostStatus",
    "PostTarget",
    "Role",
    "SandboxLedgerEntry",
    "SocialAccount",
    "TargetStatus",
    "User",
    "Webhook",
    "WebhookDelivery",
    "Workspace",
]
