"""The fault matrix (tests/support/faults.py, as tests/sockets/test_faults.py runs
it for FramedSocket and the aio reader) for FramedStream: every fault of the
table (a reset, a stall, a half-close inside a header, a body or a delimiter and
between frames, garbage headers, oversize frames, one-byte writes; inside 160
KiB frames too) met by every framer of it, over TCP and AF_UNIX, on each core
and backend.  Each case checks the frames before the fault delivered once and
in order, the exact outcome under anyio's names (a clean end: EndOfStream, or
``async for`` ending; a stall: ``fail_after``'s TimeoutError, losing nothing,
with ``stream.buffered`` holding exactly the unfinished frame; a reset:
BrokenResourceError from the ConnectionResetError; FrameTooLarge,
ProtocolError, IncompleteFrame with their exact args), what comes after it, and
that a stream whose peer half-closed can still reply.

The stream's event loop runs in a thread behind anyio's blocking portal while
the misbehaving peer is a blocking socket in another (faults.play).  It runs on
asyncio's default loop, read by receive_many, and on trio, read by ``async
for``: the matrix takes some 10 ms a cell, and each further pair (uvloop; the
other style on a backend) would add a third of the anyio suite's time for
little, the style being how frames are taken out of the same FramedSocket loop
and uvloop a transport of anyio's asyncio backend (test_eof.py, test_errors.py
and test_cancellation.py run their faults on uvloop too, and read every way on
every backend).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest
from anyio.abc import SocketAttribute

from tests.support.faults import AnyioReceiver, Case, cells, play_case
from tests.support.sockets import IO_TIMEOUT, listener

# ((backend, its options), the style it reads in)
BACKEND_STYLES = [
    pytest.param(("asyncio", {}), "anyio-receive_many", id="asyncio-receive_many"),
    pytest.param(("trio", {}), "anyio-iter", id="trio-iter"),
]


@pytest.fixture(scope="module")
def portal(request: pytest.FixtureRequest) -> Iterator[anyio.from_thread.BlockingPortal]:
    """A backend's event loop in a thread (one per backend and module: each case
    makes its own connection on it)."""
    name, options = request.param
    with anyio.from_thread.start_blocking_portal(name, options) as portal:
        yield portal


async def connect(kind: str, address: Any) -> Any:
    with anyio.fail_after(IO_TIMEOUT):
        if kind == "unix":
            return await anyio.connect_unix(address)
        return await anyio.connect_tcp(*address)


def connected(portal: anyio.from_thread.BlockingPortal, kind: str, directory: Path) -> tuple[Any, socket.socket]:
    """An anyio stream connected (anyio.connect_tcp / connect_unix) to a plain
    blocking socket, the peer's end."""
    lst, address = listener(kind, directory)
    with lst:
        stream = portal.call(connect, kind, address)
        lst.settimeout(IO_TIMEOUT)
        theirs, _ = lst.accept()
    theirs.settimeout(None)
    if kind == "tcp4":
        theirs.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return stream, theirs


@pytest.mark.parametrize(("portal", "style"), BACKEND_STYLES, indirect=["portal"], scope="module")
@pytest.mark.parametrize(("case", "kind"), cells(tls=False))
def test_framed_stream_meets_the_fault(
    impl: Any, portal: anyio.from_thread.BlockingPortal, style: str, case: Case, kind: str, tmp_path: Path
) -> None:
    """A FramedStream meets the case's fault: its phases, exactly, and the reply."""
    stream, theirs = connected(portal, kind, tmp_path)
    raw = stream.extra(SocketAttribute.raw_socket)
    # the same socket, for the peer to see its bytes arrive (recv with MSG_PEEK);
    # non-blocking, as the event loop has it (the flag is the socket's, not the
    # descriptor's: were this one blocking, a recv of the loop's would block it)
    ours = socket.fromfd(raw.fileno(), raw.family, raw.type)
    ours.setblocking(False)
    try:

        def receiver(on_frames: Any) -> AnyioReceiver:
            return AnyioReceiver(impl.bind(case.framer), stream, portal, style, on_frames)

        play_case(case, style, ours, theirs, receiver)
    finally:
        ours.close()
        theirs.close()
        portal.call(anyio.aclose_forcefully, stream)
