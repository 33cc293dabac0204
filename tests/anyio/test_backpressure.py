"""A slow consumer, measured, on each core, backend and transport: a FramedSocket
in a thread floods the stream with 4 KiB frames as fast as its blocking socket
takes them.  While the consumer does not read, the stream reads nothing ahead
(``buffered`` is 0, the peer stalls with most of the flood unsent); read slowly,
no batch is larger, and the stream never holds more, than one read (64 KiB) and
a frame, the memory traced stays below the flood, and every frame arrives, in
order."""

from __future__ import annotations

import socket
import time
import tracemalloc
from typing import Any

import anyio
import pytest

import fastframe as ff
from fastframe.anyio import READ_SIZE
from tests.anyio.peers import Transport
from tests.support.sockets import MiB

pytestmark = pytest.mark.anyio

FRAME = 4096
FLOOD = 2 * MiB
COUNT = FLOOD // FRAME
BUFFERS = 64 * 1024  # both kernels' buffers: the flood stalls at a few hundred KiB


class Flood:
    """The peer's body: LengthPrefixed(4) frames of FRAME bytes, each starting with
    its index (8 bytes, big-endian), sent in batches of 16, then shutdown_write()
    (over TLS close_notify)."""

    def __init__(self) -> None:
        self.sent = 0  # frames the kernel has taken
        self.done = False

    def __call__(self, fs: ff.FramedSocket) -> None:
        filler = b"f" * (FRAME - 8)
        for start in range(0, COUNT, 16):
            fs.send_many([i.to_bytes(8, "big") + filler for i in range(start, min(start + 16, COUNT))])
            self.sent = min(start + 16, COUNT)
        self.done = True
        fs.shutdown_write()


def check_indices(frames: list[bytes], first: int) -> int:
    for k, frame in enumerate(frames):
        assert len(frame) == FRAME and int.from_bytes(frame[:8], "big") == first + k, (first + k, frame[:8])
    return first + len(frames)


async def until_stalled(flood: Flood) -> None:
    """Until the peer has made no progress for 50 ms (its socket buffers are full)."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 0.05:
        await anyio.sleep(0.005)
        assert not flood.done, "the whole flood was taken: nothing stalled it"
        if flood.sent != last:
            last, since = flood.sent, time.monotonic()


async def test_slow_consumer_memory_stays_bounded(impl: Any, transport: Transport) -> None:
    """2 MiB of 4 KiB frames from a FramedSocket that sends as fast as it can: while
    the stream is not read, nothing is read ahead and the peer stalls within the
    first quarter; then read slowly (receive_many, a pause after each), every
    batch and what the stream holds stay under one read and a frame, the traced
    memory (the peer's included) under that and 1.5 MiB, less than the flood, and
    every frame arrives in order."""
    flood = Flood()
    framer = impl.bind(ff.LengthPrefixed(4))
    bound = READ_SIZE + FRAME
    measured: dict[str, Any] = {}

    def small_buffers(sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFERS)

    async with transport.threaded(framer, flood, setup=small_buffers) as (stream, thread):
        stream.extra(anyio.abc.SocketAttribute.raw_socket).setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFERS)
        await until_stalled(flood)
        measured["stalled at"] = flood.sent
        assert stream.buffered == 0
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            index = biggest = held = 0
            while True:
                try:
                    frames = await stream.receive_many()
                except anyio.EndOfStream:
                    break
                biggest = max(biggest, sum(map(len, frames)))
                held = max(held, stream.buffered)
                index = check_indices(frames, index)
                await anyio.sleep(0.0005)  # a slow consumer
            measured["peak"] = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        measured.update(frames=index, biggest=biggest, held=held)
        await anyio.to_thread.run_sync(thread.finish)
    assert measured["stalled at"] < COUNT // 4, measured
    assert measured["frames"] == COUNT, measured
    assert measured["biggest"] <= bound and measured["held"] <= bound, measured
    assert measured["peak"] <= bound + 3 * MiB // 2 < FLOOD, measured
    print(f"\nslow consumer {impl.name} {transport.kind}: {measured}")

