"""Bluesky: AT Protocol XRPC on the account's own PDS (shared/platforms/bluesky.md).

Every call goes to `Credentials.base_url`, the PDS found at connect time (Bluesky-hosted
or self-hosted); `app.bsky.*` reads are proxied by the PDS to the AppView. A post is a
`app.bsky.feed.post` record created with `com.atproto.repo.createRecord` under a record
key derived from the step's idempotency key (records.py), which is what makes a retried
publish safe: the repository refuses a second record at the same key, and
`find_published` reads that key back after an interrupted attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.http import PlatformHttp, retry_at_from_headers
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import parse_iso, utcnow
from polypost.models import SocialAccount
from polypost.platforms.base import (
    AuthExpired,
    Capabilities,
    Credentials,
    MediaKind,
    Outgoing,
    Permanent,
    Platform,
    PlatformError,
    PostMetrics,
    Published,
    RateLimited,
    TokenSet,
    Transient,
)
from polypost.platforms.bluesky import card, richtext
from polypost.platforms.bluesky.identity import (
    ENTRYWAY,
    Resolver,
    guard,
    normalize_service,
    pds_from_document,
)
from polypost.platforms.bluesky.media import BlobUploader
from polypost.platforms.bluesky.records import (
    POST_COLLECTION,
    AtUri,
    permalink,
    post_uri,
    record_key,
)
from polypost.platforms.bluesky.session import (
    APP_PASSWORD_SETTING,
    parse_connect,
    token_set,
)
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.connect import Connection, Identity
from polypost.platforms.credentials import load_credentials
from polypost.platforms.native import listing_error, tracked_posts

# bluesky.md §6: XRPC error names that mean the session or account is unusable.
AUTH_ERRORS = frozenset(
    {
        "ExpiredToken",
        "InvalidToken",
        "AuthenticationRequired",
        "AuthMissing",
        "AccountTakedown",
        "AccountDeactivated",
        "AuthFactorTokenRequired",
    }
)
RECORD_NOT_FOUND = "RecordNotFound"
# Mentions resolved per post; more are left as plain text rather than costing a call each.
MAX_MENTIONS = 20
# app.bsky.feed.getAuthorFeed: limit 1-100. Own posts and threads, no reposts.
FEED_FILTER = "posts_and_author_threads"


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    """The XRPC error name and message (`{"error": "...", "message": "..."}`)."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:300]
    if not isinstance(body, dict):
        return None, response.text[:300]
    name = body.get("error")
    message = body.get("message") or name or f"HTTP {response.status_code}"
    return (str(name) if name else None), str(message)


def _created_at() -> str:
    return utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BlueskyAdapter:
    platform: ClassVar[Platform] = Platform.BLUESKY
    capabilities: ClassVar[Capabilities] = capabilities_for("bluesky")
    # A retried createRecord reuses the step's record key; getRecord finds what landed.
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[None] = None

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.blobs = BlobUploader(runtime, self, self.http)
        self.resolver = Resolver(self.http, self, runtime.settings.outbound_allow)

    # --- errors -----------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        status = response.status_code
        name, message = _error_body(response)
        if status == 429 or name == "RateLimitExceeded":
            # bluesky.md §4: `RateLimit-Reset` is unix seconds.
            return RateLimited(
                f"Bluesky rate limit: {message}",
                code=name or "429",
                retry_at=retry_at_from_headers(response.headers),
            )
        if name in AUTH_ERRORS or status == 401:
            return AuthExpired(f"Bluesky refused the session: {message}", code=name or "401")
        if status >= 500:
            return Transient(f"Bluesky server error {status}: {message}", code=name or str(status))
        return Permanent(f"Bluesky refused the request: {message}", code=name or str(status))

    # --- connecting -------------------------------------------------------------------

    def _auth(self, account: Credentials) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.access_token}"}

    async def _create_session(self, service: str, identifier: str, password: str) -> dict[str, Any]:
        session = await self.http.json(
            self,
            "POST",
            f"{service.rstrip('/')}/xrpc/com.atproto.server.createSession",
            json={"identifier": identifier, "password": password},
        )
        if not isinstance(session, dict):
            raise Transient("The PDS answered createSession without a session")
        return session

    async def connect_with_credentials(self, body: Mapping[str, Any]) -> Connection:
        """Log in with an app password on the account's PDS (discovered from the DID
        document unless `service` is given) and describe the account."""
        data = parse_connect(body)
        allow = self.runtime.settings.outbound_allow
        identifier = data.identifier.lstrip("@")
        if data.service:
            service = normalize_service(data.service)
            await guard(service, allow, "service")
        else:
            did = await self.resolver.did_for(identifier)
            service = await self.resolver.pds_for(did) if did else ENTRYWAY
        session = await self._create_session(service, identifier, data.app_password)
        if session.get("active") is False:
            raise AuthExpired(
                f"The Bluesky account is {session.get('status') or 'inactive'}",
                code="AccountDeactivated",
            )
        did = session.get("did")
        if not isinstance(did, str):
            raise Transient("The PDS answered createSession without a DID")
        # Logging in through the entryway works for every Bluesky-hosted account, but the
        # account's own PDS (named in its DID document) is where its repo lives.
        base_url = service
        pinned = pds_from_document(session.get("didDoc") or {})
        if pinned and pinned != service:
            await guard(pinned, allow, "identifier")
            base_url = pinned
        tokens = token_set(session)
        credentials = Credentials(
            account_id="",
            platform=Platform.BLUESKY,
            external_id=did,
            access_token=tokens.access_token,
            handle=session.get("handle"),
            base_url=base_url,
        )
        identity = await self._identity(credentials, did, session.get("handle"))
        return Connection(
            identity=identity,
            tokens=tokens,
            base_url=base_url,
            settings={
                "baseUrl": base_url,
                "did": did,
                APP_PASSWORD_SETTING: self.runtime.cipher.encrypt(data.app_password),
            },
            token_expires_at=tokens.expires_at,
        )

    async def _identity(self, account: Credentials, did: str, handle: Any) -> Identity:
        display_name = avatar = None
        try:
            profile = await self.http.json(
                self,
                "GET",
                account.url("/xrpc/app.bsky.actor.getProfile"),
                headers=self._auth(account),
                params={"actor": did},
            )
        except Permanent:
            profile = {}  # a brand-new account may have no profile record yet
        if isinstance(profile, dict):
            display_name = profile.get("displayName") or None
            avatar = profile.get("avatar") or None
            handle = profile.get("handle") or handle
        return Identity(
            external_id=did,
            handle=str(handle) if handle else None,
            display_name=display_name,
            avatar_url=avatar,
        )

    async def whoami(self, account: Credentials) -> Identity:
        session = await self.http.json(
            self,
            "GET",
            account.url("/xrpc/com.atproto.server.getSession"),
            headers=self._auth(account),
        )
        did = session.get("did") if isinstance(session, dict) else None
        if not isinstance(did, str):
            raise Transient("The PDS answered getSession without a DID")
        return await self._identity(account, did, session.get("handle"))

    def _app_password(self, account: Credentials) -> str | None:
        encrypted = account.settings.get(APP_PASSWORD_SETTING)
        if not isinstance(encrypted, str):
            return None
        try:
            return self.runtime.cipher.decrypt(encrypted)
        except ValueError:
            return None

    async def refresh(self, account: Credentials) -> TokenSet:
        """A new session from the refresh JWT; when that is dead (expired after 90 days,
        revoked), one login with the stored app password before giving up."""
        if account.refresh_token:
            try:
                session = await self.http.json(
                    self,
                    "POST",
                    account.url("/xrpc/com.atproto.server.refreshSession"),
                    headers={"Authorization": f"Bearer {account.refresh_token}"},
                )
            except AuthExpired:
                if self._app_password(account) is None:
                    raise
            else:
                return token_set(session)
        password = self._app_password(account)
        if password is None or not account.base_url:
            raise AuthExpired(
                "The Bluesky session ended; reconnect the account", code="ExpiredToken"
            )
        return token_set(
            await self._create_session(account.base_url, account.external_id, password)
        )

    # --- publishing -------------------------------------------------------------------

    async def _get_record(self, account: Credentials, uri: AtUri) -> dict[str, Any] | None:
        """`com.atproto.repo.getRecord`; None when the record does not exist."""
        try:
            body = await self.http.json(
                self,
                "GET",
                account.url("/xrpc/com.atproto.repo.getRecord"),
                headers=self._auth(account),
                params={"repo": uri.repo, "collection": uri.collection, "rkey": uri.rkey},
            )
        except Permanent as error:
            if error.code == RECORD_NOT_FOUND:
                return None
            raise
        return body if isinstance(body, dict) and body.get("cid") else None

    async def _strong_ref(
        self, account: Credentials, published: Published
    ) -> tuple[dict[str, str], dict[str, str] | None]:
        """`{uri, cid}` of a post, and the root its own reply points to, if any."""
        cid = published.extra.get("cid")
        if cid:
            return {"uri": published.id, "cid": cid}, None
        uri = AtUri.parse(published.id)
        record = await self._get_record(account, uri) if uri else None
        if record is None:
            raise Permanent(
                f"The post being replied to ({published.id}) no longer exists",
                code="reply_parent_missing",
            )
        root = (record.get("value") or {}).get("reply", {}).get("root")
        valid_root = (
            root if isinstance(root, dict) and root.get("uri") and root.get("cid") else None
        )
        return {
            "uri": str(record.get("uri") or published.id),
            "cid": str(record["cid"]),
        }, valid_root

    async def _reply_refs(self, account: Credentials, post: Outgoing) -> dict[str, Any] | None:
        """`{root, parent}`: the parent is the previous post, the root the thread's first
        (a wrong root detaches the branch from the thread)."""
        if post.reply_to is None:
            return None
        parent, parent_root = await self._strong_ref(account, post.reply_to)
        if post.root is None or post.root.id == post.reply_to.id:
            root = parent_root or parent
        elif parent_root is not None and parent_root["uri"] == post.root.id:
            root = parent_root
        else:
            root, _ = await self._strong_ref(account, post.root)
        return {"root": root, "parent": parent}

    async def _mention_dids(self, account: Credentials, handles: set[str]) -> dict[str, str]:
        dids: dict[str, str] = {}
        for handle in sorted(handles)[:MAX_MENTIONS]:
            try:
                body = await self.http.json(
                    self,
                    "GET",
                    account.url("/xrpc/com.atproto.identity.resolveHandle"),
                    headers=self._auth(account),
                    params={"handle": handle},
                )
            except Permanent:
                continue  # not a handle: the text stays plain, as in the Bluesky app
            did = body.get("did") if isinstance(body, dict) else None
            if isinstance(did, str) and did.startswith("did:"):
                dids[handle] = did
        return dids

    async def _media_embed(self, account: Credentials, post: Outgoing) -> dict[str, Any] | None:
        videos = [m for m in post.media if m.kind is MediaKind.VIDEO]
        if videos:
            video = videos[0]
            embed: dict[str, Any] = {
                "$type": "app.bsky.embed.video",
                "video": await self.blobs.video(account, video),
                "alt": post.alt_texts.get(video.id, ""),
            }
            if video.width and video.height:
                embed["aspectRatio"] = {"width": video.width, "height": video.height}
            return embed
        images = []
        for media in post.media[:4]:
            blob, sent = await self.blobs.image(account, media)
            image: dict[str, Any] = {"image": blob, "alt": post.alt_texts.get(media.id, "")}
            if sent.width and sent.height:
                image["aspectRatio"] = {"width": sent.width, "height": sent.height}
            images.append(image)
        return {"$type": "app.bsky.embed.images", "images": images} if images else None

    async def _link_embed(self, account: Credentials, post: Outgoing) -> dict[str, Any] | None:
        url = post.article.url if post.article else post.link
        if not url:
            return None
        preview, thumbnail = await card.fetch_preview(url, self.runtime.settings.outbound_allow)
        thumb = None
        if thumbnail is not None:
            try:
                thumb = await self.blobs.upload_blob(
                    account, thumbnail.data, thumbnail.content_type
                )
            except Permanent:
                thumb = None  # a thumbnail the PDS refuses only costs the picture
        return card.external_embed(url, post.article, preview, thumb)

    async def _record(
        self, account: Credentials, post: Outgoing, reply: dict[str, Any] | None
    ) -> dict[str, Any]:
        text = post.text
        spans = richtext.detect(text)
        dids = await self._mention_dids(account, {s.value for s in spans if s.kind == "mention"})
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": _created_at(),
        }
        facets = richtext.facets(text, spans, dids)
        if facets:
            record["facets"] = facets
        if reply is not None:
            record["reply"] = reply
        embed = await self._media_embed(account, post) or await self._link_embed(account, post)
        if embed is not None:
            record["embed"] = embed
        options = post.options
        langs = getattr(options, "langs", None)
        if langs:
            record["langs"] = list(langs)
        labels = getattr(options, "labels", None)
        if labels:
            record["labels"] = {
                "$type": "com.atproto.label.defs#selfLabels",
                "values": [{"val": label} for label in labels],
            }
        tags = getattr(options, "tags", None)
        if tags:
            record["tags"] = [tag.lstrip("#") for tag in tags]
        return record

    def _published(self, uri: str, cid: str) -> Published:
        return Published(id=uri, url=permalink(uri), extra={"cid": cid})

    async def _create(self, account: Credentials, post: Outgoing) -> Published:
        reply = await self._reply_refs(account, post)
        record = await self._record(account, post, reply)
        rkey = record_key(post.key)
        try:
            body = await self.http.json(
                self,
                "POST",
                account.url("/xrpc/com.atproto.repo.createRecord"),
                headers=self._auth(account),
                json={
                    "repo": account.external_id,
                    "collection": POST_COLLECTION,
                    "rkey": rkey,
                    "record": record,
                },
            )
        except (Transient, Permanent):
            # An earlier attempt of this step may have created the record (the repo then
            # refuses the key again): adopt it instead of failing or posting twice.
            existing = await self._existing(account, rkey)
            if existing is not None:
                return existing
            raise
        uri, cid = body.get("uri"), body.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str):
            raise Transient("The PDS answered createRecord without uri and cid", maybe_sent=True)
        return self._published(uri, cid)

    async def _existing(self, account: Credentials, rkey: str) -> Published | None:
        try:
            record = await self._get_record(
                account, AtUri(account.external_id, POST_COLLECTION, rkey)
            )
        except PlatformError:
            return None
        if record is None:
            return None
        return self._published(
            str(record.get("uri") or post_uri(account.external_id, rkey)), str(record["cid"])
        )

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """Create the post record; a thread segment replies to `post.reply_to` within
        the thread of `post.root`."""
        return await self._create(account, post)

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """The first comment: a self-reply under the main post."""
        if post.reply_to is None:
            raise Permanent(
                "A first comment needs the post it replies to", code="reply_parent_missing"
            )
        return await self._create(account, post)

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        """The record at this step's key, if an interrupted attempt created it."""
        rkey = record_key(post.key)
        record = await self._get_record(account, AtUri(account.external_id, POST_COLLECTION, rkey))
        if record is None:
            return None
        return self._published(
            str(record.get("uri") or post_uri(account.external_id, rkey)), str(record["cid"])
        )

    # --- after publishing -------------------------------------------------------------

    def _own_post(self, account: Credentials, platform_post_id: str) -> AtUri:
        uri = AtUri.parse(platform_post_id)
        if uri is None or uri.collection != POST_COLLECTION or uri.repo != account.external_id:
            raise Permanent(f"{platform_post_id} is not a post of this account", code="not_found")
        return uri

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`deleteRecord` is idempotent: deleting a missing record succeeds."""
        uri = self._own_post(account, platform_post_id)
        await self.http.request(
            self,
            "POST",
            account.url("/xrpc/com.atproto.repo.deleteRecord"),
            headers=self._auth(account),
            json={"repo": uri.repo, "collection": uri.collection, "rkey": uri.rkey},
        )

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        # bluesky.md §5: putRecord would change the CID that replies, quotes and likes
        # point to, and Bluesky apps show no edits.
        raise Permanent("Bluesky does not support editing posts", code="unsupported")

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """Likes, replies and reposts + quotes from the AppView (`getPosts`); Bluesky
        reports no views or impressions."""
        self._own_post(account, platform_post_id)
        body = await self.http.json(
            self,
            "GET",
            account.url("/xrpc/app.bsky.feed.getPosts"),
            headers=self._auth(account),
            params={"uris": platform_post_id},
        )
        posts = body.get("posts") if isinstance(body, dict) else None
        if not posts:
            raise Permanent(f"Bluesky has no post {platform_post_id}", code="not_found")
        view = posts[0]
        return PostMetrics(
            collected_at=utcnow(),
            likes=int(view.get("likeCount") or 0),
            comments=int(view.get("replyCount") or 0),
            shares=int(view.get("repostCount") or 0) + int(view.get("quoteCount") or 0),
        )

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The account's posts and self-threads from `getAuthorFeed`, newest first
        (reposts left out); the cursor is Bluesky's own."""
        credentials = load_credentials(runtime, account)
        query = {
            "actor": credentials.external_id,
            "limit": str(params.limit),
            "filter": FEED_FILTER,
        }
        if params.cursor:
            query["cursor"] = params.cursor
        try:
            body = await self.http.json(
                self,
                "GET",
                credentials.url("/xrpc/app.bsky.feed.getAuthorFeed"),
                headers=self._auth(credentials),
                params=query,
            )
        except PlatformError as error:
            raise listing_error(error, "Bluesky") from error
        views = [
            item["post"]
            for item in body.get("feed") or []
            if isinstance(item, dict)
            and isinstance(item.get("post"), dict)
            and not item.get("reason")  # a repost of someone else's post
            and (item["post"].get("author") or {}).get("did") == credentials.external_id
        ]
        tracked = await tracked_posts(
            session, account.id, [str(v["uri"]) for v in views if isinstance(v.get("uri"), str)]
        )
        posts = []
        for view in views:
            record = view.get("record") or {}
            uri = str(view.get("uri"))
            posts.append(
                NativePost(
                    platform_post_id=uri,
                    caption=record.get("text"),
                    timestamp=parse_iso(record.get("createdAt"))
                    or parse_iso(view.get("indexedAt"))
                    or utcnow(),
                    action="reply" if record.get("reply") else "publish",
                    in_db=uri in tracked,
                    db_post_id=tracked.get(uri),
                )
            )
        cursor = body.get("cursor")
        more = bool(cursor) and bool(body.get("feed"))
        return Page(items=posts, next_cursor=str(cursor) if more else None)
