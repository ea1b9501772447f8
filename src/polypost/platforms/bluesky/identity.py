"""Finding an account's PDS: handle → DID → DID document → `#atproto_pds` endpoint.

Self-hosted PDSes are first-class, so the PDS is never assumed to be bsky.social. Every
endpoint that comes from a user or from a DID document (a PDS URL, a `did:web` host) is
checked by the outbound guard before it is contacted: a hostile DID document must not
turn Polypost into a proxy onto its own network.

Sources: bsky-docs `advanced-guides/resolving-identities.md`; lexicon
`com/atproto/identity/resolveHandle.json`; https://atproto.com/specs/did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from polypost.core.errors import BadRequest
from polypost.core.http import Classifier, PlatformHttp
from polypost.core.outbound import OutboundBlocked, check_url
from polypost.platforms.base import Permanent

# Resolves handles by DNS TXT and by /.well-known/atproto-did, so no DNS library is needed.
HANDLE_RESOLVER = "https://public.api.bsky.app/xrpc/com.atproto.identity.resolveHandle"
PLC_DIRECTORY = "https://plc.directory"
# The entryway: logs in any Bluesky-hosted account by email too, and returns its didDoc.
ENTRYWAY = "https://bsky.social"
PDS_SERVICE_TYPE = "AtprotoPersonalDataServer"


def field_error(field: str, message: str) -> BadRequest:
    return BadRequest(message, details={"fields": [{"field": field, "message": message}]})


def normalize_service(value: str) -> str:
    """`https://host[:port]` of a PDS URL (a bare host gets https)."""
    candidate = value.strip()
    if "://" not in candidate:
        candidate = f"https://{candidate}"
    try:
        url = httpx.URL(candidate)
    except (httpx.InvalidURL, ValueError) as exc:
        raise field_error("service", "Not a valid URL.") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise field_error("service", "Use an http(s) URL of the PDS.")
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


async def guard(url: str, allow: Sequence[str], field: str) -> None:
    """Refuse endpoints on private, loopback, link-local or metadata addresses."""
    try:
        await check_url(url, allow)
    except OutboundBlocked as exc:
        raise field_error(field, f"{url} is not reachable from this server: {exc}") from exc


def pds_from_document(document: Mapping[str, Any]) -> str | None:
    """The `serviceEndpoint` of the DID document's `#atproto_pds` service."""
    services = document.get("service")
    if not isinstance(services, list):
        return None
    for service in services:
        if not isinstance(service, Mapping):
            continue
        if str(service.get("id", "")).endswith("#atproto_pds") and (
            service.get("type") == PDS_SERVICE_TYPE
        ):
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str) and endpoint.startswith(("https://", "http://")):
                return endpoint.rstrip("/")
    return None


class Resolver:
    """Resolves identities with the adapter's HTTP client and error classification."""

    def __init__(self, http: PlatformHttp, classifier: Classifier, allow: Sequence[str]) -> None:
        self.http = http
        self.classifier = classifier
        self.allow = allow

    async def did_for(self, identifier: str) -> str | None:
        """The DID behind a handle or DID; None for an email (only a PDS can map it)."""
        if identifier.startswith("did:"):
            return identifier
        if "@" in identifier:
            return None
        handle = identifier.lstrip("@").lower()
        try:
            body = await self.http.json(
                self.classifier, "GET", HANDLE_RESOLVER, params={"handle": handle}
            )
        except Permanent as exc:
            raise field_error(
                "identifier", f"The handle {handle} does not resolve to an account."
            ) from exc
        did = body.get("did")
        if not isinstance(did, str) or not did.startswith("did:"):
            raise field_error("identifier", f"The handle {handle} does not resolve to a DID.")
        return did

    async def document_url(self, did: str) -> str:
        if did.startswith("did:plc:"):
            return f"{PLC_DIRECTORY}/{did}"
        if did.startswith("did:web:"):
            # atproto accepts only hostname-level did:web (a port is percent-encoded).
            suffix = did[len("did:web:") :]
            if not suffix or ":" in suffix or "/" in suffix:
                raise field_error("identifier", f"Unsupported did:web form {did}.")
            host = suffix.replace("%3A", ":").replace("%3a", ":")
            url = f"https://{host}/.well-known/did.json"
            await guard(url, self.allow, "identifier")
            return url
        raise field_error("identifier", f"Unsupported DID method in {did}.")

    async def pds_for(self, did: str) -> str:
        """The checked PDS URL a DID document names."""
        document = await self.http.json(self.classifier, "GET", await self.document_url(did))
        pds = pds_from_document(document) if isinstance(document, Mapping) else None
        if pds is None:
            raise field_error("identifier", f"The DID document of {did} names no PDS.")
        await guard(pds, self.allow, "identifier")
        return pds
