"""Read-side flow control, measured, on each core and event loop: a slow consumer
holds a bounded amount of memory against a flooding peer (also a flood of empty
frames), reading pauses above high_water and resumes at low_water exactly, and
bad water marks are refused before anything connects."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import threading
import tracemalloc
from collections.abc import Sequence
from typing import Any

import pytest

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed
from tests.aio.peers import MemoryTLS, client_tls, raw_peer
from tests.aio.running import run, until
from tests.support import certs
from tests.support.calls import split
from tests.support.sockets import IO_TIMEOUT, MiB, connected_pair
from tests.support.wire import field_bytes, length_field, wire_of

# -- backpressure (read side) ----------------------------------------------------------------------------------


FLOOD = 128 * MiB
FLOOD_FRAME = 4096


class Flood(threading.Thread):
    """A peer sending ``count`` LengthPrefixed(4) frames of ``size`` bytes, each
    starting with its index (8 bytes, big-endian), as fast as its blocking socket
    takes them, once ``go`` is set, then half-closing.  With ``tls`` it is the TLS
    server: the handshake comes first (while the test connects), and the
    half-close is close_notify."""

    def __init__(self, sock: socket.socket, count: int, size: int, *, tls: bool) -> None:
        super().__init__(daemon=True)
        self.sock, self.count, self.size = sock, count, size
        self.tls = MemoryTLS(certs.server_context(), server_side=True) if tls else None
        self.go = threading.Event()  # set by the test once it has measured what it needs
        self.sent = 0  # bytes (of plaintext) the kernel has taken
        self.done = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.sock.settimeout(IO_TIMEOUT)
            if self.tls is not None:
                self.handshake(self.tls)
            if not self.go.wait(IO_TIMEOUT):
                raise TimeoutError("the test never said go")
            self.flood()
            self.done = True
            self.finish()
        except OSError as exc:
            self.error = exc
        finally:
            self.sock.close()

    def handshake(self, tls: MemoryTLS) -> None:
        received = b""
        while not tls.handshake(received):
            self.sock.sendall(tls.outgoing())
            received = self.sock.recv(64 * 1024)
            if not received:
                raise ConnectionResetError("the reader closed during the TLS handshake")
        self.sock.sendall(tls.outgoing())

    def write(self, data: bytes) -> None:
        self.sock.sendall(data if self.tls is None else self.tls.seal(data))
        self.sent += len(data)

    def flood(self) -> None:
        framer = ff.LengthPrefixed(4)
        header = field_bytes(framer, length_field(framer, self.size))
        filler = b"f" * (self.size - 8)
        for start in range(0, self.count, 64):
            self.write(b"".join(header + i.to_bytes(8, "big") + filler for i in range(start, min(start + 64, self.count))))

    def finish(self) -> None:
        if self.tls is not None:
            self.sock.sendall(self.tls.close_notify())
            # The FIN waits for the reader's close_notify, as a TLS peer closing
            # in full does: uvloop drops what it has decrypted but not delivered
            # when a FIN comes while reading is paused (see test_eof.py's
            # test_eof_while_reading_is_paused).
            while not self.tls.closed:
                received = self.sock.recv(64 * 1024)
                if not received:
                    break
                self.tls.open(received)
        self.sock.shutdown(socket.SHUT_WR)


async def until_stalled(transport: Any, flood: Flood) -> None:
    """Until the reader's transport is paused and the flooding peer has made no
    progress for a while (its socket buffers are full), or it has sent everything."""
    last, stable = -1, 0
    while not flood.done and stable < 10:
        await asyncio.sleep(0.02)
        if not transport.is_reading() and flood.sent == last:
            stable += 1
        else:
            stable = 0
        last = flood.sent


def check_indices(frames: Sequence[bytes], first: int, size: int) -> int:
    for k, frame in enumerate(frames):
        assert len(frame) == size and int.from_bytes(frame[:8], "big") == first + k, (first + k, frame[:8])
    return first + len(frames)


def test_slow_consumer_memory_stays_bounded(impl: Any, loop_kind: str, tls: bool) -> None:
    """A peer streams 128 MiB of 4 KiB frames as fast as it can while the reader
    does not read: the transport stops reading (the peer stalls with most of it
    unsent) and what the reader holds stays under high_water + one read + one
    frame; the memory traced (tracemalloc peak) stays within a few MiB.  Then
    consumed slowly: reading resumes, every frame arrives in order, and no batch
    nor the traced memory grows past the same bounds."""
    count = FLOOD // FLOOD_FRAME
    a, b = connected_pair("tcp4")
    flood = Flood(b, count, FLOOD_FRAME, tls=tls)
    bound = aio.DEFAULT_HIGH_WATER + aio.READ_SIZE + FLOOD_FRAME  # + one read
    traced_bound = bound + 4 * MiB  # the decoder's buffers, the peer's chunk, the loop's own
    measured: dict[str, Any] = {}

    async def main() -> None:
        flood.start()
        reader, writer = await aio.open_connection(sock=a, framer=impl.bind(ff.LengthPrefixed(4)), **client_tls(tls))
        transport = writer.transport
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            flood.go.set()
            await until_stalled(transport, flood)
            measured["paused"] = not transport.is_reading()
            measured["peer sent while paused"] = flood.sent
            measured["flood peak"] = tracemalloc.get_traced_memory()[1] - base
            held = await reader.recv_many()  # returns at once: exactly the frames held
            measured["held frames"] = len(held)
            measured["held bytes"] = sum(map(len, held))
            measured["resumed"] = transport.is_reading()
            assert measured["paused"] and not flood.done, measured
            # the bytes on the wire: each frame's 4-byte header too
            assert measured["held bytes"] + 4 * len(held) > aio.DEFAULT_HIGH_WATER, measured
            assert measured["held bytes"] <= bound, measured
            assert measured["flood peak"] <= traced_bound, measured
            assert measured["resumed"], measured
            index = check_indices(held, 0, FLOOD_FRAME)
            tracemalloc.reset_peak()
            biggest = 0
            while True:
                try:
                    frames = await reader.recv_many()
                except ConnectionClosed:
                    break
                biggest = max(biggest, sum(map(len, frames)))
                index = check_indices(frames, index, FLOOD_FRAME)
                await asyncio.sleep(0.001)  # a slow consumer
            measured["frames"] = index
            measured["largest batch"] = biggest
            measured["consume peak"] = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
            writer.close()
            await writer.wait_closed()
        assert measured["frames"] == count, measured
        assert measured["largest batch"] <= bound, measured
        assert measured["consume peak"] <= traced_bound, measured

    try:
        run(loop_kind, main)
    finally:
        flood.join(IO_TIMEOUT)
    assert flood.error is None and flood.done
    print(f"\nbackpressure {impl.name} {loop_kind}: {measured}")


def test_flood_of_empty_frames_is_bounded(impl: Any, loop_kind: str, tls: bool) -> None:
    """Empty frames cost no payload, but the reader holds bytes, not frames, and
    cuts them when asked: a peer sending 8 MiB of empty LengthPrefixed(1)
    frames (one byte each) makes the reader pause with at most high_water + one
    read of them held.  (A socketpair: its kernel buffers do not grow to MiBs as
    TCP's do.)"""
    a, b = connected_pair("socketpair")
    measured: dict[str, Any] = {}

    class Zeros(Flood):
        def flood(self) -> None:
            chunk = bytes(64 * 1024)
            for _ in range(8 * 16):
                self.write(chunk)

        def finish(self) -> None:
            pass  # the test closes first

    flood = Zeros(b, 0, 0, tls=tls)

    async def main() -> None:
        flood.start()
        reader, writer = await aio.open_connection(sock=a, framer=impl.bind(ff.LengthPrefixed(1)), **client_tls(tls))
        try:
            flood.go.set()
            await until_stalled(writer.transport, flood)
            measured["paused"] = not writer.transport.is_reading()
            held = await reader.recv_many()
            measured["held frames"] = len(held)
            measured["peer sent"] = flood.sent
            assert measured["paused"] and not flood.done, measured
            assert set(held) == {b""}
            assert len(held) > aio.DEFAULT_HIGH_WATER, measured
            assert len(held) <= aio.DEFAULT_HIGH_WATER + aio.READ_SIZE, measured
        finally:
            writer.close()
            await writer.wait_closed()

    try:
        run(loop_kind, main)
    finally:
        flood.join(IO_TIMEOUT)
    print(f"\nempty-frame flood {impl.name} {loop_kind}: {measured}")


@pytest.mark.parametrize(
    ("high", "low", "first_batch", "resume_after"),
    [
        # frames of 100 bytes are 102 on the wire: 10 * 102 = 1020 > 1000 (9 * 102 =
        # 918 is not), and 3 * 102 = 306 <= 400 (4 * 102 = 408 is not)
        (1000, 400, 10, 7),
        # low_water defaults to high_water // 4 = 1000: 40 * 102 > 4000 >= 39 * 102,
        # 9 * 102 <= 1000 < 10 * 102
        (4000, None, 40, 31),
    ],
)
def test_custom_water_marks(impl: Any, loop_kind: str, tls: bool, high: int, low: int | None, first_batch: int, resume_after: int) -> None:
    """Reading pauses as soon as the bytes held are more than high_water and
    resumes exactly when a recv brings them to low_water or less; frames sent
    while paused then arrive, in order."""
    framer = impl.bind(ff.LengthPrefixed(2))
    payload_list = [bytes([i]) * 100 for i in range(first_batch + 3)]
    wire = [wire_of(framer, [p])[0] for p in payload_list]

    async def main() -> None:
        async with raw_peer(framer, high_water=high, low_water=low, tls=tls) as (reader, writer, peer):
            transport = writer.transport
            await peer.send(b"".join(wire[: first_batch - 1]))
            for _ in range(50):  # these are read; not enough to pause
                await asyncio.sleep(0.001)
            assert transport.is_reading()
            await peer.send(wire[first_batch - 1])
            await until(lambda: not transport.is_reading())
            await peer.send(b"".join(wire[first_batch:]))  # stays in the socket while paused
            for i in range(first_batch):
                assert await reader.recv() == payload_list[i]
                assert transport.is_reading() == (i + 1 >= resume_after), i
            for i in range(first_batch, len(payload_list)):
                assert await reader.recv() == payload_list[i]
            assert transport.is_reading()

    run(loop_kind, main)


RESUME_FRAMERS = [
    ff.LengthPrefixed(2),
    ff.LengthPrefixed(4, strip=0),  # the frame keeps its header
    ff.Lines(),
    ff.Netstring(),
    ff.VarintPrefixed(),
    ff.FixedSize(11),
]


@pytest.mark.parametrize("framer", RESUME_FRAMERS, ids=repr)
# low_water: the bytes held once this many frames are returned, less this many
@pytest.mark.parametrize(("returned", "less"), [(300, 0), (150, 0), (150, 1), (10, 0), (1, 1)])
def test_resume_exact_over_many_frames(impl: Any, loop_kind: str, tls: bool, framer: Any, returned: int, less: int) -> None:
    """Reading resumes at exactly the recv() that brings the bytes held to
    low_water or less, on every framing and hundreds of frames into a paused
    stream (a core that cuts frames in runs marks the resume point in a run)."""
    framer = impl.bind(framer)
    wire: list[bytes] = []  # each frame's bytes on the wire
    frames: list[bytes] = []
    for i in range(300):  # FixedSize(11)'s size: 300 frames, several runs
        frame_wire, (frame,) = wire_of(framer, [b"%011d" % i])
        wire.append(frame_wire)
        frames.append(frame)
    total = sum(map(len, wire))
    # the read that brings the last byte pauses: every frame is then held
    high, low = total - 1, sum(map(len, wire[returned:])) - less

    async def main() -> None:
        async with raw_peer(framer, high_water=high, low_water=low, tls=tls) as (reader, writer, peer):
            transport = writer.transport
            await peer.send(b"".join(wire))
            await until(lambda: not transport.is_reading())
            assert reader._fs.buffered == total  # (FramedReader has no public count)
            held = total
            for frame, frame_wire in zip(frames, wire):
                assert await reader.recv() == frame
                held -= len(frame_wire)
                assert reader._fs.buffered == held
                assert transport.is_reading() == (held <= low), (held, low)

    run(loop_kind, main)


def test_high_water_zero(impl: Any, loop_kind: str, tls: bool) -> None:
    """high_water=0: a read that comes while no call waits pauses reading; a
    call that needs more bytes than are held resumes it, and reading goes on
    while calls wait; everything arrives."""
    framer = impl.bind(ff.Lines())
    lines = [b"line %d" % i for i in range(500)]
    wire = wire_of(framer, lines)[0]
    chunks = split(wire, range(97, len(wire), 97))

    async def main() -> None:
        async with raw_peer(framer, high_water=0, tls=tls) as (reader, writer, peer):
            await peer.send(chunks[0])
            await until(lambda: not writer.transport.is_reading())
            sender = asyncio.ensure_future(peer.send_chunks(chunks[1:], pause=0))
            got = []
            while len(got) < len(lines):
                got += await reader.recv_many()
            await sender
            assert got == lines

    run(loop_kind, main)


WATER_ERRORS = [
    (-1, None, ValueError),
    (100, 101, ValueError),
    (100, -1, ValueError),
    (1.5, None, TypeError),
    (100, "1", TypeError),
]


@pytest.mark.parametrize(("high", "low", "error"), WATER_ERRORS)
def test_water_mark_validation(impl: Any, loop_kind: str, high: Any, low: Any, error: type) -> None:
    """Bad water marks raise at once, from every entry point: before connecting
    (a refused port would say ConnectionRefusedError), before binding (no server,
    no socket file)."""
    framer = impl.bind(ff.Lines())
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    refused = lst.getsockname()[1]
    lst.close()
    directory = tempfile.mkdtemp(prefix="ffa")
    path = os.path.join(directory, "s")

    async def main() -> None:
        with pytest.raises(error):
            await aio.open_connection("127.0.0.1", refused, framer, high_water=high, low_water=low)
        with pytest.raises(error):
            await aio.open_unix_connection(path, framer, high_water=high, low_water=low)
        with pytest.raises(error):
            await aio.start_server(lambda r, w: None, "127.0.0.1", 0, framer, high_water=high, low_water=low)
        with pytest.raises(error):
            await aio.start_unix_server(lambda r, w: None, path, framer, high_water=high, low_water=low)
        assert not os.path.exists(path)

    try:
        run(loop_kind, main)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize(("high", "low"), [(0, None), (0, 0), (10, 10), (10, 0)])
def test_water_marks_accepted(impl: Any, loop_kind: str, tls: bool, high: int, low: int | None) -> None:
    """0 <= low_water <= high_water is accepted (equal, zero), and frames flow."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), high_water=high, low_water=low, tls=tls) as (reader, _, peer):
            await peer.send(b"a\nb\n")
            assert [await reader.recv(), await reader.recv()] == [b"a", b"b"]

    run(loop_kind, main)
