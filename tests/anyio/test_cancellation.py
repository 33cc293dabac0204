"""Cancelling a FramedStream's calls, on each core, backend and transport.

A waiting receive (receive_many, the raw reads) cancelled by move_on_after,
fail_after, a cancel scope cancelled from another task, or the backend's own
cancellation (asyncio's Task.cancel and wait_for, trio's move_on_after) loses
nothing: the frame it waited for, part of which may already be held, is what the
next call returns, whole.  A cancel racing a frame's arrival returns it exactly
once; timeouts again and again while frames stream in lose none.  A send
cancelled part-way (a big frame, a peer that does not read) leaves the stream
broken: every later send raises anyio.BrokenResourceError, and the peer never
gets bytes of a later frame after the cut one; receiving goes on.  One cancelled
before it starts sends nothing and breaks nothing.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import anyio
import pytest

import fastframe as ff
from fastframe.anyio import FramedStream
from tests.anyio.frames import backend_name, one
from tests.anyio.peers import RawPeer, Transport
from tests.support.wire import wire_of

pytestmark = pytest.mark.anyio

# each waiting call, and how the bytes it waits for end (an unfinished frame is
# held when it is cancelled)
CALLS = {
    "receive": (lambda s: s.receive(), ff.LengthPrefixed(2)),
    "receive_many": (lambda s: s.receive_many(), ff.LengthPrefixed(2)),
    "receive_exactly": (lambda s: s.receive_exactly(9), ff.LengthPrefixed(2)),
    "receive_until": (lambda s: s.receive_until(b"\r\n"), ff.LengthPrefixed(2)),
}


def expected_of(name: str, i: int) -> tuple[bytes, bytes]:
    """What the peer sends for call ``name``'s i-th round, and what the call returns
    (LengthPrefixed(2) frames; raw reads of the same bytes)."""
    payload = b"frame %d" % i
    if name == "receive_until":
        return payload + b"\r\n", payload
    wire = wire_of(ff.LengthPrefixed(2), [payload])[0]
    return wire, (wire if name == "receive_exactly" else payload)


@pytest.mark.parametrize("name", list(CALLS))
async def test_move_on_after_loses_nothing(impl: Any, transport: Transport, name: str) -> None:
    """A waiting call cancelled by move_on_after, with the first bytes of what it
    waits for already held, then by fail_after with nothing held: the bytes sent
    afterwards complete it, and the next call returns it whole."""
    call, framer = CALLS[name]
    async with transport.raw(impl.bind(framer)) as (stream, peer):
        for i in range(2):
            wire, expected = expected_of(name, i)
            await peer.send(wire[:3])
            with anyio.move_on_after(0.01) as scope:
                await call(stream)
            assert scope.cancelled_caught
            assert stream.buffered == 3
            with pytest.raises(TimeoutError):
                with anyio.fail_after(0.005):
                    await call(stream)
            await peer.send(wire[3:])
            got = await call(stream)
            assert (got if name != "receive_many" else got[0]) == expected


async def test_cancel_scope_cancelled_from_another_task(impl: Any, transport: Transport) -> None:
    """A task's receive, waiting, is cancelled by another task cancelling its task
    group: the frame sent afterwards is the next receive's."""
    framer = impl.bind(ff.LengthPrefixed(2))
    async with transport.raw(framer) as (stream, peer):
        for i in range(2):
            got: list[bytes] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(one_into, stream, got)
                await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
            assert got == []
            await peer.send(wire_of(framer, [b"frame %d" % i])[0])
            assert await stream.receive() == b"frame %d" % i


async def one_into(stream: FramedStream, into: list[bytes]) -> None:
    into += await one(stream, "receive")


async def test_the_backends_own_cancellation(impl: Any, transport: Transport, anyio_backend: Any) -> None:
    """The backend's native cancellation of a waiting receive loses nothing either:
    asyncio's Task.cancel() and wait_for() timing out, trio's move_on_after and a
    cancelled trio.CancelScope."""
    framer = impl.bind(ff.LengthPrefixed(2))
    async with transport.raw(framer) as (stream, peer):
        for i in range(2):
            if backend_name(anyio_backend) == "trio":
                import trio

                with trio.move_on_after(0.01) as timed_out:
                    await stream.receive()
                assert timed_out.cancelled_caught
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await stream.receive_many()
                assert scope.cancelled_caught
            else:
                task = asyncio.ensure_future(stream.receive())
                await asyncio.sleep(0.01)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(stream.receive_many(), 0.01)
            await peer.send(wire_of(framer, [b"frame %d" % i])[0])
            assert await stream.receive() == b"frame %d" % i


@pytest.mark.parametrize("how", ["receive", "receive_many"])
async def test_cancel_racing_a_frame(impl: Any, transport: Transport, how: str) -> None:
    """The cancel lands before, while or after the frame's bytes are read (every
    interleaving of a few scheduling points): the frame is returned either by the
    cancelled call or by the next one, exactly once."""
    framer = impl.bind(ff.LengthPrefixed(2))
    async with transport.raw(framer) as (stream, peer):
        sent: list[bytes] = []
        got: list[bytes] = []
        for before in range(3):
            for after in range(5):
                payload = b"%d-%d" % (before, after)
                taken: list[bytes] = []
                async with anyio.create_task_group() as tg:

                    async def receive(into: list[bytes] = taken) -> None:
                        into += await one(stream, how)

                    tg.start_soon(receive)
                    for _ in range(before):
                        await anyio.sleep(0)
                    await peer.send(wire_of(framer, [payload])[0])
                    sent.append(payload)
                    for _ in range(after):
                        await anyio.sleep(0)
                    tg.cancel_scope.cancel()
                got += taken or await one(stream, how)
        assert got == sent


@pytest.mark.parametrize("how", ["receive", "receive_many"])
async def test_timeouts_while_frames_stream(impl: Any, transport: Transport, how: str) -> None:
    """A consumer calling receive under move_on_after(a tiny timeout) in a loop while
    200 frames stream in (every 20 the producer waits for the consumer to catch up,
    then pauses, so that timeouts happen, however loaded the machine): every frame
    is received exactly once, in order."""
    framer = impl.bind(ff.LengthPrefixed(2))
    sent = [b"%d" % i for i in range(200)]
    got: list[bytes] = []

    async def produce(peer: RawPeer) -> None:
        for i, payload in enumerate(sent):
            await peer.send(wire_of(framer, [payload])[0])
            if i % 20 == 19:
                while len(got) <= i:
                    await anyio.sleep(0.001)
                await anyio.sleep(0.002)

    async with transport.raw(framer) as (stream, peer), anyio.create_task_group() as tg:
        tg.start_soon(produce, peer)
        timeouts = 0
        while len(got) < len(sent):
            with anyio.move_on_after(0.0002) as scope:
                got += await one(stream, how)
            timeouts += scope.cancelled_caught
        assert got == sent
        assert timeouts > 0  # the race was run


async def test_a_send_cancelled_before_it_starts_breaks_nothing(impl: Any, transport: Transport) -> None:
    """send and send_many in a scope already cancelled raise the cancellation
    before a byte is written: nothing reaches the peer, and the stream is not
    broken (the next send goes out, alone)."""
    framer = impl.bind(ff.Lines())
    async with transport.raw(framer) as (stream, peer):
        for call in (lambda: stream.send(b"never"), lambda: stream.send_many([b"never", b"sent"])):
            with anyio.CancelScope() as scope:
                scope.cancel()
                await call()
            assert scope.cancelled_caught
        await stream.send(b"sent")
        assert await peer.receive_exactly(5) == b"sent\n"


BIG = 2 * 1024 * 1024


def shrink_buffers(stream: FramedStream, peer: RawPeer) -> None:
    """Small kernel buffers both ways (no autotuning): a big send cannot all fit."""
    stream.extra(anyio.abc.SocketAttribute.raw_socket).setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    peer.stream.extra(anyio.abc.SocketAttribute.raw_socket).setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)


@pytest.mark.parametrize("how", ["send", "send_many"])
async def test_send_cancelled_part_way_breaks_the_stream(impl: Any, transport: Transport, how: str) -> None:
    """A 2 MiB frame sent to a peer that does not read (64 KiB socket buffers), cancelled by move_on_after:
    every later send and send_many raises BrokenResourceError, and sends nothing;
    what the peer gets is a prefix of that frame's wire bytes (never a byte of a
    later frame: the stream is broken, not corrupted); receiving goes on (over
    TLS it cannot: anyio's TLSStream breaks the session both ways)."""
    framer = impl.bind(ff.LengthPrefixed(4))
    big = bytes(range(256)) * (BIG // 256)
    wire = wire_of(framer, [big])[0]
    async with transport.raw(framer) as (stream, peer):
        shrink_buffers(stream, peer)
        with anyio.move_on_after(0.05) as scope:
            await (stream.send(big) if how == "send" else stream.send_many([b"first", big]))
        assert scope.cancelled_caught, "the kernel took 2 MiB: the send was never cut"
        for _ in range(2):
            with pytest.raises(anyio.BrokenResourceError, match="cancelled part-way.*close it"):
                await stream.send(b"later")
            with pytest.raises(anyio.BrokenResourceError, match="cancelled part-way.*close it"):
                await stream.send_many([b"later"])
        if transport.tls:  # anyio's TLSStream: a send cut part-way breaks the session both ways
            with pytest.raises(anyio.BrokenResourceError):
                await stream.receive()
        else:
            await peer.send(wire_of(framer, [b"still receiving"])[0])
            assert await stream.receive() == b"still receiving"
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.aclose_forcefully, stream)
            received = await peer.read_all()
    if how == "send_many":
        first = wire_of(framer, [b"first"])[0]
        assert received[: len(first)] == first
        received = received[len(first) :]
    assert len(received) <= len(wire) and received == wire[: len(received)], (len(received), len(wire))
