"""A real webhook receiver on 127.0.0.1 (a thread running http.server), plus helpers.

It answers from a queue of planned responses (status, body, headers, delay) or from a
`decide` callback, and records every request as it arrives, before answering.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from standardwebhooks import Webhook as Verifier

from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.events.outbox import record_event


@dataclass
class Plan:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float
    answered: float | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        """Check the signature with the reference Standard Webhooks library."""
        return Verifier(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.plans: deque[Plan] = deque()
        self.decide: Callable[[Received], Plan] | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                got = Received(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                    arrived=time.monotonic(),
                )
                plan = receiver._plan_for(got)
                if plan.delay:
                    time.sleep(plan.delay)
                try:
                    self.send_response(plan.status)
                    for name, value in plan.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(plan.body)))
                    self.end_headers()
                    self.wfile.write(plan.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up (timeout): that is the point of the test
                got.answered = time.monotonic()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _plan_for(self, got: Received) -> Plan:
        with self._lock:
            self.requests.append(got)
            if self.decide is not None:
                return self.decide(got)
            return self.plans.popleft() if self.plans else Plan()

    def respond(self, *plans: Plan) -> None:
        self.plans.extend(plans)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.requests]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def create_endpoint(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    url: str,
    **fields: Any,
) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", headers=headers, json={"url": url, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def record(
    runtime: Runtime,
    workspace_id: str,
    type_: str,
    data: dict[str, Any] | None = None,
    *,
    resource_id: str | None = None,
) -> str:
    """Record an event as the publishing engine will: inside a committed transaction."""
    async with runtime.sessions() as session:
        event = record_event(session, workspace_id, type_, data or {}, resource_id=resource_id)
        await session.commit()
        return event.id


def later(**delta: float) -> datetime:
    """A clock ahead of now, for claiming what is due by then."""
    return utcnow() + timedelta(**delta)
