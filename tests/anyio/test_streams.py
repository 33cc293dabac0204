"""FramedStream end to end, on each core, backend and transport: every sample
framer both ways between two FramedStreams (send, send_many; receive,
receive_many, async for), the exact wire bytes both ways against a raw peer,
pipelined frames echoed, and frames cut at random points across the reads
of a real socket."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from anyio.abc import ObjectStream
from hypothesis import given, settings
from hypothesis import strategies as st

import fastframe as ff
from fastframe.anyio import FramedStream
from tests.aio.frames import sample_payloads
from tests.anyio.frames import HOW, drain, run, send, send_many, take
from tests.anyio.peers import Transport
from tests.support.calls import split
from tests.support.samples import FRAMERS
from tests.support.strategies import IMPL_SETTINGS, framers, heads, payloads
from tests.support.wire import expect, wire_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
async def test_round_trip(impl: Any, transport: Transport, framer: Any) -> None:
    """Frames sent by send() come out of receive(), by send_many() out of
    receive_many(), each as docs/framers/ says; the other way, out of ``async for``,
    which ends at the sender's end of the stream.  The stream runs the framer's
    core, and is an anyio ObjectStream."""
    framer = impl.bind(framer)
    items = sample_payloads(framer)
    frames = wire_of(framer, items)[1]
    async with transport.framed(framer) as (ours, theirs):
        assert isinstance(ours, ObjectStream) and isinstance(ours, FramedStream)
        assert ours.framer is framer and ours.framer._core is impl.module
        assert isinstance(ours._fs, impl.FramedSocket)
        for item in items:
            await send(theirs, framer, item)
        assert [await ours.receive() for _ in items] == frames
        await send_many(theirs, framer, items)
        assert await take(ours, "receive_many", len(frames)) == frames
        async with anyio.create_task_group() as tg:
            for item in items:
                await send(ours, framer, item)
            await send_many(ours, framer, items)
            await transport.stop_sending(ours, tg)
            assert await drain(theirs, "iter") == frames * 2
            await theirs.aclose()


@pytest.mark.parametrize("transport", ["tcp"], indirect=True)
@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
async def test_wire_bytes_both_ways(impl: Any, transport: Transport, framer: Any) -> None:
    """The peer's wire bytes (docs/framers/) come out as the frames; send and
    send_many put exactly docs/framers/' wire bytes on the wire, in call order,
    and nothing else.  (Over TCP: what is on the wire is the encoder's, whatever
    carries it; test_round_trip runs every framer over every transport.)"""
    framer = impl.bind(framer)
    items = sample_payloads(framer)
    half = len(items) // 2
    in_wire, in_frames = wire_of(framer, items[::-1])
    async with transport.raw(framer) as (stream, peer):
        await peer.send(in_wire)
        assert await take(stream, "receive", len(in_frames)) == in_frames
        async with anyio.create_task_group() as tg:
            for item in items[:half]:
                await send(stream, framer, item)
            await send_many(stream, framer, items[half:])
            await transport.stop_sending(stream, tg)
            assert await peer.read_all() == wire_of(framer, items)[0]


# -- pipelined frames ------------------------------------------------------------------------------


PIPELINED = [b"frame %d " % i * (i % 4) for i in range(4000)]


async def test_pipelined_frames_echoed(impl: Any, transport: Transport) -> None:
    """One side sends 4000 frames in one send_many while the other echoes each
    batch back (receive_many / send_many): every frame comes back, in order, read
    by receive, then (4000 more) by receive_many, then by ``async for``."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def echo(stream: FramedStream) -> None:
        count = 0
        while count < len(PIPELINED) * len(HOW):
            frames = await stream.receive_many()
            count += len(frames)
            await stream.send_many(frames)

    async with transport.framed(framer) as (ours, theirs), anyio.create_task_group() as tg:
        tg.start_soon(echo, theirs)
        for how in HOW:
            await ours.send_many(PIPELINED)
            assert await take(ours, how, len(PIPELINED)) == PIPELINED, how


# -- frames split across reads of a real socket ----------------------------------------------------


# a twentieth of the profile's examples (15 in CI), each a connection: the property
# itself, on exact splits, is test_split.py's
SOCKET_SETTINGS = settings(IMPL_SETTINGS, deadline=None, max_examples=max(5, settings.default.max_examples // 20))


@pytest.mark.parametrize("kind", ["tcp", "tls"])
@SOCKET_SETTINGS
@given(data=st.data())
def test_frames_split_across_real_reads(impl: Any, anyio_backend: Any, kind: str, data: st.DataObject) -> None:
    """Random framers and payloads, the wire cut at random points and written chunk
    by chunk with pauses over TCP (and in TLS records), so that the reads really
    are split: the stream gets exactly the frames, whichever way it reads.
    (tests/anyio/test_split.py holds the property with exact splits, on memory.)"""
    framer = data.draw(framers(), label="framer")
    head = data.draw(heads(framer), label="head")
    wire, frames = b"", []
    for payload in data.draw(st.lists(payloads(framer, extra=0), max_size=10), label="payloads"):
        outcome = expect(framer, payload, head)
        if outcome.ok:
            wire += outcome.wire  # type: ignore[operator]
            frames.append(outcome.frame)
    chunks = split(wire, data.draw(st.lists(st.integers(0, len(wire)), max_size=12), label="cuts"))
    how = data.draw(st.sampled_from(HOW), label="how")

    async def main() -> list[bytes]:
        async with Transport(kind).raw(impl.bind(framer)) as (stream, peer):
            await peer.send_chunks(chunks)
            await peer.send_eof()
            return await drain(stream, how)

    assert run(anyio_backend, main) == frames
