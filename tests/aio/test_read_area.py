"""The read area a thread's connections share (fastframe.aio._ReadArea): every read
is offered aio.READ_SIZE bytes of it, whatever the size hint; connections read
through it one after the other, in any interleaving, get their own frames (by
hand, and on a loop with many connections, plain and TLS); a read that never
reaches buffer_updated() (nothing came, the connection was lost) leaves the area
to the next one; a view still held is never lent to another connection; a view
dropped then lent again is refused, not decoded; nbytes is checked; a large frame
still goes straight into its own bytes object (compiled core); and between reads
a connection keeps only its unfinished frame, no read area (both cores alike)."""

from __future__ import annotations

import asyncio
import random
import threading
import tracemalloc
from typing import Any

import pytest

import fastframe as ff
from fastframe import _messages, aio
from tests.aio.frames import SMALL_CANDIDATES, sample_payloads
from tests.aio.peers import connect_peer, server_tls
from tests.aio.protocols import Recorder, feed_protocol
from tests.aio.running import run, until
from tests.support.calls import E
from tests.support.samples import FRAMERS
from tests.support.wire import wire_of

KiB = 1024


class Quiet(aio.FramedProtocol):
    """Keeps no frame: what a connection holds is then the protocol's own."""

    def frame_received(self, frame: bytes) -> None:
        pass


def area_of(view: memoryview) -> Any:
    return view.obj


def test_every_read_is_offered_the_shared_area(impl: Any) -> None:
    framer = impl.bind(ff.LengthPrefixed(4))
    a, b = Recorder(framer), Recorder(framer)
    for sizehint in (-1, 0, 64 * KiB):  # asyncio, a "no hint", uvloop
        first = a.get_buffer(sizehint)
        area = area_of(first)
        assert len(first) == aio.READ_SIZE and isinstance(area, bytearray)
        first.release()
        a.buffer_updated(0)
        second = b.get_buffer(sizehint)
        assert area_of(second) is area  # the same memory: nothing per connection
        second.release()
        b.buffer_updated(0)


def test_interleaved_connections_get_their_own_frames(impl: Any) -> None:
    """Every sample framing on its own connection, read in random chunks, one
    connection after another in a random order, through the one area."""
    rng = random.Random(15)
    protos, wires, expected = [], [], []
    for framer in FRAMERS * 3:
        framer = impl.bind(framer)
        items = sample_payloads(framer, SMALL_CANDIDATES) * 3
        wire, frames = wire_of(framer, items)
        protos.append(Recorder(framer))
        wires.append(wire)
        expected.append(frames)
    offsets = [0] * len(protos)
    while any(offset < len(wire) for offset, wire in zip(offsets, wires)):
        k = rng.choice([i for i, wire in enumerate(wires) if offsets[i] < len(wire)])
        n = rng.choice([1, 2, 7, 100, 5000])
        feed_protocol(protos[k], wires[k][offsets[k] : offsets[k] + n], rng.choice([-1, 64 * KiB]))
        offsets[k] += n
    for proto, frames in zip(protos, expected):
        assert proto.eof_received() is None
        assert proto.frames == frames


def test_a_read_without_buffer_updated_leaves_the_area(impl: Any) -> None:
    """get_buffer() then no buffer_updated(): the read brought nothing, or the
    connection was lost.  Once the view is dropped the next connection reads into
    the same area, and what was written there never reaches the first one."""
    framer = impl.bind(ff.LengthPrefixed(2))
    wire, frames = wire_of(framer, [b"abc", b"d" * 300])
    a, b = Recorder(framer), Recorder(framer)
    view = a.get_buffer(-1)
    area = area_of(view)
    view[:4] = b"\x00\x09zz"  # written, never reported
    del view  # the transport is done with it
    view = b.get_buffer(-1)
    assert area_of(view) is area
    view[: len(wire)] = wire
    view.release()
    b.buffer_updated(len(wire))
    assert b.frames == frames
    feed_protocol(a, wire, -1)  # a's next read starts afresh
    assert a.frames == frames
    assert a._decoder.buffered == 0


@pytest.mark.parametrize("first_done", ["a", "b"])
def test_a_view_still_held_is_not_lent_again(impl: Any, first_done: str) -> None:
    """A transport that read two connections at once (none known does): the
    second gets other memory, and each gets its own bytes, in either order."""
    framer = impl.bind(ff.Netstring())
    wire_a, frames_a = wire_of(framer, [b"alpha", b"x" * 1000])
    wire_b, frames_b = wire_of(framer, [b"beta"] * 50)
    a, b = Recorder(framer), Recorder(framer)
    view_a = a.get_buffer(-1)
    view_b = b.get_buffer(-1)
    assert area_of(view_b) is not area_of(view_a)
    view_a[: len(wire_a)] = wire_a
    view_b[: len(wire_b)] = wire_b
    updates = [(a, len(wire_a)), (b, len(wire_b))]
    if first_done == "b":
        updates.reverse()
    for proto, n in updates:
        proto.buffer_updated(n)
    assert a.frames == frames_a and b.frames == frames_b


def test_a_dropped_view_lent_again_is_refused(impl: Any) -> None:
    """A view dropped before its buffer_updated(), then the area lent to another
    connection: the first one's bytes may have been written over, so its
    buffer_updated() raises instead of decoding them."""
    framer = impl.bind(ff.LengthPrefixed(1))
    a, b = Recorder(framer), Recorder(framer)
    view = a.get_buffer(-1)
    view[:2] = b"\x01a"
    del view
    feed_protocol(b, b"\x01b", -1)
    with pytest.raises(RuntimeError, match="another connection"):
        a.buffer_updated(2)
    assert b.frames == [b"b"] and a.frames == []
    feed_protocol(a, b"\x01c", -1)  # a reads on
    assert a.frames == [b"c"]


def test_nbytes_is_checked(impl: Any) -> None:
    proto = Recorder(impl.bind(ff.Lines()))
    with pytest.raises(RuntimeError) as info:
        proto.buffer_updated(1)
    assert E(info.value) == E(_messages.buffer_updated_first())
    for n in (-1, aio.READ_SIZE + 1):
        view = proto.get_buffer(-1)
        with pytest.raises(ValueError) as bad:
            proto.buffer_updated(n)
        assert E(bad.value) == E(_messages.nbytes_out_of_range(len(view), n))
        del view
    feed_protocol(proto, b"line\n", -1)
    assert proto.frames == [b"line"]


def test_a_large_frame_goes_straight_into_its_bytes(impl: Any) -> None:
    """Once a large frame's header has come, the compiled core's reads go into
    the frame's own bytes object, not the shared area (the twin collects the
    frame in pieces of what the area brought).  The frame is whole either way,
    and so are the frames after it in the same read."""
    framer = impl.bind(ff.LengthPrefixed(4))
    body = bytes(range(256)) * (3 * 1024)  # 768 KiB
    wire, frames = wire_of(framer, [body, b"after", b"and more"])
    proto = Recorder(framer)
    area = area_of(proto.get_buffer(-1))
    proto.buffer_updated(0)
    feed_protocol(proto, wire[:100_000], -1)
    view = proto.get_buffer(-1)
    if impl.name == "cython":
        assert area_of(view) is not area
        assert len(view) < len(body)  # the frame's unwritten tail, not past it
    else:
        assert area_of(view) is area
    view.release()
    proto.buffer_updated(0)
    feed_protocol(proto, wire[100_000:], -1)
    assert proto.frames == frames


def held_per_connection(framer: Any, streams: list[bytes], count: int = 200) -> float:
    """Memory traced per connection after ``count`` connections have each read
    ``streams`` (one read each), over what they held before any read."""
    protos = [Quiet(framer) for _ in range(count)]
    view = protos[0].get_buffer(-1)  # (the thread's area is made on first use)
    view.release()
    protos[0].buffer_updated(0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for proto in protos:
            for stream in streams:
                feed_protocol(proto, stream, -1)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held / count


@pytest.mark.parametrize(
    ("size", "partial", "bound"),
    [
        (50 * KiB, 0, 1 * KiB),
        (50 * KiB, 1000, 3 * KiB),
        (50 * KiB, 30 * KiB, 61 * KiB),
        # a large frame's memory is the frame (reserved as it comes, up to 1 MiB ahead)
        (300 * KiB, 200 * KiB, 301 * KiB),
    ],
)
def test_between_reads_a_connection_keeps_only_its_unfinished_frame(
    impl: Any, size: int, partial: int, bound: int
) -> None:
    """Connections that have read small frames, frames just under and over the
    large-frame threshold, and then ``partial`` bytes of a frame of ``size``
    hold the unfinished frame (both cores), never a read area of their own."""
    framer = impl.bind(ff.LengthPrefixed(4))
    whole, _ = wire_of(framer, [b"s" * 10] * 100 + [b"m" * 60_000, b"l" * 70_000, b"t"])
    unfinished = wire_of(framer, [b"u" * size])[0][:partial]
    per_connection = held_per_connection(framer, [whole, unfinished])
    assert partial <= per_connection <= bound, per_connection


def test_many_connections_on_one_loop(impl: Any, loop_kind: str, tls: bool) -> None:
    """30 connections to one server, each sending its own frames (small ones and
    large ones) in chunks, all at once: the loop reads them interleaved, through
    the one area and the large frames' own bytes; each gets its own frames."""
    framer = impl.bind(ff.LengthPrefixed(4))
    count = 30
    protos: list[Recorder] = []
    wires, expected = [], []
    for i in range(count):
        sizes = [i, 100 * i, 70_000 + i, 3, 200_000 + 7 * i, 9]
        wire, frames = wire_of(framer, [bytes([i]) * size for size in sizes])
        wires.append(wire)
        expected.append(frames)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        factory = lambda: protos.append(Recorder(framer)) or protos[-1]  # noqa: E731
        server = await loop.create_server(factory, "127.0.0.1", 0, **server_tls(tls))
        try:
            address = server.sockets[0].getsockname()[:2]
            peers = [await connect_peer(address, tls=tls) for _ in range(count)]
            await until(lambda: len(protos) == count)

            async def send(peer: Any, wire: bytes) -> None:
                await peer.send_chunks([wire[k : k + 50_000] for k in range(0, len(wire), 50_000)], pause=0)
                await peer.shutdown_write()

            await asyncio.gather(*(send(peer, wire) for peer, wire in zip(peers, wires)))
            await until(lambda: all(p.lost is not None and p.lost.done() for p in protos))
            # whose frames they are: the third frame of connection i is bytes([i]) * 70_00i
            got = sorted((p.frames for p in protos), key=lambda frames: frames[2][0] if len(frames) > 2 else -1)
            assert got == expected
            for peer in peers:
                peer.close()
        finally:
            server.close()
            await server.wait_closed()

    run(loop_kind, main)


def test_each_thread_has_its_own_area(impl: Any) -> None:
    """Loops in other threads read into areas of their own."""
    framer = impl.bind(ff.LengthPrefixed(4))
    areas: list[Any] = []

    def read() -> None:
        proto = Recorder(framer)
        view = proto.get_buffer(-1)
        areas.append(area_of(view))
        view.release()
        proto.buffer_updated(0)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
        thread.join()
    read()
    assert len({id(area) for area in areas}) == 3
