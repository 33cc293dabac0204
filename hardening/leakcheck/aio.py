"""The ``fastframe.aio`` cases: FramedProtocol driven by hand (frames, errors, EOF),
and streams on one event loop (a round trip on one connection, a new connection
to its end)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from fastframe._cores import Core

from .framers import MAX
from .measuring import Case, Probe
from .steps import Unexpected, equal, raises


class FakeTransport:
    """What FramedProtocol asks of a transport, without an event loop."""

    def __init__(self) -> None:
        self.aborted = 0
        self.closing = False

    def abort(self) -> None:
        self.aborted += 1

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def aio_cases(ff: ModuleType, core: Core) -> Iterator[Case]:
    aio = ff.aio
    framer = core.bind(ff.LengthPrefixed(4, max_size=MAX))
    netstring = core.bind(ff.Netstring())
    payload = b"hello world"
    wire = framer.encode(payload)
    stream = ff.LengthPrefixed(4).encode(b"x" * (3 * MAX)) + wire

    class Collector(aio.FramedProtocol):  # type: ignore[name-defined,misc]
        """Counts frames and errors; keeps going after FrameTooLarge."""

        def __init__(self, framer: Any) -> None:
            super().__init__(framer)
            self.frames = 0
            self.errors = 0

        def frame_received(self, frame: bytes) -> None:
            self.frames += 1

        def framing_error(self, exc: Exception) -> None:
            self.errors += 1
            if not isinstance(exc, ff.FrameTooLarge):
                super().framing_error(exc)

    def deliver(protocol: Any, data: bytes) -> None:
        view = protocol.get_buffer(len(data))
        view[: len(data)] = data
        protocol.buffer_updated(len(data))

    @contextlib.contextmanager
    def protocol(run: Callable[[Any, FakeTransport], None], fresh: bool, with_framer: Any = framer) -> Iterator[Probe]:
        transport = FakeTransport()
        kept = Collector(with_framer)
        kept.connection_made(transport)

        def step() -> None:
            proto = Collector(with_framer) if fresh else kept
            if fresh:
                proto.connection_made(transport)
            run(proto, transport)
            if fresh:
                proto.connection_lost(None)

        yield Probe(step, {"transport": transport, "framer": with_framer, "protocol": kept, "wire": wire})

    def frames(proto: Any, transport: FakeTransport) -> None:
        before = proto.frames
        deliver(proto, wire * 4)
        equal(proto.frames - before, 4)

    def lifecycle(proto: Any, transport: FakeTransport) -> None:
        deliver(proto, wire)
        equal(proto.eof_received(), None)
        equal(proto.frames, 1)

    def too_large(proto: Any, transport: FakeTransport) -> None:
        before = proto.frames, proto.errors
        deliver(proto, stream)
        equal((proto.frames, proto.errors), (before[0] + 1, before[1] + 1))

    def protocol_error(proto: Any, transport: FakeTransport) -> None:
        aborted = transport.aborted
        deliver(proto, b"5:hello,5:hello!")
        equal((proto.frames, proto.errors, transport.aborted), (1, 1, aborted + 1))

    def incomplete(proto: Any, transport: FakeTransport) -> None:
        aborted = transport.aborted
        deliver(proto, wire[:-1])
        proto.eof_received()
        equal((proto.errors, transport.aborted), (1, aborted + 1))

    yield Case("aio/protocol-frames", "aio", lambda: protocol(frames, fresh=False))
    yield Case("aio/protocol-lifecycle", "aio", lambda: protocol(lifecycle, fresh=True))
    yield Case("aio/protocol-too-large", "aio", lambda: protocol(too_large, fresh=False))
    yield Case("aio/protocol-error", "aio", lambda: protocol(protocol_error, fresh=True, with_framer=netstring))
    yield Case("aio/protocol-incomplete", "aio", lambda: protocol(incomplete, fresh=True))
    yield Case("aio/stream-roundtrip", "aio", lambda: streams(ff, framer, payload, stream))
    yield Case("aio/stream-connection", "aio", lambda: stream_connections(ff, framer, payload))


@contextlib.contextmanager
def streams(ff: ModuleType, framer: Any, payload: bytes, stream: bytes) -> Iterator[Probe]:
    """One loop, one connection: each iteration sends frames one way, an oversize
    frame among them, and reads them at the other end."""
    aio = ff.aio
    loop = asyncio.new_event_loop()
    a, b = socket.socketpair()
    reader, writer = loop.run_until_complete(aio.open_connection(sock=a, framer=framer))
    peer_reader, peer_writer = loop.run_until_complete(aio.open_connection(sock=b, framer=framer))
    several = [payload] * 4

    async def roundtrip() -> None:
        writer.send(payload)
        writer.send_many(several)
        writer.sendall(stream)
        await writer.drain()
        equal(await peer_reader.recv(), payload)
        got = 0
        while got < 4:
            got += len(await peer_reader.recv_many())
        try:
            await peer_reader.recv()
        except ff.FrameTooLarge:
            pass
        else:
            raise Unexpected("no FrameTooLarge")
        equal(await peer_reader.recv(), payload)

    try:
        yield Probe(
            lambda: loop.run_until_complete(roundtrip()),
            {"reader": peer_reader, "writer": writer, "framer": framer, "payload": payload, "loop": loop},
        )
    finally:
        for w in (writer, peer_writer):
            w.close()
            loop.run_until_complete(w.wait_closed())
        loop.close()


@contextlib.contextmanager
def stream_connections(ff: ModuleType, framer: Any, payload: bytes) -> Iterator[Probe]:
    """One loop; each iteration a new connection, ended by a frame cut short
    (IncompleteFrame), a clean EOF (ConnectionClosed) and a closed writer."""
    aio = ff.aio
    loop = asyncio.new_event_loop()
    wire = framer.encode(payload)

    async def once() -> None:
        a, b = socket.socketpair()
        reader, writer = await aio.open_connection(sock=a, framer=framer)
        peer_reader, peer_writer = await aio.open_connection(sock=b, framer=framer)
        writer.send(payload)
        writer.sendall(wire[:-1])
        writer.write_eof()
        equal(await peer_reader.recv(), payload)
        try:
            await peer_reader.recv()
        except ff.IncompleteFrame:
            pass
        else:
            raise Unexpected("no IncompleteFrame")
        peer_writer.send(payload)
        peer_writer.write_eof()
        equal([frame async for frame in reader], [payload])
        try:
            await reader.recv()
        except ff.ConnectionClosed:
            pass
        else:
            raise Unexpected("no ConnectionClosed")
        for w in (writer, peer_writer):
            w.close()
            await w.wait_closed()
        raises(RuntimeError, writer.send, payload)

    try:
        yield Probe(lambda: loop.run_until_complete(once()), {"framer": framer, "payload": payload, "loop": loop})
    finally:
        loop.close()
