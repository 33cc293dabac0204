"""The fixtures of the anyio tests (with ``impl``, each core, from tests/conftest.py).

``anyio_backend``: every anyio test runs on asyncio's default loop, on uvloop
(skipped, with the reason, where uvloop cannot be imported) and on trio.  A test
module whose subject does not depend on the backend may narrow it with its own
``anyio_backend`` fixture, saying why.

``transport``: "tcp", "unix", "tls"; a peers.Transport, whose ``raw``,
``framed`` and ``threaded`` make a connected pair (see peers.py).  A test whose
subject is the bytes the stream decodes, not how they arrive, narrows it with
peers.over_tcp_and_tls (TLS delivers them a record at a time; a Unix socket as
TCP does) or peers.over_tcp (the subject is an argument's check or the API's
own).

Every wait of a test is bounded by ``fail_after`` (10 s), which cannot stop a
loop that never yields (one in C): a test still running after 60 s ends the run,
with every thread's traceback, instead of leaving it hanging.
"""

from __future__ import annotations

import faulthandler
from collections.abc import Iterator
from typing import Any

import pytest

from tests.anyio.peers import BACKENDS, Transport
from tests.support.platforms import requires_unix_sockets


@pytest.fixture(scope="module", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture(params=["tcp", pytest.param("unix", marks=requires_unix_sockets), "tls"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return Transport(request.param)



@pytest.fixture(autouse=True)
def a_hang_ends_the_run() -> Iterator[None]:
    faulthandler.dump_traceback_later(60, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
