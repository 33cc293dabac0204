"""TLS on the aio streams, on each core and event loop: no warning from the event
loop at the end of a TLS stream, and write_eof() where TLS cannot half-close."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

import fastframe as ff
from tests.aio.frames import drain_frames
from tests.aio.peers import handled, raw_peer, serving
from tests.aio.running import run
from tests.support.wire import wire_of

# -- the end of a TLS stream, without a warning --------------------------------------------------------------------


def asyncio_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("ending", ["close_notify", "bare FIN"])
def test_peer_ends_without_a_warning(
    impl: Any, loop_kind: str, ending: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The peer ends a TLS stream between frames, with close_notify (and its FIN)
    or a bare FIN: the reader gets every frame, then ConnectionClosed, and the
    event loop logs no warning.  (eof_received() used to return True, which keeps
    a plain transport open for the reply; asyncio and uvloop then logged
    "returning true from eof_received() has no effect when using ssl" at the end
    of every TLS connection.)"""
    framer = impl.bind(ff.Lines())

    async def main() -> None:
        async with raw_peer(framer, tls=True) as (reader, writer, peer):
            await peer.send(b"one\ntwo\n")
            if ending == "close_notify":
                await peer.shutdown_write()
            else:
                peer.sock.shutdown(socket.SHUT_WR)
            assert await drain_frames(reader, "recv") == [b"one", b"two"]

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(loop_kind, main)
    assert asyncio_warnings(caplog) == []


def test_server_sees_the_end_without_a_warning(impl: Any, loop_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    """A TLS server's reader meets the client's close (close_notify) after its
    frames: every frame, then the end of its loop, and no warning logged."""
    framer = impl.bind(ff.Netstring())

    async def main() -> None:
        cb, done = handled(lambda reader, writer: drain_frames(reader, "iter"))
        async with serving("tcp", cb, framer, tls=True) as connect:
            reader, writer = await connect()
            writer.send_many([b"a", b"b"])
            writer.close()
            assert await done == [b"a", b"b"]
            await writer.wait_closed()

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(loop_kind, main)
    assert asyncio_warnings(caplog) == []


# -- write_eof ------------------------------------------------------------------------------------------------------


def test_write_eof_over_tls(impl: Any, loop_kind: str, tls: bool) -> None:
    """What the peer sees of write_eof().  Plain: the end of the stream after the
    frames sent, and the reader goes on reading the peer's reply.  TLS, which
    asyncio's and uvloop's transports cannot half-close (can_write_eof() is False):
    NotImplementedError saying so, and nothing reaches the peer but the frames:
    the connection goes on, and close() ends it with close_notify."""
    framer = impl.bind(ff.LengthPrefixed(2))
    before, after = wire_of(framer, [b"before"])[0], wire_of(framer, [b"after"])[0]

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            writer.send(b"before")
            assert writer.can_write_eof() is not tls
            if not tls:
                writer.write_eof()
                assert await peer.read_all() == before
                await peer.send(wire_of(framer, [b"reply"])[0])
                assert await reader.recv() == b"reply"
                return
            with pytest.raises(NotImplementedError) as info:
                writer.write_eof()
            assert "write_eof() cannot half-close over TLS" in str(info.value)
            assert not writer.is_closing()
            await peer.send(wire_of(framer, [b"reply"])[0])
            assert await reader.recv() == b"reply"
            writer.send(b"after")
            writer.close()
            assert await peer.read_all() == before + after
            assert peer.tls.closed  # close_notify, not a bare FIN

    run(loop_kind, main)
