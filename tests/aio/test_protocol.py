"""FramedProtocol subclasses on an event loop: frame_received order,
behind a server, frames_received batches, the default framing_error (abort), a
framing_error that returns (decoding goes on), IncompleteFrame at EOF, a subclass
without frame_received, and a framer required."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from typing import Any

import pytest

import fastframe as ff
from fastframe.errors import FrameTooLarge, IncompleteFrame
from tests.aio.frames import OVERSIZE_FRAMERS, oversize_stream
from tests.aio.peers import KINDS, connect_peer, protocol_peer, server_tls
from tests.aio.protocols import Recorder, Watched
from tests.aio.running import _describe, run, until
from tests.support.calls import E, F, split
from tests.support.wire import wire_of

# -- FramedProtocol subclasses ------------------------------------------------------------------------------------


def test_protocol_frame_received_order(impl: Any, loop_kind: str, tls: bool) -> None:
    """frame_received gets each frame, in order, across reads; at the peer's EOF
    eof_received returns None and the transport closes (connection_lost(None))."""
    framer = impl.bind(ff.Netstring())
    items = [b"p%d" % i * (i % 5) for i in range(300)]
    wire, frames = wire_of(framer, items)

    async def main() -> None:
        proto = Recorder(framer)
        async with protocol_peer(proto, tls=tls) as (transport, peer):
            assert proto.transport is transport
            await peer.send_chunks(split(wire, range(0, len(wire), 333)))
            await peer.shutdown_write()
            assert await proto.lost is None
            assert proto.events == [F(f) for f in frames]
            assert transport.is_closing()

    run(loop_kind, main)


@pytest.mark.parametrize("kind", KINDS)
def test_protocol_on_a_server(impl: Any, loop_kind: str, tls: bool, kind: str) -> None:
    """A FramedProtocol subclass behind loop.create_server (TCP) or
    loop.create_unix_server (with ssl= for TLS) gets a client's frames."""
    framer = impl.bind(ff.VarintPrefixed())
    protos: list[Recorder] = []
    wire, frames = wire_of(framer, [b"x" * i for i in range(200)])

    async def main() -> None:
        directory = tempfile.mkdtemp(prefix="ffa")
        path = os.path.join(directory, "s")
        loop = asyncio.get_running_loop()
        factory = lambda: protos.append(Recorder(framer)) or protos[-1]  # noqa: E731
        if kind == "tcp":
            server = await loop.create_server(factory, "127.0.0.1", 0, **server_tls(tls))
        else:
            server = await loop.create_unix_server(factory, path, **server_tls(tls))
        try:
            address = server.sockets[0].getsockname()[:2] if kind == "tcp" else path
            peer = await connect_peer(address, tls=tls)
            await peer.send(wire)
            await peer.shutdown_write()
            await until(lambda: bool(protos) and protos[0].lost is not None)
            assert await protos[0].lost is None  # type: ignore[misc]
            assert protos[0].frames == frames
            peer.close()
        finally:
            server.close()
            await server.wait_closed()
            shutil.rmtree(directory, ignore_errors=True)

    run(loop_kind, main)


class Batches(Recorder):
    def __init__(self, framer: Any) -> None:
        super().__init__(framer)
        self.batches: list[list[bytes]] = []

    def frames_received(self, frames: list[bytes]) -> None:
        self.batches.append(list(frames))

    def frame_received(self, frame: bytes) -> None:
        raise AssertionError("frame_received() called though frames_received() is overridden")


def test_protocol_frames_received_gets_whole_batches(impl: Any, loop_kind: str, tls: bool) -> None:
    """An override of frames_received gets every frame one read completed as one
    list: 100 frames already waiting are one batch; later writes give further
    batches; frame_received is not called."""
    framer = impl.bind(ff.LengthPrefixed(1))
    first = [b"%d" % i for i in range(100)]
    later = [[b"a", b"b"], [b"c"], [b"d", b"e", b"f"]]

    async def main() -> None:
        proto = Batches(framer)
        async with protocol_peer(proto, presend=wire_of(framer, first)[0], tls=tls) as (transport, peer):
            await until(lambda: len(proto.batches) >= 1)
            assert proto.batches == [first]
            for n, batch in enumerate(later, 2):
                await peer.send(wire_of(framer, batch)[0])
                await until(lambda: len(proto.batches) >= n)  # noqa: B023 - awaited here
            assert proto.batches == [first, *later]

    run(loop_kind, main)


class Plain(Watched):
    """Implements frame_received only: framing_error is the default (abort)."""

    def __init__(self, framer: Any) -> None:
        super().__init__(framer)
        self.frames: list[bytes] = []

    def frame_received(self, frame: bytes) -> None:
        self.frames.append(frame)


@pytest.mark.parametrize(
    ("framer", "stream"),
    [
        (ff.Netstring(), b"1:a,2:bc,x:1:d,"),  # ProtocolError
        (ff.LengthPrefixed(1, max_size=4), b"\x01a\x02bc\x09123456789\x01d"),  # FrameTooLarge
    ],
    ids=["ProtocolError", "FrameTooLarge"],
)
def test_protocol_default_framing_error_aborts(impl: Any, loop_kind: str, tls: bool, framer: Any, stream: bytes) -> None:
    """By default bad input aborts the connection after the frames before it were
    delivered; nothing after it is delivered; the peer sees the connection end."""

    async def main() -> None:
        proto = Plain(impl.bind(framer))
        async with protocol_peer(proto, presend=stream, tls=tls) as (transport, peer):
            assert await proto.lost is None  # type: ignore[misc]
            assert proto.frames == [b"a", b"bc"]
            assert transport.is_closing()
            try:
                assert await peer.read_all() == b""
            except ConnectionResetError:
                pass  # an abort may reset

    run(loop_kind, main)


@pytest.mark.parametrize("framer", OVERSIZE_FRAMERS, ids=repr)
def test_protocol_keeps_going_after_frame_too_large_peer_quiet(impl: Any, loop_kind: str, tls: bool, framer: Any) -> None:
    """framing_error overridden to just return: after FrameTooLarge the frames
    behind the oversize one (same read) are delivered without more bytes arriving,
    then frames sent later; the connection stays open.

    BUG (aio.py, FramedProtocol._pump): after framing_error() returns, _pump stops;
    the frames the decoder holds behind the oversize frame wait for the next read,
    so with a quiet peer they never come."""
    pieces = oversize_stream(framer)
    wire = b"".join(w for w, _ in pieces)
    expected = [e for _, e in pieces]
    more, more_frames = wire_of(framer, [b"l8r"])

    async def main() -> None:
        proto = Recorder(impl.bind(framer))
        async with protocol_peer(proto, presend=wire, tls=tls) as (transport, peer):
            # ``wire`` is the first read, handled in one callback: once anything is
            # delivered, all of it must have been
            await until(lambda: bool(proto.events))
            assert proto.events == expected
            await peer.send(more)
            await until(lambda: len(proto.events) > len(expected))
            assert proto.events == expected + [F(more_frames[0])]
            assert not transport.is_closing()

    run(loop_kind, main)


def test_protocol_keeps_going_after_frame_too_large_at_eof(impl: Any, loop_kind: str, tls: bool) -> None:
    """framing_error overridden to just return, two oversize frames in one read and
    then EOF: every good frame is delivered, none lost.

    BUG (aio.py, FramedProtocol._pump, reached from eof_received): the frame held
    behind the second oversize frame is lost at EOF ([b'a'] is delivered, b'b'
    never is)."""
    framer = impl.bind(ff.LengthPrefixed(1, max_size=3))
    stream = b"\x05xxxxx" + b"\x01a" + b"\x05yyyyy" + b"\x01b"
    too_large = E(FrameTooLarge(5, 3))

    async def main() -> None:
        proto = Recorder(framer)
        async with protocol_peer(proto, presend=stream, tls=tls) as (transport, peer):
            await peer.shutdown_write()
            assert await proto.lost is None  # type: ignore[misc]
            assert proto.events == [too_large, F(b"a"), too_large, F(b"b")]

    run(loop_kind, main)


def test_protocol_incomplete_frame_at_eof(impl: Any, loop_kind: str, tls: bool) -> None:
    """EOF inside a frame: the whole frames, then framing_error(IncompleteFrame)
    with the partial bytes and the expected size; then the connection closes."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def main() -> None:
        proto = Recorder(framer)
        async with protocol_peer(proto, presend=b"\x00\x01a\x00\x02bc\x00\x05hel", tls=tls) as (transport, peer):
            await peer.shutdown_write()
            assert await proto.lost is None  # type: ignore[misc]
            assert proto.events == [F(b"a"), F(b"bc"), E(IncompleteFrame(b"\x00\x05hel", 7))]

    run(loop_kind, main)


def test_protocol_without_frame_received(impl: Any, loop_kind: str, tls: bool) -> None:
    """A subclass that does not implement frame_received: the first frame raises
    NotImplementedError, which the loop surfaces as it does any protocol error
    (reported to its exception handler, the connection closed with it)."""

    class Forgot(Watched):
        pass

    reports: list[dict[str, Any]] = []

    async def main() -> None:
        proto = Forgot(impl.bind(ff.Lines()))
        async with protocol_peer(proto, presend=b"hello\n", tls=tls) as (transport, peer):
            lost = await proto.lost
            assert isinstance(lost, NotImplementedError), repr(lost)
            assert "Forgot must implement frame_received()" in str(lost)
            assert await peer.read_all() == b""

    run(loop_kind, main, reports=reports)
    assert [type(r.get("exception")) for r in reports] == [NotImplementedError], _describe(reports)


def test_protocol_needs_a_framer(impl: Any) -> None:
    with pytest.raises(TypeError):
        Recorder(None)
    with pytest.raises(TypeError):
        Recorder(impl.bind(ff.Lines()).decoder())
    with pytest.raises(TypeError):
        Recorder(ff.Lines)
