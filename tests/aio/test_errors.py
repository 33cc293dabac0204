"""Bad input through a FramedReader, on each core and event loop: oversize frames
(FrameTooLarge once, the frame skipped, later frames delivered, also when it arrives
over many reads) and a sticky ProtocolError."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import fastframe as ff
from fastframe.errors import FrameTooLarge, ProtocolError
from tests.aio.frames import HOW, OVERSIZE_FRAMERS, PROTOCOL_ERRORS, collect, drain_frames, oversize_stream
from tests.aio.peers import raw_peer
from tests.aio.running import run
from tests.support.calls import E, F
from tests.support.sockets import MiB
from tests.support.wire import oversize_frame, wire_of

# -- oversize frames and protocol errors ------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("framer", OVERSIZE_FRAMERS, ids=repr)
def test_oversize_frames_skipped_in_one_read(impl: Any, loop_kind: str, tls: bool, framer: Any, how: str) -> None:
    """Good, oversize, good, good, oversize, oversize, good frames in the reader's
    first read, then the peer goes quiet: every good frame before, FrameTooLarge
    (.size, .max_size), the good frames after, ... all without another byte
    arriving; then the peer's EOF is a clean ConnectionClosed."""
    pieces = oversize_stream(framer)
    wire = b"".join(w for w, _ in pieces)
    expected = [e for _, e in pieces]

    async def main() -> None:
        async with raw_peer(impl.bind(framer), presend=wire, tls=tls) as (reader, writer, peer):
            assert await collect(reader, how, len(expected)) == expected
            await peer.shutdown_write()
            assert await drain_frames(reader, how) == []

    run(loop_kind, main)


def test_frame_too_large_attributes(impl: Any, loop_kind: str, tls: bool) -> None:
    """The exception recv() raises is a FrameTooLarge (a ValueError) with .size and
    .max_size; the frame after it follows."""

    async def main() -> None:
        framer = impl.bind(ff.LengthPrefixed(4, max_size=100))
        async with raw_peer(framer, presend=b"\x00\x00\x00\x65" + b"z" * 101 + b"\x00\x00\x00\x02ok", tls=tls) as (reader, _, _p):
            with pytest.raises(FrameTooLarge) as info:
                await reader.recv()
            assert isinstance(info.value, ValueError)
            assert (info.value.size, info.value.max_size) == (101, 100)
            assert await reader.recv() == b"ok"

    run(loop_kind, main)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("pieces", ["one write", "64 KiB writes"])
def test_large_oversize_frame_across_many_reads(impl: Any, loop_kind: str, tls: bool, pieces: str, how: str) -> None:
    """A 3 MiB frame over max_size (1000) arriving over many reads: FrameTooLarge
    after the frame before it, the body is skipped, the frames after it come out
    (sent in the same write, or after it), then a clean EOF."""
    framer = impl.bind(ff.LengthPrefixed(4, max_size=1000))
    body = 3 * MiB
    before, after = wire_of(framer, [b"before"])[0], wire_of(framer, [b"after", b"x" * 1000])[0]
    wire = before + oversize_frame(framer, body) + after
    expected = [F(b"before"), E(FrameTooLarge(body, 1000)), F(b"after"), F(b"x" * 1000)]

    async def main() -> None:
        async with raw_peer(framer, kind="tcp", tls=tls) as (reader, writer, peer):
            if pieces == "one write":
                chunks = [wire]
            else:
                chunks = [wire[i : i + 64 * 1024] for i in range(0, len(wire), 64 * 1024)]
            sender = asyncio.ensure_future(peer.send_chunks(chunks, pause=0))
            assert await collect(reader, how, len(expected)) == expected
            await sender
            await peer.shutdown_write()
            assert await drain_frames(reader, how) == []

    run(loop_kind, main)


@pytest.mark.parametrize(("framer", "good", "bad", "message"), PROTOCOL_ERRORS, ids=[repr(c[2]) for c in PROTOCOL_ERRORS])
def test_protocol_error_is_sticky(impl: Any, loop_kind: str, tls: bool, framer: Any, good: bytes, bad: bytes, message: str) -> None:
    """The frames before a malformed one, then ProtocolError from every later call
    (recv, recv_many, async for), also after the peer sends good frames and closes."""
    framer = impl.bind(framer)

    async def main() -> None:
        async with raw_peer(framer, presend=good + bad, tls=tls) as (reader, writer, peer):
            assert await reader.recv() == b"a"
            for _ in range(2):
                for call in (reader.recv, reader.recv_many):
                    with pytest.raises(ProtocolError) as info:
                        await call()
                    assert info.value.args == (message,)
                with pytest.raises(ProtocolError):
                    async for _frame in reader:
                        raise AssertionError("a frame after a ProtocolError")
                await peer.send(good * 3)
            await peer.shutdown_write()
            for _ in range(20):
                await asyncio.sleep(0.001)
            with pytest.raises(ProtocolError) as info:
                await reader.recv()
            assert info.value.args == (message,)

    run(loop_kind, main)
