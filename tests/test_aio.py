"""fastframe.aio on each core and on each event loop (asyncio's default loop and
uvloop), over TCP on 127.0.0.1, AF_UNIX paths and socketpair()s.

Request/reply; ten thousand pipelined frames; frames cut at every read boundary
(a FramedProtocol fed by hand through get_buffer/buffer_updated, and hypothesis
over real sockets); half-close; peer reset; oversize frames (skipped, later
frames still delivered) and sticky protocol errors; EOF inside a frame;
read-side backpressure, measured; cancellation of waiting calls; FramedProtocol
subclasses; the API's edges.

Each test's coroutine runs on a fresh loop under a 10 s bound (a bug fails, it
never hangs), and the loop's exception handler must stay silent unless the test
expects a report.  Raw-socket peers control the exact bytes, splits, resets and
half-closes; the wire bytes a test expects come from _support (DESIGN.md's
description of each framing), never from the encoders under test.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import gc
import os
import shutil
import socket
import sys
import tempfile
import threading
import traceback
import tracemalloc
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import fastframe as ff
from fastframe import aio
from fastframe._cores import CORES
from fastframe._limits import RECV_SIZE
from fastframe.errors import ConnectionClosed, FastframeError, FrameTooLarge, IncompleteFrame, ProtocolError
from tests.support.calls import Feed, every_split, split
from tests.support.calls import events as decoder_events
from tests.support.platforms import LINGER_RESET, requires_unix_sockets
from tests.support.samples import FRAMERS
from tests.support.sockets import IO_TIMEOUT, MiB, connected_pair
from tests.support.strategies import IMPL_SETTINGS, chunkings, framers, heads, payloads, streams
from tests.support.wire import expect, field_bytes, length_field, lp_frame_size, oversize_frame, wire_of

try:
    import uvloop
except ImportError:  # the uvloop cases are skipped by conftest, with the reason
    uvloop = None


# -- running a coroutine on a fresh loop -------------------------------------------------


def new_loop(loop_kind: str) -> asyncio.AbstractEventLoop:
    if loop_kind == "uvloop":
        if uvloop is None:
            pytest.skip("uvloop cannot be imported")
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    assert loop_kind == "asyncio", loop_kind
    return asyncio.new_event_loop()


def _describe(reports: Sequence[dict[str, Any]]) -> str:
    return "; ".join(f"{r.get('message')!r}: {r.get('exception')!r}" for r in reports)


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the test left running and let closing transports finish."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))
    loop.run_until_complete(loop.shutdown_asyncgens())


def run(
    loop_kind: str,
    main: Callable[..., Awaitable[Any]],
    *args: Any,
    reports: list[dict[str, Any]] | None = None,
) -> Any:
    """Run ``main(*args)`` on a fresh loop of ``loop_kind`` under
    ``asyncio.wait_for(..., IO_TIMEOUT)``, then close the loop.

    What the loop's exception handler is given goes to ``reports`` when the test
    passes a list (and inspects it); otherwise any report fails the test."""
    loop = new_loop(loop_kind)
    seen: list[dict[str, Any]] = [] if reports is None else reports
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        try:
            result = loop.run_until_complete(asyncio.wait_for(main(*args), IO_TIMEOUT))
        except asyncio.TimeoutError:
            raise AssertionError(
                f"the test's coroutine did not finish within {IO_TIMEOUT} s (it hung)"
            ) from None
        finally:
            _settle(loop)
    finally:
        loop.close()
    if reports is None:
        assert not seen, f"the event loop reported: {_describe(seen)}"
    return result


# -- peers and connections -----------------------------------------------------------------


class Peer:
    """The raw end of a connection, driven by the test's loop: the exact bytes,
    their splits, half-close and reset."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.loop = asyncio.get_running_loop()

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    def send_in_background(self, data: bytes, *, shutdown_write: bool = False) -> asyncio.Task[None]:
        """``send(data)`` (then ``shutdown_write()``) as a task, for data that
        may not fit in the socket buffers (8 KiB for a socketpair on macOS): the
        test reads meanwhile."""

        async def send() -> None:
            await self.send(data)
            if shutdown_write:
                self.shutdown_write()

        return asyncio.ensure_future(send())

    async def send_chunks(self, chunks: Sequence[bytes], pause: float = 0.001) -> None:
        """Each chunk in its own write, with a pause after it, so that the reader's
        reads really are split there."""
        for chunk in chunks:
            if chunk:
                await self.send(chunk)
                await asyncio.sleep(pause)

    async def read_all(self, pause: float = 0.0) -> bytes:
        """Every byte until EOF (with ``pause`` after each read: a slow peer)."""
        out = bytearray()
        while True:
            data = await self.loop.sock_recv(self.sock, 64 * 1024)
            if not data:
                return bytes(out)
            out += data
            if pause:
                await asyncio.sleep(pause)

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        """Close with SO_LINGER (1, 0): the other end gets a TCP RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


def raw_pair(kind: str) -> tuple[socket.socket, socket.socket]:
    """("socketpair" | "tcp") a connected pair; TCP with TCP_NODELAY on both ends."""
    return connected_pair("tcp4" if kind == "tcp" else "socketpair")


@contextlib.asynccontextmanager
async def raw_peer(
    framer: Any, *, kind: str = "socketpair", presend: bytes = b"", **kwds: Any
) -> AsyncIterator[tuple[aio.FramedReader, aio.FramedWriter, Peer]]:
    """``open_connection(sock=...)`` on one end of a pair, a Peer on the other.

    ``presend`` is written before the connection is opened: the reader's first
    read then gets all of it (keep it small: it is a blocking write)."""
    a, b = raw_pair(kind)
    try:
        if presend:
            b.sendall(presend)
        reader, writer = await aio.open_connection(sock=a, framer=framer, **kwds)
    except BaseException:
        a.close()
        b.close()
        raise
    peer = Peer(b)
    try:
        yield reader, writer, peer
    finally:
        writer.close()
        peer.close()
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def protocol_peer(
    protocol: aio.FramedProtocol, *, kind: str = "socketpair", presend: bytes = b""
) -> AsyncIterator[tuple[asyncio.Transport, Peer]]:
    """``protocol`` connected (``loop.create_connection(sock=...)``) to a Peer."""
    a, b = raw_pair(kind)
    try:
        if presend:
            b.sendall(presend)
        transport, _ = await asyncio.get_running_loop().create_connection(lambda: protocol, sock=a)
    except BaseException:
        a.close()
        b.close()
        raise
    peer = Peer(b)
    try:
        yield transport, peer  # type: ignore[misc]
    finally:
        transport.close()
        peer.close()


@contextlib.asynccontextmanager
async def serving(
    kind: str, client_connected_cb: Any, framer: Any, **kwds: Any
) -> AsyncIterator[Callable[..., Awaitable[tuple[aio.FramedReader, aio.FramedWriter]]]]:
    """A framed server over TCP on 127.0.0.1 or on a Unix socket path; yields a
    ``connect(**kwds)`` coroutine function that opens a client to it (and whose
    ``address`` attribute is the server's address)."""
    directory = tempfile.mkdtemp(prefix="ffa")  # short: sun_path is 108 bytes
    try:
        if kind == "tcp":
            server = await aio.start_server(client_connected_cb, "127.0.0.1", 0, framer, **kwds)
            port = server.sockets[0].getsockname()[1]

            async def connect(**kw: Any) -> tuple[aio.FramedReader, aio.FramedWriter]:
                return await aio.open_connection("127.0.0.1", port, framer, **kw)

            connect.address = ("127.0.0.1", port)  # type: ignore[attr-defined]

        else:
            path = os.path.join(directory, "s")
            server = await aio.start_unix_server(client_connected_cb, path, framer, **kwds)

            async def connect(**kw: Any) -> tuple[aio.FramedReader, aio.FramedWriter]:
                return await aio.open_unix_connection(path, framer, **kw)

            connect.address = path  # type: ignore[attr-defined]

        try:
            yield connect
        finally:
            server.close()
            await server.wait_closed()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def handled(body: Callable[[aio.FramedReader, aio.FramedWriter], Awaitable[Any]]) -> tuple[Any, asyncio.Future[Any]]:
    """A coroutine server callback running ``body`` and a future with its outcome
    (an assertion failing in the server fails the test with its own message).
    The server side is closed when ``body`` ends."""
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def cb(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        try:
            result = await body(reader, writer)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            if not done.done():
                done.set_exception(exc)
        else:
            if not done.done():
                done.set_result(result)
        finally:
            writer.close()

    return cb, done


# -- frames -----------------------------------------------------------------------------------


def head_of(framer: Any) -> bytes:
    return b"H" * getattr(framer, "offset", 0)


def send(writer: aio.FramedWriter, framer: Any, payload: bytes) -> None:
    if getattr(framer, "offset", 0):
        writer.send(payload, head=head_of(framer))
    else:
        writer.send(payload)


def send_many(writer: aio.FramedWriter, framer: Any, items: Sequence[bytes]) -> None:
    if getattr(framer, "offset", 0):
        writer.send_many(items, head=head_of(framer))
    else:
        writer.send_many(items)


CANDIDATES = [b"", b"a", b"hello", b"x" * 300, bytes(range(256)), b"a\rb", b"<EN", b"\r\n\r", b"12:"]
SMALL_CANDIDATES = [b"", b"a", b"hello", b"x" * 20, b"a\rb", b"<EN", b"12:"]


def sample_payloads(framer: Any, candidates: Sequence[bytes] = CANDIDATES) -> list[bytes]:
    """Payloads ``framer`` can encode: empty, short, 300 bytes, awkward bytes."""
    if isinstance(framer, ff.FixedSize):
        return [bytes([65 + i]) * framer.size for i in range(6)]
    return [c for c in candidates if expect(framer, c, head_of(framer)).ok]


# framings whose frame is the payload (an echo server can send a frame back as is)
ECHO_FRAMERS = [ff.LengthPrefixed(4), ff.Lines(), ff.Netstring(), ff.VarintPrefixed()]

HOW = ["recv", "recv_many", "iter"]
# (a Windows event loop has no Unix sockets: asyncio raises NotImplementedError)
KINDS = ["tcp", pytest.param("unix", marks=requires_unix_sockets)]


async def drain_frames(reader: aio.FramedReader, how: str) -> list[bytes]:
    """Every frame until a clean EOF, by ``recv``, ``recv_many`` or ``async for``."""
    frames: list[bytes] = []
    if how == "iter":
        async for frame in reader:
            assert type(frame) is bytes
            frames.append(frame)
        return frames
    while True:
        try:
            got = [await reader.recv()] if how == "recv" else await reader.recv_many()
        except ConnectionClosed as exc:
            assert type(exc) is ConnectionClosed, repr(exc)
            return frames
        assert got, "recv_many() returned []"
        assert all(type(frame) is bytes for frame in got)
        frames += got


async def collect(reader: aio.FramedReader, how: str, count: int) -> list[tuple]:
    """At least ``count`` events: ("frame", f) per frame, ("error", type, args) per
    FastframeError raised, ("end",) when ``async for`` ends."""
    out: list[tuple] = []
    while len(out) < count:
        try:
            if how == "recv":
                out.append(("frame", await reader.recv()))
            elif how == "recv_many":
                got = await reader.recv_many()
                assert got, "recv_many() returned []"
                out += [("frame", frame) for frame in got]
            else:
                async for frame in reader:
                    out.append(("frame", frame))
                    if len(out) >= count:
                        break
                else:
                    out.append(("end",))
        except FastframeError as exc:
            out.append(("error", type(exc), exc.args))
    return out


def F(frame: bytes) -> tuple:
    return ("frame", frame)


def E(exc: BaseException) -> tuple:
    return ("error", type(exc), exc.args)


async def until(predicate: Callable[[], bool]) -> None:
    """Wait (bounded by the test's own 10 s limit) until ``predicate()`` holds."""
    while not predicate():
        await asyncio.sleep(0.001)


# -- the cores ---------------------------------------------------------------------------------


def test_framers_are_bound_to_each_core(impl: Any) -> None:
    """impl.bind() really selects the core: the decoder a FramedProtocol makes, and
    the codec a FramedWriter encodes with, are that core's."""
    framer = impl.bind(ff.Lines())
    assert framer == ff.Lines()
    proto = Recorder(framer)
    assert type(proto._decoder).__module__ == impl.module.__name__
    assert type(framer._codec).__module__ == impl.module.__name__


# -- FramedProtocol fed by hand -------------------------------------------------------------------


class Watched(aio.FramedProtocol):
    """A FramedProtocol whose ``lost`` future (made on connection) gets what
    ``connection_lost`` was given."""

    def __init__(self, framer: Any) -> None:
        super().__init__(framer)
        self.lost: asyncio.Future[BaseException | None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.lost = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: BaseException | None) -> None:
        assert self.lost is not None
        self.lost.set_result(exc)


class Recorder(Watched):
    """Records what a FramedProtocol is told, as events (the _support.events
    format).  framing_error records and returns: the connection is kept."""

    def __init__(self, framer: Any) -> None:
        super().__init__(framer)
        self.events: list[tuple] = []

    def frame_received(self, frame: bytes) -> None:
        assert type(frame) is bytes
        self.events.append(F(frame))

    def framing_error(self, exc: FastframeError) -> None:
        self.events.append(E(exc))

    @property
    def frames(self) -> list[bytes]:
        return [e[1] for e in self.events if e[0] == "frame"]


def feed_protocol(proto: aio.FramedProtocol, chunk: bytes, sizehint: int) -> None:
    """What a loop does with one read of ``chunk``: get_buffer(sizehint), write
    into the view, buffer_updated(n), as many times as the views require."""
    while chunk:
        view = proto.get_buffer(sizehint)
        assert not view.readonly and len(view) >= max(sizehint, 1)
        n = min(len(view), len(chunk))
        view[:n] = chunk[:n]
        view.release()
        proto.buffer_updated(n)
        chunk = chunk[n:]


def check_every_chunk(
    framer: Any, chunks: Sequence[bytes], frames: Sequence[bytes], ends: Sequence[int], sizehint: int
) -> Recorder:
    """Feed ``chunks``: after each one, the frames delivered are exactly those
    whose last byte has arrived (``ends``: each frame's end offset in the stream)."""
    proto = Recorder(framer)
    offset = 0
    for chunk in chunks:
        feed_protocol(proto, chunk, sizehint)
        offset += len(chunk)
        due = [frame for frame, end in zip(frames, ends) if end <= offset]
        assert proto.frames == due, (chunks, offset)
    assert proto.eof_received() is None  # the transport closes at EOF
    return proto


def ends_of(wires: Sequence[bytes]) -> list[int]:
    ends, total = [], 0
    for wire in wires:
        total += len(wire)
        ends.append(total)
    return ends


@pytest.mark.parametrize("sizehint", [-1, 65536])
@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_protocol_every_split(impl: Any, framer: Any, sizehint: int) -> None:
    """A small stream fed through get_buffer/buffer_updated whole, byte by byte and
    in every two-piece split (sizehint -1 as asyncio passes, 65536 as uvloop):
    each frame is delivered as soon as its last byte arrives, in order."""
    items = sample_payloads(framer, SMALL_CANDIDATES)
    wires = [wire_of(framer, [p])[0] for p in items]
    frames = wire_of(framer, items)[1]
    wire = b"".join(wires)
    for chunks in every_split(wire):
        proto = check_every_chunk(impl.bind(framer), chunks, frames, ends_of(wires), sizehint)
        assert proto.events == [F(f) for f in frames]


def ok(framer: Any, payload: bytes) -> tuple[bytes, tuple]:
    wire, frames = wire_of(framer, [payload])
    return wire, F(frames[0])


def big(framer: Any, n: int) -> tuple[bytes, tuple]:
    """An oversize frame announcing (or holding) n bytes, and its FrameTooLarge:
    .size is the frame as it would be returned (a delimited framing reports
    max_size + 1, having stopped looking there)."""
    if isinstance(framer, ff.LengthPrefixed):
        size = lp_frame_size(framer, n)
    elif isinstance(framer, (ff.Delimited, ff.Lines)):
        size = framer.max_size + 1
    else:
        size = n
    return oversize_frame(framer, n), E(FrameTooLarge(size, framer.max_size))


SMALL = 8
OVERSIZE_FRAMERS = [
    ff.LengthPrefixed(2, max_size=SMALL),
    ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=SMALL),
    ff.Lines(max_size=SMALL),
    ff.Delimited(b"<END>", max_size=SMALL, keep=True),
    ff.Netstring(max_size=SMALL),
    ff.VarintPrefixed(max_size=SMALL),
]


def oversize_stream(framer: Any) -> list[tuple[bytes, tuple]]:
    """good, oversize, good, good, oversize, oversize, good (wire, event) pieces."""
    return [
        ok(framer, b"a"),
        big(framer, 20),
        ok(framer, b"bc"),
        ok(framer, b""),
        big(framer, 30),
        big(framer, 12),
        ok(framer, b"xyz"),
    ]


@pytest.mark.parametrize("framer", OVERSIZE_FRAMERS, ids=repr)
def test_protocol_every_split_with_oversize_frames(impl: Any, framer: Any) -> None:
    """A FramedProtocol whose framing_error returns keeps going after FrameTooLarge:
    in every split, each good frame is delivered as soon as its last byte arrives
    (also the frames behind an oversize one in the same read), and in the end the
    events are every good frame and one FrameTooLarge per oversize frame, in
    stream order, nothing lost at EOF.

    BUG (aio.py, FramedProtocol._pump): after framing_error() returns, the frames
    the decoder holds behind the oversize frame are not cut until more bytes
    arrive; at EOF, those behind a second oversize frame are lost."""
    pieces = oversize_stream(framer)
    wire = b"".join(w for w, _ in pieces)
    frames = [e[1] for _, e in pieces if e[0] == "frame"]
    ends = [end for end, (_, e) in zip(ends_of([w for w, _ in pieces]), pieces) if e[0] == "frame"]
    for chunks in every_split(wire):
        proto = check_every_chunk(impl.bind(framer), chunks, frames, ends, -1)
        assert proto.events == [e for _, e in pieces], chunks


@IMPL_SETTINGS
@given(data=st.data())
def test_protocol_random_framers_and_chunkings(impl: Any, data: st.DataObject) -> None:
    """Random framers, payloads and chunkings, fed through get_buffer/buffer_updated
    with random size hints: the frames are the payloads' frames (computed from
    DESIGN.md), each delivered as soon as its last byte arrives."""
    framer = data.draw(framers(), label="framer")
    wires: list[bytes] = []
    frames: list[bytes] = []
    for payload in data.draw(st.lists(payloads(framer, extra=0), max_size=10), label="payloads"):
        outcome = expect(framer, payload, data.draw(heads(framer)))
        if outcome.ok:
            wires.append(outcome.wire)  # type: ignore[arg-type]
            frames.append(outcome.frame)  # type: ignore[arg-type]
    chunks = data.draw(chunkings(b"".join(wires)), label="chunks")
    sizehint = data.draw(st.sampled_from([-1, 0, 1, 65536]), label="sizehint")
    proto = check_every_chunk(impl.bind(framer), chunks, frames, ends_of(wires), sizehint)
    assert proto.events == [F(f) for f in frames]


def protocol_events(framer: Any, chunks: Sequence[bytes]) -> list[tuple]:
    """What a Recorder is told for ``chunks`` then EOF, up to the first ProtocolError
    (which repeats for every later read)."""
    proto = Recorder(framer)
    for chunk in chunks:
        feed_protocol(proto, chunk, -1)
    proto.eof_received()
    out = []
    for event in proto.events:
        out.append(event)
        if event[0] == "error" and event[1] is ProtocolError:
            break
    return out


@st.composite
def cut_streams(draw: st.DrawFn) -> tuple[Any, list[bytes]]:
    """A framer and a stream of its frames, garbage and oversize frames, cut anywhere."""
    framer = draw(framers(), label="framer")
    return framer, draw(chunkings(draw(streams(framer), label="stream")), label="chunks")


@IMPL_SETTINGS
@given(case=cut_streams())
# two oversize frames, then an empty frame: found by this test (the frame is lost at EOF)
@example(case=(ff.LengthPrefixed(1, max_size=1), [b"\x02xx\x02xx\x00"]))
def test_protocol_delivers_what_the_decoder_cuts(impl: Any, case: tuple[Any, list[bytes]]) -> None:
    """Random streams with garbage and oversize frames, cut anywhere: a Recorder
    (framing_error returns) is told exactly what the sans-IO decoder of the same
    core yields for those reads then EOF (frames, FrameTooLarge, ProtocolError,
    IncompleteFrame, in order), and the other core's Recorder the same.

    Fails while the FramedProtocol EOF bug above is there (frames held behind a
    FrameTooLarge met at EOF are lost)."""
    framer, chunks = case
    reference = decoder_events(impl.decoder(framer), [Feed(c) for c in chunks])
    assert protocol_events(impl.bind(framer), chunks) == reference
    for core in CORES:
        if core.module is not impl.module:
            assert protocol_events(core.bind(framer), chunks) == reference


# -- request / reply -------------------------------------------------------------------------------


@pytest.mark.parametrize("framer", ECHO_FRAMERS, ids=repr)
@pytest.mark.parametrize("kind", KINDS)
def test_request_reply(impl: Any, loop_kind: str, kind: str, framer: Any) -> None:
    """A server answers each request (send + drain); the client sends one, awaits
    its reply, and so on; at the client's EOF the server closes, and the client
    sees a clean ConnectionClosed."""
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
        async with serving(kind, cb, framer) as connect:
            reader, writer = await connect()
            assert isinstance(reader, aio.FramedReader) and isinstance(writer, aio.FramedWriter)
            for request in requests:
                writer.send(request)
                await writer.drain()
                assert await reader.recv() == b"re:" + request
            writer.write_eof()
            assert await done == requests
            with pytest.raises(ConnectionClosed) as info:
                await reader.recv()
            assert type(info.value) is ConnectionClosed
            writer.close()
            await writer.wait_closed()

    run(loop_kind, main)


@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_wire_bytes_both_ways(impl: Any, loop_kind: str, framer: Any) -> None:
    """send, sendall (raw, unframed) and send_many put exactly DESIGN.md's wire bytes
    on the wire, in call order; the peer's wire bytes come out as DESIGN.md's frames."""
    items = sample_payloads(framer)
    half = len(items) // 2
    out_wire = wire_of(framer, items[:half])[0] + b"RAW\x00" + wire_of(framer, items[half:])[0]
    in_wire, in_frames = wire_of(framer, items[::-1])

    async def main() -> None:
        async with raw_peer(impl.bind(framer)) as (reader, writer, peer):
            for item in items[:half]:
                send(writer, framer, item)
            writer.sendall(b"RAW\x00")
            send_many(writer, framer, items[half:])
            await writer.drain()
            writer.write_eof()
            assert await peer.read_all() == out_wire
            await peer.send(in_wire)
            peer.shutdown_write()
            assert await drain_frames(reader, "recv") == in_frames

    run(loop_kind, main)


def test_sendall_counts_bytes_not_items(impl: Any, loop_kind: str) -> None:
    """sendall takes any bytes-like object: an array of ints, and a memoryview of
    one, arrive byte for byte, also when the transport has to keep the rest."""
    ints = array.array("i", range(300_000))  # 1.2 MB: more than one send takes

    async def main() -> None:
        async with raw_peer(impl.bind(ff.LengthPrefixed(4))) as (_, writer, peer):
            received = asyncio.ensure_future(peer.read_all())
            writer.sendall(ints)
            writer.sendall(memoryview(ints))
            await writer.drain()
            writer.write_eof()
            assert await received == ints.tobytes() * 2

    run(loop_kind, main)


def test_an_error_raised_again_gets_a_fresh_traceback(impl: Any, loop_kind: str) -> None:
    """A reader raises its ProtocolError at every call; the tracebacks do not pile up."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Netstring())) as (reader, _, peer):
            await peer.send(b"x:")
            depths = []
            for _ in range(3):
                try:
                    await reader.recv()
                except ProtocolError as exc:
                    depths.append(len(traceback.extract_tb(exc.__traceback__)))
            assert len(depths) == 3 and len(set(depths)) == 1, depths

    run(loop_kind, main)


# -- ten thousand pipelined frames -------------------------------------------------------------------


PIPELINED = [b"frame %d " % i * (i % 4) for i in range(10_000)]


async def batch_echo(reader: aio.FramedReader, writer: aio.FramedWriter) -> int:
    """Echo every frame back (recv_many / send_many + drain) until the peer's EOF."""
    count = 0
    while True:
        try:
            frames = await reader.recv_many()
        except ConnectionClosed:
            return count
        count += len(frames)
        writer.send_many(frames)
        await writer.drain()


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("sending", ["send_many", "send"])
@pytest.mark.parametrize("kind", KINDS)
def test_ten_thousand_pipelined_frames(impl: Any, loop_kind: str, kind: str, sending: str, how: str) -> None:
    """The client sends 10 000 frames without waiting (one send_many, or a send
    per frame), half-closes, and reads every echoed frame back, in order."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def main() -> None:
        cb, done = handled(batch_echo)
        async with serving(kind, cb, framer) as connect:
            reader, writer = await connect()
            if sending == "send_many":
                writer.send_many(PIPELINED)
            else:
                for payload in PIPELINED:
                    writer.send(payload)
            await writer.drain()
            writer.write_eof()
            got = await drain_frames(reader, how)
            assert len(got) == len(PIPELINED)
            assert got == PIPELINED
            assert await done == len(PIPELINED)
            writer.close()

    run(loop_kind, main)


@pytest.mark.parametrize("framer", [ff.LengthPrefixed(2), ff.Lines(), ff.VarintPrefixed()], ids=repr)
@pytest.mark.parametrize("how", HOW)
def test_ten_thousand_frames_in_one_write(impl: Any, loop_kind: str, framer: Any, how: str) -> None:
    """A raw peer writes 10 000 frames (wire from DESIGN.md) in one write, then
    half-closes: the reader gets those 10 000 frames, in order."""
    wire, frames = wire_of(framer, PIPELINED)

    async def main() -> None:
        async with raw_peer(impl.bind(framer)) as (reader, writer, peer):
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
def test_frames_split_across_real_reads(impl: Any, loop_kind: str, data: st.DataObject) -> None:
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
        async with raw_peer(impl.bind(framer), kind="tcp") as (reader, writer, peer):
            reading = asyncio.ensure_future(drain_frames(reader, how))
            await peer.send_chunks(chunks)
            peer.shutdown_write()
            assert await reading == frames

    run(loop_kind, main)


# -- half-close ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("kind", KINDS)
def test_half_close(impl: Any, loop_kind: str, kind: str, how: str) -> None:
    """The client sends its requests and write_eof(); the server reads until the
    clean EOF (async for ends, recv() raises ConnectionClosed, at_eof()), then
    replies on its still-open side; the client reads every reply."""
    framer = impl.bind(ff.Netstring())
    requests = [b"req %d" % i for i in range(50)]

    async def body(reader: aio.FramedReader, writer: aio.FramedWriter) -> list[bytes]:
        got = await drain_frames(reader, how)
        with pytest.raises(ConnectionClosed) as info:
            await reader.recv()
        assert type(info.value) is ConnectionClosed
        assert reader.at_eof()
        assert writer.can_write_eof()
        writer.send_many([b"n=%d" % len(got)] + got[::-1])
        await writer.drain()
        return got

    async def main() -> None:
        cb, done = handled(body)
        async with serving(kind, cb, framer) as connect:
            reader, writer = await connect()
            writer.send_many(requests)
            assert writer.can_write_eof()
            writer.write_eof()
            replies = await drain_frames(reader, how)
            assert await done == requests
            assert replies == [b"n=50"] + requests[::-1]
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()

    run(loop_kind, main)


# -- peer reset ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_peer_reset(impl: Any, loop_kind: str, how: str) -> None:
    """A raw TCP peer sends frames and part of one, then closes with SO_LINGER 0
    (RST): every whole frame is delivered, then ConnectionResetError (again on
    every later call); send and drain raise too."""
    framer = impl.bind(ff.LengthPrefixed(2))
    wire, frames = wire_of(framer, [b"one", b"", b"three"])

    async def main() -> None:
        async with raw_peer(framer, kind="tcp") as (reader, writer, peer):
            await peer.send(wire + b"\x00\x09par")
            if sys.platform == "win32":  # a RST there drops what the reader has not taken in yet
                await until(lambda: len(reader._frames) == len(frames))
            peer.reset()
            got: list[bytes] = []
            with pytest.raises(ConnectionResetError):
                if how == "iter":
                    async for frame in reader:
                        got.append(frame)
                else:
                    while True:
                        got += [await reader.recv()] if how == "recv" else await reader.recv_many()
            assert got == frames
            for call in (reader.recv, reader.recv_many, reader.recv):
                with pytest.raises(ConnectionResetError):
                    await call()
            with pytest.raises(ConnectionResetError):
                async for _ in reader:
                    pass
            with pytest.raises(ConnectionResetError):
                writer.send(b"x")
            with pytest.raises(ConnectionResetError):
                writer.send_many([b"x"])
            with pytest.raises(ConnectionResetError):
                await writer.drain()
            await writer.wait_closed()

    run(loop_kind, main)


def test_peer_reset_while_an_error_is_pending(impl: Any, loop_kind: str) -> None:
    """The connection is lost (the peer resets; the writer notices) while reading
    is paused on an unread FrameTooLarge: the reader gives the frame before, the
    FrameTooLarge, the frame after, then ConnectionResetError, not a clean EOF.

    BUG (aio.py, FramedReader._fail / _StreamProtocol._end): _fail() keeps only the
    first error, so the loss is dropped and the reader ends with ConnectionClosed
    (an EOFError, not an OSError), as if the peer had closed cleanly."""
    framer = impl.bind(ff.LengthPrefixed(1, max_size=3))

    async def main() -> None:
        async with raw_peer(framer, kind="tcp", presend=b"\x01a\x05xxxxx\x01b") as (reader, writer, peer):
            assert await reader.recv() == b"a"  # that read also met the oversize frame
            peer.reset()
            noticed = None
            for _ in range(200):
                try:
                    writer.send(b"p")
                    await writer.drain()
                except OSError as exc:
                    noticed = exc
                    break
                await asyncio.sleep(0.005)
            assert isinstance(noticed, OSError), repr(noticed)
            with pytest.raises(FrameTooLarge):
                await reader.recv()
            assert await reader.recv() == b"b"
            with pytest.raises(OSError):  # the loss (ECONNRESET or EPIPE), not ConnectionClosed
                await reader.recv()

    run(loop_kind, main)


def test_peer_reset_wakes_a_waiting_recv(impl: Any, loop_kind: str) -> None:
    """A recv() waiting for a frame raises ConnectionResetError when the peer resets."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), kind="tcp") as (reader, writer, peer):
            await peer.send(b"first\n")
            assert await reader.recv() == b"first"
            waiting = asyncio.ensure_future(reader.recv())
            for _ in range(3):
                await asyncio.sleep(0)
            assert not waiting.done()
            peer.reset()
            with pytest.raises(ConnectionResetError):
                await waiting

    run(loop_kind, main)


# -- oversize frames and protocol errors ------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("framer", OVERSIZE_FRAMERS, ids=repr)
def test_oversize_frames_skipped_in_one_read(impl: Any, loop_kind: str, framer: Any, how: str) -> None:
    """Good, oversize, good, good, oversize, oversize, good frames in the reader's
    first read, then the peer goes quiet: every good frame before, FrameTooLarge
    (.size, .max_size), the good frames after, ... all without another byte
    arriving; then the peer's EOF is a clean ConnectionClosed."""
    pieces = oversize_stream(framer)
    wire = b"".join(w for w, _ in pieces)
    expected = [e for _, e in pieces]

    async def main() -> None:
        async with raw_peer(impl.bind(framer), presend=wire) as (reader, writer, peer):
            assert await collect(reader, how, len(expected)) == expected
            peer.shutdown_write()
            assert await drain_frames(reader, how) == []

    run(loop_kind, main)


def test_frame_too_large_attributes(impl: Any, loop_kind: str) -> None:
    """The exception recv() raises is a FrameTooLarge (a ValueError) with .size and
    .max_size; the frame after it follows."""

    async def main() -> None:
        framer = impl.bind(ff.LengthPrefixed(4, max_size=100))
        async with raw_peer(framer, presend=b"\x00\x00\x00\x65" + b"z" * 101 + b"\x00\x00\x00\x02ok") as (reader, _, _p):
            with pytest.raises(FrameTooLarge) as info:
                await reader.recv()
            assert isinstance(info.value, ValueError)
            assert (info.value.size, info.value.max_size) == (101, 100)
            assert await reader.recv() == b"ok"

    run(loop_kind, main)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("pieces", ["one write", "64 KiB writes"])
def test_large_oversize_frame_across_many_reads(impl: Any, loop_kind: str, pieces: str, how: str) -> None:
    """A 3 MiB frame over max_size (1000) arriving over many reads: FrameTooLarge
    after the frame before it, the body is skipped, the frames after it come out
    (sent in the same write, or after it), then a clean EOF."""
    framer = impl.bind(ff.LengthPrefixed(4, max_size=1000))
    body = 3 * MiB
    before, after = wire_of(framer, [b"before"])[0], wire_of(framer, [b"after", b"x" * 1000])[0]
    wire = before + oversize_frame(framer, body) + after
    expected = [F(b"before"), E(FrameTooLarge(body, 1000)), F(b"after"), F(b"x" * 1000)]

    async def main() -> None:
        async with raw_peer(framer, kind="tcp") as (reader, writer, peer):
            if pieces == "one write":
                chunks = [wire]
            else:
                chunks = [wire[i : i + 64 * 1024] for i in range(0, len(wire), 64 * 1024)]
            sender = asyncio.ensure_future(peer.send_chunks(chunks, pause=0))
            assert await collect(reader, how, len(expected)) == expected
            await sender
            peer.shutdown_write()
            assert await drain_frames(reader, how) == []

    run(loop_kind, main)


PROTOCOL_ERRORS = [
    # framer, good frames, bad bytes, the ProtocolError's message
    (ff.Netstring(), b"1:a,", b"x:1:b,", "netstring length has a non-digit byte b'x'"),
    (ff.Netstring(), b"1:a,", b"1:bX1:c,", "netstring does not end with b',' but b'X'"),
    (ff.LengthPrefixed(1, adjustment=-2), b"\x03a", b"\x00\x03b", "length field 0 with adjustment -2 gives a negative length"),
    (ff.VarintPrefixed(), b"\x01a", b"\x80" * 11, "varint length is longer than 10 bytes"),
]


@pytest.mark.parametrize(("framer", "good", "bad", "message"), PROTOCOL_ERRORS, ids=[repr(c[2]) for c in PROTOCOL_ERRORS])
def test_protocol_error_is_sticky(impl: Any, loop_kind: str, framer: Any, good: bytes, bad: bytes, message: str) -> None:
    """The frames before a malformed one, then ProtocolError from every later call
    (recv, recv_many, async for), also after the peer sends good frames and closes."""
    framer = impl.bind(framer)

    async def main() -> None:
        async with raw_peer(framer, presend=good + bad) as (reader, writer, peer):
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
            peer.shutdown_write()
            for _ in range(20):
                await asyncio.sleep(0.001)
            with pytest.raises(ProtocolError) as info:
                await reader.recv()
            assert info.value.args == (message,)

    run(loop_kind, main)


# -- EOF --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_clean_eof(impl: Any, loop_kind: str, how: str) -> None:
    """EOF between frames: every frame, then ConnectionClosed (not IncompleteFrame)
    from recv and recv_many, again and again; async for ends; at_eof()."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.LengthPrefixed(4))) as (reader, writer, peer):
            await peer.send(b"\x00\x00\x00\x02hi\x00\x00\x00\x00")
            peer.shutdown_write()
            assert await drain_frames(reader, how) == [b"hi", b""]
            assert reader.at_eof()
            for call in (reader.recv, reader.recv_many, reader.recv):
                with pytest.raises(ConnectionClosed) as info:
                    await call()
                assert type(info.value) is ConnectionClosed
            assert [f async for f in reader] == []

    run(loop_kind, main)


def test_eof_at_once_and_eof_wakes_a_waiting_recv(impl: Any, loop_kind: str) -> None:
    """A recv() waiting when the peer half-closes without sending raises
    ConnectionClosed; so does a recv_many() waiting on another connection."""

    async def main() -> None:
        for name in ("recv", "recv_many"):
            async with raw_peer(impl.bind(ff.Lines())) as (reader, writer, peer):
                assert not reader.at_eof()
                waiting = asyncio.ensure_future(getattr(reader, name)())
                for _ in range(3):
                    await asyncio.sleep(0)
                assert not waiting.done()
                peer.shutdown_write()
                with pytest.raises(ConnectionClosed) as info:
                    await waiting
                assert type(info.value) is ConnectionClosed
                assert reader.at_eof()

    run(loop_kind, main)


CUT = [
    # framer, stream, whole frames, IncompleteFrame(partial, expected) from DESIGN.md
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x01a\x00\x00", [b"a"], (b"\x00\x00", None)),
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x05he", [], (b"\x00\x00\x00\x05he", 4 + 5)),
    (ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0), b"Q\x00\x00\x00\x0asel", [], (b"Q\x00\x00\x00\x0asel", 1 + 4 + 6)),
    (ff.Lines(), b"x\nabc\r", [b"x"], (b"abc\r", None)),
    (ff.Delimited(b"<END>"), b"ok<END>abc<EN", [b"ok"], (b"abc<EN", None)),
    (ff.FixedSize(4), b"abcdef", [b"abcd"], (b"ef", 4)),
    (ff.Netstring(), b"1:a,5:hel", [b"a"], (b"5:hel", 2 + 5 + 1)),
    (ff.VarintPrefixed(), b"\x00\xac\x02abc", [b""], (b"\xac\x02abc", 2 + 300)),
    # a large frame (>= 64 KiB: the large-frame path), cut short
    (ff.LengthPrefixed(4), b"\x00\x02\x00\x00" + b"z" * 100_000, [], (b"\x00\x02\x00\x00" + b"z" * 100_000, 4 + 131_072)),
]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(("framer", "stream", "frames", "cut"), CUT, ids=[repr(c[1][:12]) for c in CUT])
def test_eof_inside_a_frame(impl: Any, loop_kind: str, framer: Any, stream: bytes, frames: list, cut: tuple, how: str) -> None:
    """EOF inside a header or a body: every whole frame, then IncompleteFrame with
    exactly the unfinished frame's bytes (header included) and its wire size when
    known; async for raises it too (it does not just stop); every later call
    raises it again."""

    async def main() -> None:
        async with raw_peer(impl.bind(framer)) as (reader, writer, peer):
            await peer.send(stream)
            peer.shutdown_write()
            got: list[bytes] = []
            with pytest.raises(IncompleteFrame) as info:
                if how == "iter":
                    async for frame in reader:
                        got.append(frame)
                else:
                    while True:
                        got += [await reader.recv()] if how == "recv" else await reader.recv_many()
            assert got == frames
            assert type(info.value.partial) is bytes
            assert (info.value.partial, info.value.expected) == cut
            for call in (reader.recv, reader.recv_many):
                with pytest.raises(IncompleteFrame) as again:
                    await call()
                assert again.value.args == cut
            assert reader.at_eof()

    run(loop_kind, main)


def test_at_eof(impl: Any, loop_kind: str) -> None:
    """at_eof(): False while the peer may still send, and while frames that arrived
    before its EOF are unread; True once they are read."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), presend=b"one\ntwo\n") as (reader, writer, peer):
            assert await reader.recv() == b"one"
            assert await reader.recv() == b"two"
            assert not reader.at_eof()
            await peer.send(b"three\n")
            peer.shutdown_write()
            for _ in range(100):  # the EOF is read: at_eof() still False, a frame is held
                await asyncio.sleep(0.001)
            assert not reader.at_eof()
            assert await reader.recv() == b"three"
            assert reader.at_eof()

    run(loop_kind, main)


# -- backpressure (read side) ----------------------------------------------------------------------------------


FLOOD = 128 * MiB
FLOOD_FRAME = 4096


class Flood(threading.Thread):
    """A peer sending ``count`` LengthPrefixed(4) frames of ``size`` bytes, each
    starting with its index (8 bytes, big-endian), as fast as its blocking socket
    takes them, then half-closing."""

    def __init__(self, sock: socket.socket, count: int, size: int) -> None:
        super().__init__(daemon=True)
        self.sock, self.count, self.size = sock, count, size
        self.sent = 0  # bytes the kernel has taken
        self.done = False
        self.error: BaseException | None = None

    def run(self) -> None:
        framer = ff.LengthPrefixed(4)
        header = field_bytes(framer, length_field(framer, self.size))
        filler = b"f" * (self.size - 8)
        try:
            for start in range(0, self.count, 64):
                chunk = b"".join(
                    header + i.to_bytes(8, "big") + filler for i in range(start, min(start + 64, self.count))
                )
                self.sock.sendall(chunk)
                self.sent += len(chunk)
            self.sock.shutdown(socket.SHUT_WR)
            self.done = True
        except OSError as exc:
            self.error = exc
        finally:
            self.sock.close()


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


def test_slow_consumer_memory_stays_bounded(impl: Any, loop_kind: str) -> None:
    """A peer streams 128 MiB of 4 KiB frames as fast as it can while the reader
    does not read: the transport stops reading (the peer stalls with most of it
    unsent) and what the reader holds stays under high_water + one read + one
    frame; the memory traced (tracemalloc peak) stays within a few MiB.  Then
    consumed slowly: reading resumes, every frame arrives in order, and no batch
    nor the traced memory grows past the same bounds."""
    count = FLOOD // FLOOD_FRAME
    a, b = connected_pair("tcp4")
    flood = Flood(b, count, FLOOD_FRAME)
    bound = aio.DEFAULT_HIGH_WATER + aio.BUSY_READ_SIZE + FLOOD_FRAME  # + one read
    traced_bound = bound + 4 * MiB  # the decoder's buffers, the peer's chunk, the loop's own
    measured: dict[str, Any] = {}

    async def main() -> None:
        reader, writer = await aio.open_connection(sock=a, framer=impl.bind(ff.LengthPrefixed(4)))
        transport = writer.transport
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            flood.start()
            await until_stalled(transport, flood)
            measured["paused"] = not transport.is_reading()
            measured["peer sent while paused"] = flood.sent
            measured["flood peak"] = tracemalloc.get_traced_memory()[1] - base
            held = await reader.recv_many()  # returns at once: exactly the frames held
            measured["held frames"] = len(held)
            measured["held bytes"] = sum(map(len, held))
            measured["resumed"] = transport.is_reading()
            assert measured["paused"] and not flood.done, measured
            assert measured["held bytes"] + aio.FRAME_OVERHEAD * len(held) > aio.DEFAULT_HIGH_WATER, measured
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


def test_flood_of_empty_frames_is_bounded(impl: Any, loop_kind: str) -> None:
    """Empty frames cost no payload but still count (64 bytes each): a peer sending
    8 MiB of empty LengthPrefixed(1) frames makes the reader pause with at most
    high_water / 64 + one read's worth of them held, not millions.  (A socketpair:
    its kernel buffers do not grow to MiBs as TCP's do.)"""
    a, b = connected_pair("socketpair")
    measured: dict[str, Any] = {}

    class Zeros(Flood):
        def run(self) -> None:
            chunk = bytes(64 * 1024)
            try:
                for _ in range(8 * 16):
                    self.sock.sendall(chunk)
                    self.sent += len(chunk)
                self.done = True
            except OSError as exc:
                self.error = exc
            finally:
                self.sock.close()

    flood = Zeros(b, 0, 0)

    async def main() -> None:
        reader, writer = await aio.open_connection(sock=a, framer=impl.bind(ff.LengthPrefixed(1)))
        try:
            flood.start()
            await until_stalled(writer.transport, flood)
            measured["paused"] = not writer.transport.is_reading()
            held = await reader.recv_many()
            measured["held frames"] = len(held)
            measured["peer sent"] = flood.sent
            assert measured["paused"] and not flood.done, measured
            assert set(held) == {b""}
            assert len(held) > aio.DEFAULT_HIGH_WATER // aio.FRAME_OVERHEAD, measured
            assert len(held) <= aio.DEFAULT_HIGH_WATER // aio.FRAME_OVERHEAD + RECV_SIZE, measured
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
        # frames of 100 bytes count 164: 7 * 164 = 1148 > 1000 (6 * 164 = 984 is not),
        # and 2 * 164 = 328 <= 400 (3 * 164 = 492 is not)
        (1000, 400, 7, 5),
        # low_water defaults to high_water // 4 = 1000: 25 * 164 > 4000 >= 24 * 164,
        # 6 * 164 <= 1000 < 7 * 164
        (4000, None, 25, 19),
    ],
)
def test_custom_water_marks(impl: Any, loop_kind: str, high: int, low: int | None, first_batch: int, resume_after: int) -> None:
    """Reading pauses as soon as the frames held count more than high_water (each
    frame its length + 64) and resumes exactly when a recv brings them to
    low_water or less; frames sent while paused then arrive, in order."""
    framer = impl.bind(ff.LengthPrefixed(2))
    payload_list = [bytes([i]) * 100 for i in range(first_batch + 3)]
    wire = [wire_of(framer, [p])[0] for p in payload_list]

    async def main() -> None:
        async with raw_peer(framer, high_water=high, low_water=low) as (reader, writer, peer):
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


def test_high_water_zero(impl: Any, loop_kind: str) -> None:
    """high_water=0: reading pauses after every read that brings a frame and
    resumes once all are read; everything still arrives."""
    framer = impl.bind(ff.Lines())
    lines = [b"line %d" % i for i in range(500)]
    wire = wire_of(framer, lines)[0]

    async def main() -> None:
        async with raw_peer(framer, high_water=0) as (reader, writer, peer):
            sender = asyncio.ensure_future(peer.send_chunks(split(wire, range(0, len(wire), 97)), pause=0))
            got = []
            while len(got) < len(lines):
                got += await reader.recv_many()
                assert writer.transport.is_reading()
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
def test_water_marks_accepted(impl: Any, loop_kind: str, high: int, low: int | None) -> None:
    """0 <= low_water <= high_water is accepted (equal, zero), and frames flow."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), high_water=high, low_water=low) as (reader, _, peer):
            await peer.send(b"a\nb\n")
            assert [await reader.recv(), await reader.recv()] == [b"a", b"b"]

    run(loop_kind, main)


# -- cancellation ------------------------------------------------------------------------------------------------


async def one(reader: aio.FramedReader, how: str) -> list[bytes]:
    return [await reader.recv()] if how == "recv" else await reader.recv_many()


@pytest.mark.parametrize("by", ["cancel", "wait_for"])
@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_cancelled_wait_loses_nothing(impl: Any, loop_kind: str, how: str, by: str) -> None:
    """A waiting recv / recv_many cancelled (task.cancel(), or a wait_for timeout)
    loses nothing: the frame sent afterwards is what the next call returns."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):
            for i in range(5):
                if by == "cancel":
                    task = asyncio.ensure_future(one(reader, how))
                    for _ in range(3):
                        await asyncio.sleep(0)
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                else:
                    with pytest.raises(asyncio.TimeoutError):
                        await asyncio.wait_for(one(reader, how), 0.01)
                await peer.send(wire_of(framer, [b"frame %d" % i])[0])
                assert await one(reader, how) == [b"frame %d" % i]

    run(loop_kind, main)


@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_cancel_racing_a_frame(impl: Any, loop_kind: str, how: str) -> None:
    """The cancel lands before, while or after the frame's bytes are read and the
    waiter woken (every interleaving of a few loop iterations): the frame is
    returned either by the cancelled call or by the next one, exactly once."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):
            sent, got = [], []
            n = 0
            for before in range(3):
                for after in range(5):
                    payload = b"%d" % n
                    n += 1
                    task = asyncio.ensure_future(one(reader, how))
                    for _ in range(before):
                        await asyncio.sleep(0)
                    await peer.send(wire_of(framer, [payload])[0])
                    sent.append(payload)
                    for _ in range(after):
                        await asyncio.sleep(0)
                    task.cancel()
                    try:
                        got += await task
                    except asyncio.CancelledError:
                        got += await one(reader, how)
            assert got == sent

    run(loop_kind, main)


@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_wait_for_timeouts_while_frames_stream(impl: Any, loop_kind: str, how: str) -> None:
    """A consumer calling wait_for(reader.recv(), tiny timeout) in a loop while
    2000 frames stream in (with pauses, so that timeouts happen): every frame is
    received exactly once, in order."""
    framer = impl.bind(ff.LengthPrefixed(2))
    sent = [b"%d" % i for i in range(2000)]

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):

            async def produce() -> None:
                for i, payload in enumerate(sent):
                    await peer.send(wire_of(framer, [payload])[0])
                    await asyncio.sleep(0.001 if i % 50 == 0 else 0)

            producer = asyncio.ensure_future(produce())
            got: list[bytes] = []
            timeouts = 0
            while len(got) < len(sent):
                try:
                    got += await asyncio.wait_for(one(reader, how), 0.0002)
                except asyncio.TimeoutError:
                    timeouts += 1
            await producer
            assert got == sent
            assert timeouts > 0  # the race was run

    run(loop_kind, main)


# -- FramedProtocol subclasses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizehint", [-1, 0])
def test_protocol_reads_more_once_a_read_fills_the_buffer(impl: Any, sizehint: int) -> None:
    """A connection whose read fills the buffer offered is busy: from then on it
    is offered aio.BUSY_READ_SIZE (fewer loop iterations); until then, and for
    reads that do not fill it, the decoder's own size.  Frames are unaffected."""
    framer = impl.bind(ff.LengthPrefixed(4))
    proto = Recorder(framer)
    first = proto.get_buffer(sizehint)
    size = len(first)
    assert size < aio.BUSY_READ_SIZE
    first.release()
    proto.buffer_updated(0)
    assert len(proto.get_buffer(sizehint)) == size  # a read that did not fill it
    stream, _ = wire_of(framer, [b"p" * 60] * (size // 64 + 2))
    feed_protocol(proto, stream[:size], sizehint)  # exactly fills the view
    view = proto.get_buffer(sizehint)
    assert len(view) >= aio.BUSY_READ_SIZE
    view[: len(stream) - size] = stream[size:]
    view.release()
    proto.buffer_updated(len(stream) - size)
    assert proto.frames == [b"p" * 60] * (size // 64 + 2)


def test_protocol_frame_received_order(impl: Any, loop_kind: str) -> None:
    """frame_received gets each frame, in order, across reads; at the peer's EOF
    eof_received returns None and the transport closes (connection_lost(None))."""
    framer = impl.bind(ff.Netstring())
    items = [b"p%d" % i * (i % 5) for i in range(300)]
    wire, frames = wire_of(framer, items)

    async def main() -> None:
        proto = Recorder(framer)
        async with protocol_peer(proto) as (transport, peer):
            assert proto.transport is transport
            await peer.send_chunks(split(wire, range(0, len(wire), 333)))
            peer.shutdown_write()
            assert await proto.lost is None
            assert proto.events == [F(f) for f in frames]
            assert transport.is_closing()

    run(loop_kind, main)


@pytest.mark.parametrize("kind", KINDS)
def test_protocol_on_a_server(impl: Any, loop_kind: str, kind: str) -> None:
    """A FramedProtocol subclass behind loop.create_server (TCP) or
    loop.create_unix_server gets a client's frames."""
    framer = impl.bind(ff.VarintPrefixed())
    protos: list[Recorder] = []
    wire, frames = wire_of(framer, [b"x" * i for i in range(200)])

    async def main() -> None:
        directory = tempfile.mkdtemp(prefix="ffa")
        path = os.path.join(directory, "s")
        loop = asyncio.get_running_loop()
        factory = lambda: protos.append(Recorder(framer)) or protos[-1]  # noqa: E731
        if kind == "tcp":
            server = await loop.create_server(factory, "127.0.0.1", 0)
        else:
            server = await loop.create_unix_server(factory, path)
        try:
            if kind == "tcp":
                client = socket.create_connection(server.sockets[0].getsockname()[:2], timeout=IO_TIMEOUT)
            else:
                client = socket.socket(socket.AF_UNIX)
                client.connect(path)
            peer = Peer(client)
            await peer.send(wire)
            peer.shutdown_write()
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


def test_protocol_frames_received_gets_whole_batches(impl: Any, loop_kind: str) -> None:
    """An override of frames_received gets every frame one read completed as one
    list: 100 frames already waiting are one batch; later writes give further
    batches; frame_received is not called."""
    framer = impl.bind(ff.LengthPrefixed(1))
    first = [b"%d" % i for i in range(100)]
    later = [[b"a", b"b"], [b"c"], [b"d", b"e", b"f"]]

    async def main() -> None:
        proto = Batches(framer)
        async with protocol_peer(proto, presend=wire_of(framer, first)[0]) as (transport, peer):
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
def test_protocol_default_framing_error_aborts(impl: Any, loop_kind: str, framer: Any, stream: bytes) -> None:
    """By default bad input aborts the connection after the frames before it were
    delivered; nothing after it is delivered; the peer sees the connection end."""

    async def main() -> None:
        proto = Plain(impl.bind(framer))
        async with protocol_peer(proto, presend=stream) as (transport, peer):
            assert await proto.lost is None  # type: ignore[misc]
            assert proto.frames == [b"a", b"bc"]
            assert transport.is_closing()
            try:
                assert await peer.read_all() == b""
            except ConnectionResetError:
                pass  # an abort may reset

    run(loop_kind, main)


@pytest.mark.parametrize("framer", OVERSIZE_FRAMERS, ids=repr)
def test_protocol_keeps_going_after_frame_too_large_peer_quiet(impl: Any, loop_kind: str, framer: Any) -> None:
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
        async with protocol_peer(proto, presend=wire) as (transport, peer):
            # ``wire`` is the first read, handled in one callback: once anything is
            # delivered, all of it must have been
            await until(lambda: bool(proto.events))
            assert proto.events == expected
            await peer.send(more)
            await until(lambda: len(proto.events) > len(expected))
            assert proto.events == expected + [F(more_frames[0])]
            assert not transport.is_closing()

    run(loop_kind, main)


def test_protocol_keeps_going_after_frame_too_large_at_eof(impl: Any, loop_kind: str) -> None:
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
        async with protocol_peer(proto, presend=stream) as (transport, peer):
            peer.shutdown_write()
            assert await proto.lost is None  # type: ignore[misc]
            assert proto.events == [too_large, F(b"a"), too_large, F(b"b")]

    run(loop_kind, main)


def test_protocol_incomplete_frame_at_eof(impl: Any, loop_kind: str) -> None:
    """EOF inside a frame: the whole frames, then framing_error(IncompleteFrame)
    with the partial bytes and the expected size; then the connection closes."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def main() -> None:
        proto = Recorder(framer)
        async with protocol_peer(proto, presend=b"\x00\x01a\x00\x02bc\x00\x05hel") as (transport, peer):
            peer.shutdown_write()
            assert await proto.lost is None  # type: ignore[misc]
            assert proto.events == [F(b"a"), F(b"bc"), E(IncompleteFrame(b"\x00\x05hel", 7))]

    run(loop_kind, main)


def test_protocol_without_frame_received(impl: Any, loop_kind: str) -> None:
    """A subclass that does not implement frame_received: the first frame raises
    NotImplementedError, which the loop surfaces as it does any protocol error
    (reported to its exception handler, the connection closed with it)."""

    class Forgot(Watched):
        pass

    reports: list[dict[str, Any]] = []

    async def main() -> None:
        proto = Forgot(impl.bind(ff.Lines()))
        async with protocol_peer(proto, presend=b"hello\n") as (transport, peer):
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


# -- API edges ----------------------------------------------------------------------------------------------------------


def test_recv_many_max_frames(impl: Any, loop_kind: str) -> None:
    """recv_many(max_frames=n) returns at most n of the frames held, in order;
    max_frames below 1 is a ValueError, a non-integer a TypeError (at once, even
    with no frame waiting)."""
    framer = impl.bind(ff.LengthPrefixed(1))
    items = [b"%d" % i for i in range(10)]

    async def main() -> None:
        async with raw_peer(framer, presend=wire_of(framer, items)[0]) as (reader, writer, peer):
            assert await reader.recv_many(max_frames=3) == items[0:3]
            assert await reader.recv_many(3) == items[3:6]
            assert await reader.recv_many(max_frames=1) == items[6:7]
            assert await reader.recv_many(max_frames=100) == items[7:]
            for bad in (0, -1):
                with pytest.raises(ValueError):
                    await reader.recv_many(max_frames=bad)
            with pytest.raises(TypeError):
                await reader.recv_many(max_frames=1.0)  # type: ignore[arg-type]
            await peer.send(wire_of(framer, [b"x", b"y"])[0])
            assert await reader.recv_many(max_frames=None) == [b"x", b"y"]

    run(loop_kind, main)


@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_two_waiters_on_one_reader(impl: Any, loop_kind: str, how: str) -> None:
    """A second task calling recv / recv_many while one waits gets RuntimeError; the
    first still gets the frame, and the reader works on afterwards."""
    framer = impl.bind(ff.Lines())

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):
            first = asyncio.ensure_future(one(reader, how))
            for _ in range(3):
                await asyncio.sleep(0)
            for call in (reader.recv, reader.recv_many):
                with pytest.raises(RuntimeError):
                    await call()
            assert not first.done()
            await peer.send(b"one\ntwo\n")
            got = await first
            assert got[0] == b"one"
            await peer.send(b"three\n")
            while len(got) < 3:
                got += await reader.recv_many()
            assert got == [b"one", b"two", b"three"]

    run(loop_kind, main)


def test_framer_required(impl: Any, loop_kind: str) -> None:
    """framer=None, or anything that is not a framer, is a TypeError from every
    entry point, before connecting or binding."""
    directory = tempfile.mkdtemp(prefix="ffa")
    path = os.path.join(directory, "s")
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    refused = lst.getsockname()[1]
    lst.close()

    async def main() -> None:
        for bad in (None, impl.bind(ff.Lines()).decoder(), "lines", ff.Lines):
            with pytest.raises(TypeError):
                await aio.open_connection("127.0.0.1", refused, bad)
            with pytest.raises(TypeError):
                await aio.open_unix_connection(path, bad)
            with pytest.raises(TypeError):
                await aio.start_server(lambda r, w: None, "127.0.0.1", 0, bad)
            with pytest.raises(TypeError):
                await aio.start_unix_server(lambda r, w: None, path, bad)
            assert not os.path.exists(path)
        with pytest.raises(TypeError):
            await aio.open_connection("127.0.0.1", refused)

    try:
        run(loop_kind, main)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_send_with_head(impl: Any, loop_kind: str) -> None:
    """LengthPrefixed(4, offset=1, adjustment=0): send(head=b"Q") and
    send_many(head=...) put the head before the length field (DESIGN.md); a head
    of the wrong size is a ValueError and nothing is written."""
    framer = impl.bind(ff.LengthPrefixed(4, offset=1, adjustment=0))

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):
            writer.send(b"select 1", head=b"Q")
            writer.send_many([b"a", b""], head=b"P")
            for bad in (b"", b"QQ"):
                with pytest.raises(ValueError):
                    writer.send(b"x", head=bad)
                with pytest.raises(ValueError):
                    writer.send_many([b"x"], head=bad)
            writer.write_eof()
            expected = (
                expect(framer, b"select 1", b"Q").wire + expect(framer, b"a", b"P").wire + expect(framer, b"", b"P").wire
            )
            assert expected.startswith(b"Q\x00\x00\x00\x08select 1")
            assert await peer.read_all() == expected
            await peer.send(expected)
            peer.shutdown_write()
            assert await drain_frames(reader, "recv") == [b"select 1", b"a", b""]

    run(loop_kind, main)


@pytest.mark.parametrize("framer", [ff.Lines(), ff.Netstring(), ff.FixedSize(1), ff.VarintPrefixed(), ff.Delimited(b"|")], ids=repr)
def test_head_needs_length_prefixed(impl: Any, loop_kind: str, framer: Any) -> None:
    """head= on a framer other than LengthPrefixed is a TypeError (send and
    send_many); nothing is written and the writer goes on."""
    framer = impl.bind(framer)

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):
            with pytest.raises(TypeError):
                writer.send(b"x", head=b"Q")
            with pytest.raises(TypeError):
                writer.send_many([b"x"], head=b"Q")
            writer.send(b"y")
            writer.write_eof()
            assert await peer.read_all() == expect(framer, b"y").wire

    run(loop_kind, main)


def test_bad_payload_writes_nothing(impl: Any, loop_kind: str) -> None:
    """A payload the framer refuses (a line containing its delimiter, a body over
    max_size) raises and writes nothing; the next frames go out intact."""
    lines = impl.bind(ff.Lines())

    async def main() -> None:
        async with raw_peer(lines) as (reader, writer, peer):
            with pytest.raises(ValueError):
                writer.send(b"two\nlines")
            with pytest.raises(ValueError):
                writer.send_many([b"fine", b"not\nfine"])
            writer.send(b"ok")
            writer.write_eof()
            assert await peer.read_all() == b"ok\n"
        small = impl.bind(ff.LengthPrefixed(1, max_size=4))
        async with raw_peer(small) as (reader, writer, peer):
            with pytest.raises(FrameTooLarge):
                writer.send(b"12345")
            writer.send(b"1234")
            writer.write_eof()
            assert await peer.read_all() == b"\x041234"

    run(loop_kind, main)


def test_abort_drops_buffered_output(impl: Any, loop_kind: str) -> None:
    """writer.abort() closes at once: output the peer has not taken is dropped,
    later sends raise RuntimeError, the reader sees the end."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.LengthPrefixed(4))) as (reader, writer, peer):
            writer.send(b"x" * (8 * MiB))  # more than the socket buffers take at once
            assert writer.transport.get_write_buffer_size() > 0
            writer.abort()
            assert writer.is_closing()
            with pytest.raises(RuntimeError):
                writer.send(b"y")
            await writer.wait_closed()
            with pytest.raises(ConnectionClosed):
                await reader.recv()
            got = await peer.read_all()
            assert len(got) < 8 * MiB + 4

    run(loop_kind, main)


def test_send_after_close(impl: Any, loop_kind: str) -> None:
    """Right after writer.close(): send, send_many and sendall raise RuntimeError."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines())) as (reader, writer, peer):
            writer.send(b"last")
            writer.close()
            assert writer.is_closing()
            for call in (lambda: writer.send(b"x"), lambda: writer.send_many([b"x"]), lambda: writer.sendall(b"x")):
                with pytest.raises(RuntimeError):
                    call()
            assert await peer.read_all() == b"last\n"

    run(loop_kind, main)


def test_send_after_close_and_wait_closed(impl: Any, loop_kind: str) -> None:
    """After writer.close() and wait_closed(), send / send_many / sendall still raise
    RuntimeError ("the writer is closed"): nothing was lost, the writer was closed.

    BUG (aio.py, FramedWriter._check_writable): once connection_lost(None) has run
    after a local close, they raise ConnectionResetError("the connection is lost")."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines())) as (reader, writer, peer):
            writer.close()
            await writer.wait_closed()
            for call in (lambda: writer.send(b"x"), lambda: writer.send_many([b"x"]), lambda: writer.sendall(b"x")):
                with pytest.raises(RuntimeError):
                    call()

    run(loop_kind, main)


def test_local_close_ends_a_waiting_recv(impl: Any, loop_kind: str) -> None:
    """writer.close() while a recv() waits: it raises ConnectionClosed (no hang)."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines())) as (reader, writer, peer):
            waiting = asyncio.ensure_future(reader.recv())
            for _ in range(3):
                await asyncio.sleep(0)
            writer.close()
            with pytest.raises(ConnectionClosed):
                await waiting

    run(loop_kind, main)


def test_drain_with_a_slow_peer(impl: Any, loop_kind: str) -> None:
    """Batches of 3.5 MiB sent to a peer that reads slowly, until the transport's
    buffer goes above its high-water mark (writing paused; how much the kernel
    takes first differs by platform and transport): drain() waits until it is back
    under it, and every byte arrives, in order.  Two tasks draining at once both
    return."""
    framer = impl.bind(ff.LengthPrefixed(4))
    items = [b"%07d" % i * 128 for i in range(4096)]  # 4096 frames of 896 bytes

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):
            transport = writer.transport
            high = transport.get_write_buffer_limits()[1]
            batches = 0
            while transport.get_write_buffer_size() <= high:
                assert batches < 16, "the kernel took 56 MiB: the transport never buffers"
                writer.send_many(items)
                batches += 1
            reading = asyncio.ensure_future(peer.read_all(pause=0.002))
            await asyncio.gather(writer.drain(), writer.drain())
            assert transport.get_write_buffer_size() <= high
            writer.write_eof()
            assert await reading == wire_of(framer, items)[0] * batches

    run(loop_kind, main)


def test_drain_waiting_when_the_peer_resets(impl: Any, loop_kind: str) -> None:
    """drain() waiting on a paused transport raises when the peer resets."""
    framer = impl.bind(ff.LengthPrefixed(4))

    async def main() -> None:
        async with raw_peer(framer, kind="tcp") as (reader, writer, peer):
            writer.send_many([b"z" * 1000] * 16 * 1024)  # 16 MiB: far beyond every buffer
            assert writer.transport.get_write_buffer_size() > writer.transport.get_write_buffer_limits()[1]
            draining = asyncio.ensure_future(writer.drain())
            for _ in range(3):
                await asyncio.sleep(0)
            assert not draining.done()
            peer.reset()
            with pytest.raises(OSError):  # ConnectionResetError, or EPIPE on some kernels
                await draining
            with pytest.raises(OSError):
                writer.send(b"more")

    run(loop_kind, main)


@pytest.mark.parametrize("kind", KINDS)
def test_wait_closed_and_extra_info(impl: Any, loop_kind: str, kind: str) -> None:
    """get_extra_info('peername') names the other end; reader.framer / writer.framer
    are the framer; wait_closed() returns once the connection is closed."""
    framer = impl.bind(ff.Lines())
    server_side: list[Any] = []

    async def body(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        server_side.append((writer.get_extra_info("peername"), writer.get_extra_info("sockname")))
        await drain_frames(reader, "recv")

    async def main() -> None:
        cb, done = handled(body)
        async with serving(kind, cb, framer) as connect:
            reader, writer = await connect()
            assert reader.framer is framer and writer.framer is framer
            assert writer.get_extra_info("no such thing", 42) == 42
            writer.write_eof()
            await done
            peer_name, sock_name = server_side[0]
            if kind == "tcp":
                assert writer.get_extra_info("peername") == sock_name
                assert writer.get_extra_info("sockname") == peer_name
            else:
                assert writer.get_extra_info("peername") == sock_name and sock_name.endswith("/s")
            with pytest.raises(ConnectionClosed):
                await reader.recv()
            assert not writer.is_closing()  # half-closed both ways, still open here
            closed = asyncio.ensure_future(writer.wait_closed())
            await asyncio.sleep(0.01)
            assert not closed.done()
            writer.close()
            await closed
            assert writer.is_closing()
            await writer.wait_closed()  # again: at once

    run(loop_kind, main)


async def echo_then_close(reader: aio.FramedReader, writer: aio.FramedWriter) -> int:
    try:
        return await batch_echo(reader, writer)
    finally:
        writer.close()


@pytest.mark.parametrize("kind", KINDS)
def test_plain_function_callback(impl: Any, loop_kind: str, kind: str) -> None:
    """start_server with a plain function: it is called with the reader and writer
    of each connection, which stay open for whatever it starts."""
    framer = impl.bind(ff.Netstring())
    tasks: list[asyncio.Future[int]] = []

    def cb(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        assert isinstance(reader, aio.FramedReader) and isinstance(writer, aio.FramedWriter)
        tasks.append(asyncio.ensure_future(echo_then_close(reader, writer)))

    async def main() -> None:
        async with serving(kind, cb, framer) as connect:
            for n in range(2):
                reader, writer = await connect()
                sent = [b"%d-%d" % (n, i) for i in range(10)]
                writer.send_many(sent)
                writer.write_eof()
                assert await drain_frames(reader, "recv_many") == sent
                assert await tasks[n] == 10
                writer.close()
                await writer.wait_closed()
            assert len(tasks) == 2

    run(loop_kind, main)


def test_plain_function_callback_exception_is_reported(impl: Any, loop_kind: str) -> None:
    """An exception raised by a plain-function callback reaches the loop's exception
    handler.  (The connection is then left open, as asyncio.start_server leaves it;
    this test does not pin that down.)"""
    framer = impl.bind(ff.Lines())
    reports: list[dict[str, Any]] = []

    class Boom(Exception):
        pass

    def cb(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        writer.close()
        raise Boom("plain callback failed")

    async def main() -> None:
        async with serving("tcp", cb, framer) as connect:
            reader, writer = await connect()
            await until(lambda: bool(reports))
            writer.close()
            await writer.wait_closed()

    run(loop_kind, main, reports=reports)
    assert [type(r.get("exception")) for r in reports] == [Boom], _describe(reports)


def test_coroutine_callback_exception_is_reported(impl: Any, loop_kind: str) -> None:
    """An exception escaping a coroutine callback goes to the loop's exception
    handler (with the exception and the transport) and the connection is closed:
    the client gets what was sent before, then a clean EOF."""
    framer = impl.bind(ff.Lines())
    reports: list[dict[str, Any]] = []

    class Boom(Exception):
        pass

    async def cb(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        request = await reader.recv()
        writer.send(b"re:" + request)
        await writer.drain()
        raise Boom("handler failed")

    async def main() -> None:
        async with serving("tcp", cb, framer) as connect:
            reader, writer = await connect()
            writer.send(b"hi")
            assert await reader.recv() == b"re:hi"
            with pytest.raises(ConnectionClosed) as info:
                await reader.recv()
            assert type(info.value) is ConnectionClosed
            writer.close()
            await until(lambda: bool(reports))

    run(loop_kind, main, reports=reports)
    assert len(reports) == 1, _describe(reports)
    assert isinstance(reports[0]["exception"], Boom)
    assert reports[0]["message"] == "Unhandled exception in client_connected_cb"
    assert reports[0].get("transport") is not None


def test_coroutine_callback_failing_after_the_connection_is_lost(impl: Any, loop_kind: str) -> None:
    """A coroutine callback whose recv() raises because the client reset the
    connection, and which lets that escape: exactly one report (that exception),
    nothing else.

    BUG (aio.py, _StreamProtocol._client_done): connection_lost() has already set
    self.transport to None, so self.transport.close() raises AttributeError, which
    the loop reports as a second error ("Exception in callback ...")."""
    framer = impl.bind(ff.Lines())
    reports: list[dict[str, Any]] = []
    started: list[bool] = []
    finished: list[bool] = []

    async def cb(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        started.append(True)
        try:
            await reader.recv()
        finally:
            finished.append(True)

    async def main() -> None:
        async with serving("tcp", cb, framer) as connect:
            peer = Peer(socket.create_connection(connect.address))
            await until(lambda: bool(started))
            for _ in range(3):  # the callback waits in recv()
                await asyncio.sleep(0)
            peer.reset()
            await until(lambda: bool(finished))
            for _ in range(10):
                await asyncio.sleep(0.001)

    run(loop_kind, main, reports=reports)
    assert [type(r.get("exception")) for r in reports] == [ConnectionResetError], _describe(reports)


# -- what a finished connection leaves behind ------------------------------------------------

ENDINGS = {
    "clean EOF": (b"\x00\x00\x00\x01x", ConnectionClosed),
    "EOF inside a frame": (b"\x00\x00\x00\x01x\x00\x00\x10\x00abc", IncompleteFrame),
}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("side", ["client", "server"])
def test_a_finished_connection_is_freed_without_the_garbage_collector(
    impl: Any, loop_kind: str, ending: str, side: str
) -> None:
    """Once its reader and writer are dropped, a closed connection is freed by
    reference counting alone: with the garbage collector off, the reader, the writer
    and the protocol (which holds the decoder and its buffer) are gone, also after
    the end of the stream was raised twice.  A reference cycle among them kept
    every finished connection's memory (an IncompleteFrame's bytes, too) until the
    collector ran, and a few hostile streams in a row ran a capped process out of
    memory."""
    framer = impl.bind(ff.LengthPrefixed(4))
    wire, ends_with = ENDINGS[ending]
    gone: list[Any] = []

    async def converse(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        assert await reader.recv() == b"x"
        for _ in range(2):  # the end is raised again by a later call
            try:
                await reader.recv()
            except ends_with:
                pass
        writer.close()
        await writer.wait_closed()
        gone.extend(weakref.ref(obj) for obj in (reader, writer, reader._protocol))

    async def main() -> None:
        if side == "client":
            a, b = socket.socketpair()
            with b:
                b.sendall(wire)
                b.shutdown(socket.SHUT_WR)
                reader, writer = await aio.open_connection(sock=a, framer=framer)
                await converse(reader, writer)
                del reader, writer
        else:
            done = asyncio.get_running_loop().create_future()

            async def cb(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
                try:
                    await converse(reader, writer)
                finally:
                    done.set_result(None)

            server = await aio.start_server(cb, "127.0.0.1", 0, framer)
            with socket.create_connection(server.sockets[0].getsockname()[:2]) as b:
                b.sendall(wire)
                b.shutdown(socket.SHUT_WR)
                await done
            server.close()
            await server.wait_closed()
        for _ in range(5):  # callbacks the loop still had scheduled
            await asyncio.sleep(0)

    gc.collect()
    gc.disable()
    try:
        run(loop_kind, main)
        alive = [ref() for ref in gone if ref() is not None]
        assert len(gone) == 3 and not alive, f"still alive without the collector: {alive}"
    finally:
        gc.enable()
