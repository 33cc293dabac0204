"""Bad input through a FramedStream, on each core and backend, over TCP and TLS:
oversize frames (FrameTooLarge once, the frame skipped, the next frames
delivered, also when it arrives over many reads, holding no more than a read
meanwhile) and a final ProtocolError.  (The fault matrix, test_faults.py, meets
them over AF_UNIX too.)"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import fastframe as ff
from fastframe.anyio import READ_SIZE
from fastframe.errors import FrameTooLarge, ProtocolError
from tests.aio.frames import OVERSIZE_FRAMERS, PROTOCOL_ERRORS, oversize_stream
from tests.anyio.frames import HOW, collect, drain, one
from tests.anyio.peers import Transport, over_tcp_and_tls
from tests.support.calls import E, F
from tests.support.sockets import MiB
from tests.support.wire import oversize_frame, wire_of

pytestmark = pytest.mark.anyio


@over_tcp_and_tls
@pytest.mark.parametrize("framer", OVERSIZE_FRAMERS, ids=repr)
async def test_oversize_frames_skipped(impl: Any, transport: Transport, framer: Any) -> None:
    """Good, oversize, good, good, oversize, oversize, good frames in one write,
    read each way: every good frame before, FrameTooLarge (.size, .max_size)
    once, the good frames after, ...; then the peer's end is a clean end."""
    pieces = oversize_stream(framer)
    wire = b"".join(w for w, _ in pieces)
    expected = [e for _, e in pieces]
    for how in HOW:
        async with transport.raw(impl.bind(framer)) as (stream, peer):
            await peer.send(wire)
            assert await collect(stream, how, len(expected)) == expected, how
            await peer.send_eof()
            assert await drain(stream, how) == []


@over_tcp_and_tls
async def test_frame_too_large_attributes(impl: Any, transport: Transport) -> None:
    """What receive() raises is a FrameTooLarge, a ValueError, with .size and
    .max_size; the frame after it follows."""
    framer = impl.bind(ff.LengthPrefixed(4, max_size=100))
    async with transport.raw(framer) as (stream, peer):
        await peer.send(b"\x00\x00\x00\x65" + b"z" * 101 + b"\x00\x00\x00\x02ok")
        with pytest.raises(FrameTooLarge) as info:
            await stream.receive()
        assert isinstance(info.value, ValueError)
        assert (info.value.size, info.value.max_size) == (101, 100)
        assert await stream.receive() == b"ok"


@over_tcp_and_tls
@pytest.mark.parametrize("how", HOW)
async def test_large_oversize_frame_across_many_reads(impl: Any, transport: Transport, how: str) -> None:
    """A 3 MiB frame over max_size (1000) arriving over many reads (64 KiB writes,
    the frames after it in the last): FrameTooLarge after the frame before it, the
    body skipped (the stream holds no more than one read meanwhile), the frames
    after it, then a clean end."""
    framer = impl.bind(ff.LengthPrefixed(4, max_size=1000))
    body = 3 * MiB
    before, after = wire_of(framer, [b"before"])[0], wire_of(framer, [b"after", b"x" * 1000])[0]
    wire = before + oversize_frame(framer, body) + after
    expected = [F(b"before"), E(FrameTooLarge(body, 1000)), F(b"after"), F(b"x" * 1000)]
    chunks = [wire[i : i + 64 * 1024] for i in range(0, len(wire), 64 * 1024)]
    async with transport.raw(framer) as (stream, peer), anyio.create_task_group() as tg:

        async def send() -> None:
            await peer.send_chunks(chunks, pause=0)
            await peer.send_eof()

        tg.start_soon(send)
        events: list[tuple] = []
        while len(events) < len(expected):
            events += await collect(stream, how, 1)
            assert stream.buffered <= READ_SIZE
        assert events == expected
        assert await drain(stream, how) == []


@over_tcp_and_tls
@pytest.mark.parametrize(("framer", "good", "bad", "message"), PROTOCOL_ERRORS, ids=[repr(c[2]) for c in PROTOCOL_ERRORS])
async def test_protocol_error_is_final(impl: Any, transport: Transport, framer: Any, good: bytes, bad: bytes, message: str) -> None:
    """The frames before a malformed one, then ProtocolError from every later call
    (receive, receive_many, async for), also after the peer sends good frames and
    ends the stream."""
    framer = impl.bind(framer)
    async with transport.raw(framer) as (stream, peer):
        await peer.send(good + bad)
        assert await stream.receive() == b"a"
        for _ in range(2):
            for how in ("receive", "receive_many"):
                with pytest.raises(ProtocolError) as info:
                    await one(stream, how)
                assert info.value.args == (message,)
            with pytest.raises(ProtocolError):
                async for _frame in stream:
                    raise AssertionError("a frame after a ProtocolError")
            await peer.send(good * 3)
        await peer.send_eof()
        await anyio.sleep(0.02)
        with pytest.raises(ProtocolError) as info:
            await stream.receive()
        assert info.value.args == (message,)
