"""The fixtures of the anyio tests (with ``impl``, each core, from tests/conftest.py).

``anyio_backend``: every anyio test runs on asyncio's default loop, on uvloop
(skipped, with the reason, where uvloop cannot be imported) and on trio.  A test
module whose subject does not depend on the backend may narrow it with its own
``anyio_backend`` fixture, saying why.

``transport``: "tcp", "unix", "tls"; a peers.Transport, whose ``raw``,
``framed`` and ``threaded`` make a connected pair (see peers.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.anyio.peers import Transport
from tests.support.platforms import requires_unix_sockets

try:
    import uvloop  # noqa: F401 - only whether it imports
except ImportError as exc:
    UVLOOP_MISSING: str | None = f"uvloop cannot be imported: {exc}"
else:
    UVLOOP_MISSING = None

BACKENDS = [
    pytest.param("asyncio", id="asyncio"),
    pytest.param(
        ("asyncio", {"use_uvloop": True}),
        id="uvloop",
        marks=pytest.mark.skipif(UVLOOP_MISSING is not None, reason=str(UVLOOP_MISSING)),
    ),
    pytest.param("trio", id="trio"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture(params=["tcp", pytest.param("unix", marks=requires_unix_sockets), "tls"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return Transport(request.param)

