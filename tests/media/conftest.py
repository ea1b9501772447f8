from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from polypost.core.runtime import Runtime
from tests.fixtures.factories import Tenant, make_tenant
from tests.media.helpers import Origin, origin_handler
from tests.media.samples import make_mp4


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime, "media-co")


@pytest.fixture(scope="session")
def mp4_sample(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_mp4(tmp_path_factory.mktemp("video") / "clip.mp4", seconds=1.5)


@pytest.fixture
def origin() -> Iterator[Origin]:
    holder = Origin(port=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), origin_handler(holder))
    holder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder
    server.shutdown()
    server.server_close()
