from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from polypost.core import outbound
from polypost.core.outbound import (
    OutboundBlocked,
    check_url,
    guarded_client,
    parse_ipv4_literal,
    refusal_reason,
)

# RELIABILITY.md B4, "Test inputs that must be refused" (plus a few close relatives).
SSRF_CORPUS = [
    "http://127.0.0.1",
    "http://localhost",
    "http://[::1]",
    "http://0.0.0.0",
    "http://0/",
    "http://2130706433",
    "http://0x7f000001",
    "http://017700000001",
    "http://127.1",
    "http://10.0.0.1",
    "http://172.16.0.1",
    "http://192.168.1.1",
    "http://100.64.0.1",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]",
    "http://[::ffff:127.0.0.1]",
    "http://[64:ff9b::7f00:1]",
    "file:///etc/passwd",
    "gopher://example.com:70/_stats",
    "http://224.0.0.1/",
    "http://[fe80::1]/",
    "http://[2002:a9fe:a9fe::1]/",  # 6to4 wrapping 169.254.169.254
    "http://[::7f00:1]/",  # IPv4-compatible form
    "http://LOCALHOST./",
    "http://user:pass@93.184.216.34/",
    "https://93.184.216.34@127.0.0.1/",
]


class TestCheckUrl:
    @pytest.mark.parametrize("url", SSRF_CORPUS)
    async def test_corpus_is_refused(self, url: str):
        with pytest.raises(OutboundBlocked):
            await check_url(url, [])

    async def test_message_says_why(self):
        with pytest.raises(OutboundBlocked, match="resolves to a private address"):
            await check_url("http://169.254.169.254/latest/meta-data/", [])

    async def test_name_resolving_to_loopback_is_refused(self, monkeypatch: pytest.MonkeyPatch):
        async def fake(host: str, port: int) -> list[str]:
            assert host == "innocent.example"
            return ["127.0.0.1"]

        monkeypatch.setattr(outbound, "resolve", fake)
        with pytest.raises(OutboundBlocked, match=r"innocent\.example resolves to a private"):
            await check_url("https://innocent.example/cat.jpg", [])

    async def test_one_private_answer_among_public_ones_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ):
        """DNS rebinding: a public address first, 127.0.0.1 second."""

        async def fake(host: str, port: int) -> list[str]:
            return ["93.184.216.34", "127.0.0.1"]

        monkeypatch.setattr(outbound, "resolve", fake)
        with pytest.raises(OutboundBlocked, match=r"127\.0\.0\.1"):
            await check_url("http://rebind.example/", [])

    async def test_public_name_is_allowed_on_any_port(self, monkeypatch: pytest.MonkeyPatch):
        async def fake(host: str, port: int) -> list[str]:
            return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

        monkeypatch.setattr(outbound, "resolve", fake)
        await check_url("https://example.com/image.png", [])
        await check_url("http://example.com:6379/", [])

    async def test_unresolvable_name_is_refused(self, monkeypatch: pytest.MonkeyPatch):
        async def fake(host: str, port: int) -> list[str]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        monkeypatch.setattr(outbound, "resolve", fake)
        with pytest.raises(OutboundBlocked, match="could not be resolved"):
            await check_url("http://nowhere.invalid/", [])

    @pytest.mark.parametrize(
        "url",
        [
            "http://8.8.8.8/",
            "http://1.1/",
            "http://[2606:4700::1111]/",
            "http://[64:ff9b::808:808]/",
        ],
    )
    async def test_public_literals_are_allowed(self, url: str):
        await check_url(url, [])

    async def test_allow_list_exempts_host_names_and_networks(
        self, monkeypatch: pytest.MonkeyPatch
    ):
        async def fake(host: str, port: int) -> list[str]:
            return ["10.1.2.3"]

        monkeypatch.setattr(outbound, "resolve", fake)
        await check_url("http://minio.internal:9000/bucket", ["minio.internal"])
        await check_url("http://other.internal/", ["10.0.0.0/8"])
        await check_url("http://127.0.0.1:8080/", ["127.0.0.1"])
        with pytest.raises(OutboundBlocked):
            await check_url("http://other.internal/", ["minio.internal", "192.168.0.0/16"])
        with pytest.raises(OutboundBlocked):
            await check_url("http://127.0.0.2/", ["127.0.0.1"])


class TestLiteralParsing:
    @pytest.mark.parametrize(
        ("host", "expected"),
        [
            ("127.0.0.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("017700000001", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("0x7f.0.1", "127.0.0.1"),
            ("0", "0.0.0.0"),  # noqa: S104
            ("10.1", "10.0.0.1"),
        ],
    )
    def test_resolver_spellings(self, host: str, expected: str):
        assert parse_ipv4_literal(host) == ipaddress.IPv4Address(expected)

    @pytest.mark.parametrize(
        "host", ["example.com", "1.2.3.4.5", "256.1.1.1", "08", "1..2", "4294967296", ""]
    )
    def test_names_and_invalid_numbers_are_not_addresses(self, host: str):
        assert parse_ipv4_literal(host) is None

    def test_global_addresses_have_no_refusal(self):
        assert refusal_reason(ipaddress.ip_address("93.184.216.34")) is None
        assert refusal_reason(ipaddress.ip_address("169.254.169.254")) == "link-local"
        assert refusal_reason(ipaddress.ip_address("100.64.0.1")) == "carrier-grade NAT"


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        _Handler.seen.append((self.path, self.headers.get("Host")))
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if self.path == "/to-ok":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.end_headers()
            return
        body = f"host={self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def local_server() -> Iterator[int]:
    _Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class TestGuardedClient:
    async def test_loopback_server_is_refused_without_allow_list(self, local_server: int):
        async with guarded_client([]) as client:
            with pytest.raises(OutboundBlocked):
                await client.get(f"http://127.0.0.1:{local_server}/ok")
        assert _Handler.seen == []

    async def test_redirect_to_metadata_address_is_refused(self, local_server: int):
        async with guarded_client(["127.0.0.1"], follow_redirects=True) as client:
            with pytest.raises(OutboundBlocked, match=r"169\.254\.169\.254"):
                await client.get(f"http://127.0.0.1:{local_server}/to-metadata")
        # The first hop was reached; the second never left the process.
        assert [path for path, _ in _Handler.seen] == ["/to-metadata"]

    async def test_allowed_redirect_is_followed(self, local_server: int):
        async with guarded_client(["127.0.0.1"], follow_redirects=True) as client:
            response = await client.get(f"http://127.0.0.1:{local_server}/to-ok")
        assert response.status_code == 200
        assert [path for path, _ in _Handler.seen] == ["/to-ok", "/ok"]

    async def test_redirects_are_not_followed_by_default(self, local_server: int):
        async with guarded_client(["127.0.0.1"]) as client:
            response = await client.get(f"http://127.0.0.1:{local_server}/to-metadata")
        assert response.status_code == 302

    async def test_connects_to_the_checked_address_and_keeps_the_host(
        self, local_server: int, monkeypatch: pytest.MonkeyPatch
    ):
        """`pinned.test` does not exist: the request can only succeed by dialling the
        address the guard resolved, while `Host` still names the original host."""
        lookups: list[str] = []

        async def fake(host: str, port: int) -> list[str]:
            lookups.append(host)
            return ["127.0.0.1"]

        monkeypatch.setattr(outbound, "resolve", fake)
        async with guarded_client(["127.0.0.0/8"]) as client:
            response = await client.get(f"http://pinned.test:{local_server}/ok")
        assert response.text == f"host=pinned.test:{local_server}"
        assert lookups == ["pinned.test"]

    async def test_name_resolving_to_loopback_never_connects(
        self, local_server: int, monkeypatch: pytest.MonkeyPatch
    ):
        async def fake(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        monkeypatch.setattr(outbound, "resolve", fake)
        async with guarded_client([]) as client:
            with pytest.raises(OutboundBlocked, match="private address"):
                await client.get(f"http://evil.test:{local_server}/ok")
        assert _Handler.seen == []
