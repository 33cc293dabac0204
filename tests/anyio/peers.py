"""The backends and transports the anyio tests run on (conftest.py's fixtures),
and the two ends of a test's connection: the test's end a FramedStream
(made by fastframe.anyio.connect_tcp / connect_unix, as a user makes one), the
other end a FramedStream too, a raw anyio byte stream driven by hand (RawPeer),
or a FramedSocket in a thread (Transport.threaded).

Over TLS the test's end is anyio's TLSStream (``connect_tcp(tls=True)`` with a
context trusting the test authority), and a RawPeer seals each write into
records itself (tests/aio/peers.py's MemoryTLS, on memory buffers) so that the
test still decides which bytes go out in which write, and whether the stream
ends with close_notify or a bare FIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import anyio
import pytest
from anyio.abc import ByteStream, SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.memory import MemoryObjectSendStream
from anyio.streams.stapled import StapledByteStream
from anyio.streams.tls import TLSStream

import fastframe as ff
from fastframe import anyio as ffa
from tests.aio.peers import MemoryTLS
from tests.support import certs
from tests.support.platforms import LINGER_RESET
from tests.support.sockets import IO_TIMEOUT, Peer, peer


def server_context() -> ssl.SSLContext:
    """The server's context, without TLS 1.3 session tickets: a client that closes
    without having read them makes the kernel reset the connection, which a test
    of what the server sees at the client's close would see instead of the end."""
    context = certs.server_context()
    context.num_tickets = 0
    return context


# -- backends and transports --------------------------------------------------------------------

try:
    import uvloop  # noqa: F401 - only whether it imports
except ImportError as exc:
    UVLOOP_MISSING: str | None = f"uvloop cannot be imported: {exc}"
else:
    UVLOOP_MISSING = None

BACKENDS = [
    pytest.param("asyncio", id="asyncio"),
    pytest.param(
        ("asyncio", {"use_uvloop": True}),
        id="uvloop",
        marks=pytest.mark.skipif(UVLOOP_MISSING is not None, reason=str(UVLOOP_MISSING)),
    ),
    pytest.param("trio", id="trio"),
]

# a test whose subject is the bytes decoded, not how they arrive (see conftest)
over_tcp_and_tls = pytest.mark.parametrize("transport", ["tcp", "tls"], indirect=True)
over_tcp = pytest.mark.parametrize("transport", ["tcp"], indirect=True)


# -- the raw peer ---------------------------------------------------------------------------


class RawPeer:
    """The raw end of a connection: an anyio socket stream the test drives (the exact
    bytes, their splits, half-close, reset); over TLS each ``send`` is sealed into
    records written at once (a split of the plaintext is a split of the records),
    ``send_eof`` is close_notify then the FIN, and ``fin`` a bare FIN."""

    def __init__(self, stream: SocketStream, *, tls: bool) -> None:
        self.stream = stream
        self.tls = MemoryTLS(server_context(), server_side=True) if tls else None
        self._plain = bytearray()  # received, opened, not yet taken
        self._ended = False  # the end of the stream has been received

    async def handshake(self) -> None:
        assert self.tls is not None
        received = b""
        while not self.tls.handshake(received):
            await self._send_raw(self.tls.outgoing())
            received = await self.stream.receive()
        await self._send_raw(self.tls.outgoing())

    async def _send_raw(self, data: bytes) -> None:
        if data:
            await self.stream.send(data)

    async def send(self, data: bytes) -> None:
        await self._send_raw(data if self.tls is None else self.tls.seal(data))

    async def send_chunks(self, chunks: Sequence[bytes], pause: float = 0.001) -> None:
        """Each chunk in its own write, with a pause after it, so that the other end's
        reads really are split there."""
        for chunk in chunks:
            if chunk:
                await self.send(chunk)
                await anyio.sleep(pause)

    async def send_eof(self) -> None:
        """The end of the stream, this side still listening (over TLS: close_notify,
        then the FIN)."""
        if self.tls is not None:
            await self._send_raw(self.tls.close_notify())
        await self.stream.send_eof()

    async def fin(self) -> None:
        """A FIN, without close_notify over TLS (a truncation, for TLS)."""
        await self.stream.send_eof()

    async def reset(self) -> None:
        """Close with SO_LINGER (1, 0): the other end gets a TCP RST."""
        self.stream.extra(SocketAttribute.raw_socket).setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        await anyio.aclose_forcefully(self.stream)

    async def pause_reading(self) -> None:
        """Leave the stream not reading, as a peer that does not read is: anyio's
        asyncio backend reads an accepted connection eagerly, into memory, until one
        of its receives has to wait; one that waits, cancelled at once, pauses it.
        (What such a receive gets, if anything came, is kept.)"""
        with anyio.move_on_after(0.001):
            await self._take(await self.stream.receive())

    async def _take(self, data: bytes) -> None:
        """Take in ``data`` (b"": the end of the stream; over TLS also close_notify,
        after which close_notify is sent back, as a TLS peer closing its side does,
        so the other end's close completes)."""
        if self.tls is None:
            self._plain += data
            self._ended = not data
        else:
            self._plain += self.tls.open(data) if data else b""
            self._ended = self.tls.closed or not data
            if self._ended and data:
                with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await self._send_raw(self.tls.close_notify())

    async def _receive(self) -> bool:
        """Take in the next bytes; False at the end of the stream."""
        if self._ended:
            return False
        try:
            data = await self.stream.receive()
        except anyio.EndOfStream:
            data = b""
        await self._take(data)
        return not self._ended

    async def receive_exactly(self, n: int) -> bytes:
        while len(self._plain) < n:
            if not await self._receive():
                raise EOFError(f"EOF after {len(self._plain)} of {n} bytes")
        out = bytes(self._plain[:n])
        del self._plain[:n]
        return out

    async def read_all(self, pause: float = 0.0) -> bytes:
        """Every byte until the end of the stream (with ``pause`` after each read)."""
        while await self._receive():
            if pause:
                await anyio.sleep(pause)
        out = bytes(self._plain)
        self._plain.clear()
        return out

    async def aclose(self) -> None:
        await anyio.aclose_forcefully(self.stream)


# -- a FramedSocket in a thread --------------------------------------------------------------


def framed_socket_server(
    lst: socket.socket, framer: Any, tls: bool, body: Callable[[ff.FramedSocket], Any], setup: Callable[[socket.socket], Any]
) -> Any:
    """Accept one connection on ``lst`` (``setup(sock)`` first; over TLS, fastframe's
    own session, by start_tls: shutdown_write() then sends close_notify), run
    ``body`` on a FramedSocket over it, close it; return what ``body`` returned."""
    lst.settimeout(IO_TIMEOUT)
    sock, _ = lst.accept()
    sock.settimeout(IO_TIMEOUT)
    setup(sock)
    with ff.FramedSocket(sock, framer) as fs:
        if tls:
            fs.start_tls(server_context(), server_side=True)
        return body(fs)


# -- transports ---------------------------------------------------------------------------------


@contextlib.contextmanager
def anyio_unix_race_tolerated() -> Iterator[None]:
    """On anyio's asyncio backend a Unix socket stream waits for readiness with a
    future whose result an add_reader (add_writer) callback sets, and which a
    done-callback unregisters: when a receive (send) is cancelled in the loop
    iteration where the socket becomes ready, the callback still runs and sets the
    result of the cancelled future.  The loop's exception handler is then given an
    InvalidStateError, which anyio's test runner turns into a failure; nothing is
    lost (anyio 4.16, anyio/_backends/_asyncio.py, _RawSocketMixin).  Within this
    block that report, and no other, is dropped."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # trio: not an asyncio loop
        yield
        return
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), asyncio.InvalidStateError) and "set_result" in repr(context.get("handle")):
            return
        if previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


class Transport:
    """How a test's connection is made: "tcp" (127.0.0.1), "unix" (a path) or "tls"
    (TLS over TCP).  ``raw``, ``framed`` and ``threaded`` are async context managers
    yielding the test's FramedStream and the other end; everything is closed on exit,
    and the whole block runs under a ``fail_after`` of 10 s."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.tls = kind == "tls"

    def __repr__(self) -> str:
        return f"Transport({self.kind!r})"

    @property
    def can_half_close(self) -> bool:
        """Whether FramedStream.send_eof() works (anyio's TLSStream cannot half-close)."""
        return not self.tls

    async def stop_sending(self, stream: ffa.FramedStream, tg: anyio.abc.TaskGroup) -> None:
        """The other end sees the end of the stream after what was sent: send_eof()
        where the transport half-closes; over TLS aclose(), in ``tg`` (its close_notify
        waits for the other end's)."""
        if self.can_half_close:
            await stream.send_eof()
        else:
            tg.start_soon(stream.aclose)

    async def connect(self, framer: Any, address: Any) -> ffa.FramedStream:
        """The test's end, as a user makes it."""
        if self.kind == "unix":
            return await ffa.connect_unix(address, framer)
        if self.tls:
            return await ffa.connect_tcp(*address, framer, tls=True, ssl_context=certs.client_context())
        return await ffa.connect_tcp(*address, framer)

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[tuple[Any, Any]]:
        """An anyio listener and its address."""
        if self.kind == "unix":
            directory = tempfile.mkdtemp(prefix="ffn")  # short: sun_path is 108 bytes
            path = os.path.join(directory, "s")
            try:
                listener = await anyio.create_unix_listener(path)
                try:
                    yield listener, path
                finally:
                    await listener.aclose()
            finally:
                shutil.rmtree(directory, ignore_errors=True)
        else:
            multi = await anyio.create_tcp_listener(local_host="127.0.0.1")
            try:
                listener = multi.listeners[0]
                yield listener, ("127.0.0.1", listener.extra(SocketAttribute.local_port))
            finally:
                await multi.aclose()

    @contextlib.asynccontextmanager
    async def _pair(self, framer: Any, other: Callable[[SocketStream], Any]) -> AsyncIterator[tuple[ffa.FramedStream, Any]]:
        """The test's FramedStream, connected to ``await other(accepted stream)``."""
        tolerated = anyio_unix_race_tolerated() if self.kind == "unix" else contextlib.nullcontext()
        with anyio.fail_after(IO_TIMEOUT), tolerated:
            ends: dict[str, Any] = {}
            async with self.listening() as (listener, address):

                async def accept() -> None:
                    ends["other"] = await other(await listener.accept())

                async with anyio.create_task_group() as tg:
                    tg.start_soon(accept)
                    ends["ours"] = await self.connect(framer, address)
            try:
                yield ends["ours"], ends["other"]
            finally:
                await anyio.aclose_forcefully(ends["ours"])
                await anyio.aclose_forcefully(ends["other"])

    def raw(self, framer: Any) -> contextlib.AbstractAsyncContextManager[tuple[ffa.FramedStream, RawPeer]]:
        """The test's FramedStream and a RawPeer."""

        async def other(stream: SocketStream) -> RawPeer:
            raw_peer = RawPeer(stream, tls=self.tls)
            if self.tls:
                await raw_peer.handshake()
            await raw_peer.pause_reading()
            return raw_peer

        return self._pair(framer, other)

    def framed(self, framer: Any, other_framer: Any = None) -> contextlib.AbstractAsyncContextManager[tuple[ffa.FramedStream, ffa.FramedStream]]:
        """The test's FramedStream and another (``other_framer``, default the same),
        made by FramedStream(byte_stream, framer) on the accepted stream."""

        async def other(stream: SocketStream) -> ffa.FramedStream:
            byte_stream: ByteStream = stream
            if self.tls:
                byte_stream = await TLSStream.wrap(stream, server_side=True, ssl_context=server_context())
            return ffa.FramedStream(byte_stream, framer if other_framer is None else other_framer)

        return self._pair(framer, other)

    @contextlib.asynccontextmanager
    async def threaded(
        self,
        framer: Any,
        body: Callable[[ff.FramedSocket], Any],
        other_framer: Any = None,
        setup: Callable[[socket.socket], Any] = lambda sock: None,
    ) -> AsyncIterator[tuple[ffa.FramedStream, Peer]]:
        """The test's FramedStream connected to a FramedSocket (``other_framer``,
        default the same) in a thread, which runs ``setup(its socket)``, then
        ``body(fs)`` (its blocking calls bounded by a 10 s timeout); the thread is a
        tests.support.sockets.Peer: ``finish()`` joins it and returns what ``body``
        returned."""
        other = framer if other_framer is None else other_framer
        with anyio.fail_after(IO_TIMEOUT), listening_socket(self.kind) as (lst, address):
            thread = peer(framed_socket_server, lst, other, self.tls, body, setup)
            try:
                stream = await self.connect(framer, address)
            except BaseException:
                lst.close()  # the thread's accept() ends
                raise
            try:
                yield stream, thread
            finally:
                await anyio.aclose_forcefully(stream)
                await anyio.to_thread.run_sync(thread.join, IO_TIMEOUT)


@contextlib.contextmanager
def listening_socket(kind: str) -> Iterator[tuple[socket.socket, Any]]:
    """A plain listening socket for ``kind`` ("tls" listens on TCP) and its address."""
    directory = tempfile.mkdtemp(prefix="ffn")
    try:
        if kind == "unix":
            lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = os.path.join(directory, "s")
        else:
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = ("127.0.0.1", 0)
        with lst:
            lst.bind(address)
            lst.listen(1)
            yield lst, lst.getsockname()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# -- a byte stream on memory -----------------------------------------------------------------------


def memory_stream(buffer: float = 0) -> tuple[ByteStream, MemoryObjectSendStream[bytes]]:
    """A byte stream whose every receive() returns the next chunk sent into the
    returned send stream (``buffer`` chunks may wait there), whole if it fits in the
    receive's max_bytes: the split is exactly the sender's.  Closing the send stream
    is the end of the stream.  (What is sent on the byte stream goes nowhere: its
    sends raise anyio.BrokenResourceError.)"""
    incoming_send, incoming = anyio.create_memory_object_stream[bytes](buffer)
    outgoing, outgoing_receive = anyio.create_memory_object_stream[bytes](0)
    outgoing_receive.close()
    stream = StapledByteStream(outgoing, BufferedByteReceiveStream(incoming))  # type: ignore[arg-type]
    return stream, incoming_send
