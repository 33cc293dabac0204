"""Tests of fastframe.anyio (src/fastframe/anyio.py): FramedStream, connect_tcp and
connect_unix, on each core and on each of anyio's backends (asyncio's default
loop, uvloop, trio), over TCP on 127.0.0.1, AF_UNIX paths and TLS (anyio's
TLSStream, certificates from tests/support/certs.py).

The fixtures are in conftest.py: ``impl`` (each core, tests/conftest.py),
``anyio_backend`` (each backend: the anyio pytest plugin runs every test on it)
and ``transport`` (each transport: a connected pair, the test's end a
FramedStream, the other a FramedStream, a raw anyio stream driven by hand
(peers.RawPeer: the exact bytes, their splits, a half-close, a reset), or a
FramedSocket in a thread).  Every connection's test runs under a 10 s
``fail_after`` (a bug fails, it never hangs); the wire bytes a test expects come
from tests/support/wire.py, never from the encoders under test; the cases come
from the tables the aio suite uses (tests/aio/frames.py, tests/support/).
"""
