"""Streams (open_connection, start_server and their Unix twins) on each core and
event loop: request/reply, the exact wire bytes both ways, sendall, ten thousand
pipelined frames, and frames cut at random points across the reads of a real
socket."""

from __future__ import annotations

import array
import asyncio
import traceback
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed, ProtocolError
from tests.aio.frames import (
    ECHO_FRAMERS,
    HOW,
    batch_echo,
    closed_here,
    drain_frames,
    sample_payloads,
    send,
    send_many,
    stop_sending,
    take,
)
from tests.aio.peers import KINDS, handled, raw_peer, serving
from tests.aio.running import run
from tests.support.calls import split
from tests.support.samples import FRAMERS
from tests.support.strategies import IMPL_SETTINGS, framers, heads, payloads
from tests.support.wire import expect, wire_of

# -- request / reply -------------------------------------------------------------------------------


@pytest.mark.parametrize("framer", ECHO_FRAMERS, ids=repr)
@pytest.mark.parametrize("kind", KINDS)
def test_request_reply(impl: Any, loop_kind: str, tls: bool, kind: str, framer: Any) -> None:
    """A server answers each request (send + drain); the client sends one, awaits
    its reply, and so on; at the client's EOF (a half-close; over TLS, its close)
    the server's loop ends, and the client sees a clean ConnectionClosed (over
    TLS, that it closed the connection itself)."""
    framer = impl.bind(framer)
    requests = [p for p in sample_payloads(framer) if expect(framer, b"re:" + p).ok]

    async def reply(reader: aio.FramedReader, writer: aio.FramedWriter) -> list[bytes]:
        seen = []
        async for frame in reader:
            seen.append(frame)
            writer.send(b"re:" + frame)
            await writer.drain()
        return seen

    async def main() -> None:
        cb, done = handled(reply)
        async with serving(kind, cb, framer, tls=tls) as connect:
            reader, writer = await connect()
            assert isinstance(reader, impl.FramedReader) and isinstance(writer, aio.FramedWriter)
            for request in requests:
                writer.send(request)
                await writer.drain()
                assert await reader.recv() == b"re:" + request
            stop_sending(writer)
            assert await done == requests
            if tls:
                await closed_here(reader.recv)
            else:
                with pytest.raises(ConnectionClosed) as info:
                    await reader.recv()
                assert type(info.value) is ConnectionClosed
            writer.close()
            await writer.wait_closed()

    run(loop_kind, main)


@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_wire_bytes_both_ways(impl: Any, loop_kind: str, tls: bool, framer: Any) -> None:
    """The peer's wire bytes come out as docs/framers/' frames; send, sendall (raw,
    unframed) and send_many put exactly docs/framers/' wire bytes on the wire, in
    call order, and nothing else."""
    items = sample_payloads(framer)
    half = len(items) // 2
    out_wire = wire_of(framer, items[:half])[0] + b"RAW\x00" + wire_of(framer, items[half:])[0]
    in_wire, in_frames = wire_of(framer, items[::-1])

    async def main() -> None:
        async with raw_peer(impl.bind(framer), tls=tls) as (reader, writer, peer):
            await peer.send(in_wire)
            assert await take(reader, "recv", len(in_frames)) == in_frames
            for item in items[:half]:
                send(writer, framer, item)
            writer.sendall(b"RAW\x00")
            send_many(writer, framer, items[half:])
            await writer.drain()
            stop_sending(writer)
            assert await peer.read_all() == out_wire

    run(loop_kind, main)


def test_sendall_counts_bytes_not_items(impl: Any, loop_kind: str, tls: bool) -> None:
    """sendall takes any bytes-like object: an array of ints, and a memoryview of
    one, arrive byte for byte, also when the transport has to keep the rest."""
    ints = array.array("i", range(300_000))  # 1.2 MB: more than one send takes

    async def main() -> None:
        async with raw_peer(impl.bind(ff.LengthPrefixed(4)), tls=tls) as (_, writer, peer):
            received = asyncio.ensure_future(peer.read_all())
            writer.sendall(ints)
            writer.sendall(memoryview(ints))
            await writer.drain()
            stop_sending(writer)
            assert await received == ints.tobytes() * 2

    run(loop_kind, main)


def test_an_error_raised_again_gets_a_fresh_traceback(impl: Any, loop_kind: str, tls: bool) -> None:
    """A reader raises its ProtocolError at every call; the tracebacks do not pile up."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Netstring()), tls=tls) as (reader, _, peer):
            await peer.send(b"x:")
            depths = []
            for _ in range(3):
                try:
                    await reader.recv()
                except ProtocolError as exc:
                    depths.append(len(traceback.extract_tb(exc.__traceback__)))
            # the first is raised where the decoder met it, the others where it keeps it
            assert len(depths) == 3 and depths[2] == depths[1] <= depths[0], depths

    run(loop_kind, main)


# -- ten thousand pipelined frames -------------------------------------------------------------------


PIPELINED = [b"frame %d " % i * (i % 4) for i in range(10_000)]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("sending", ["send_many", "send"])
@pytest.mark.parametrize("kind", KINDS)
def test_ten_thousand_pipelined_frames(impl: Any, loop_kind: str, tls: bool, kind: str, sending: str, how: str) -> None:
    """The client sends 10 000 frames without waiting (one send_many, or a send
    per frame) and reads every echoed frame back, in order; at its EOF the
    server's echo loop ends, having echoed all of them."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def main() -> None:
        cb, done = handled(batch_echo)
        async with serving(kind, cb, framer, tls=tls) as connect:
            reader, writer = await connect()
            if sending == "send_many":
                writer.send_many(PIPELINED)
            else:
                for payload in PIPELINED:
                    writer.send(payload)
            await writer.drain()
            got = await take(reader, how, len(PIPELINED))
            assert len(got) == len(PIPELINED)
            assert got == PIPELINED
            stop_sending(writer)
            assert await done == len(PIPELINED)
            writer.close()

    run(loop_kind, main)


@pytest.mark.parametrize("framer", [ff.LengthPrefixed(2), ff.Lines(), ff.VarintPrefixed()], ids=repr)
@pytest.mark.parametrize("how", HOW)
def test_ten_thousand_frames_in_one_write(impl: Any, loop_kind: str, tls: bool, framer: Any, how: str) -> None:
    """A raw peer writes 10 000 frames (wire from docs/framers/) in one write, then
    half-closes: the reader gets those 10 000 frames, in order."""
    wire, frames = wire_of(framer, PIPELINED)

    async def main() -> None:
        async with raw_peer(impl.bind(framer), tls=tls) as (reader, writer, peer):
            sending = peer.send_in_background(wire, shutdown_write=True)
            got = await drain_frames(reader, how)
            await sending
            assert len(got) == len(frames)
            assert got == frames

    run(loop_kind, main)


# -- frames split across reads of a real socket ---------------------------------------------------------


SOCKET_SETTINGS = settings(IMPL_SETTINGS, deadline=None, max_examples=max(10, settings.default.max_examples // 5))


@SOCKET_SETTINGS
@given(data=st.data())
def test_frames_split_across_real_reads(impl: Any, loop_kind: str, tls: bool, data: st.DataObject) -> None:
    """Random framers and payloads, the wire cut at random points and written
    chunk by chunk with pauses over TCP (TCP_NODELAY), so the reads really are
    split: the reader gets exactly the frames, whichever way it reads."""
    framer = data.draw(framers(), label="framer")
    wire, frames = b"", []
    for payload in data.draw(st.lists(payloads(framer, extra=0), max_size=10), label="payloads"):
        outcome = expect(framer, payload, data.draw(heads(framer)))
        if outcome.ok:
            wire += outcome.wire  # type: ignore[operator]
            frames.append(outcome.frame)
    if wire and len(wire) <= 64 and data.draw(st.booleans(), label="byte by byte"):
        chunks = [wire[i : i + 1] for i in range(len(wire))]
    else:
        chunks = split(wire, data.draw(st.lists(st.integers(0, len(wire)), max_size=12), label="cuts"))
    how = data.draw(st.sampled_from(HOW), label="how")

    async def main() -> None:
        async with raw_peer(impl.bind(framer), kind="tcp", tls=tls) as (reader, writer, peer):
            reading = asyncio.ensure_future(drain_frames(reader, how))
            await peer.send_chunks(chunks)
            await peer.shutdown_write()
            assert await reading == frames

    run(loop_kind, main)
