"""The other end of a test's connection: a raw socket driven by the test's loop (the
exact bytes, their splits, half-close and reset), opened against a FramedReader and
FramedWriter or a FramedProtocol; and framed servers over TCP and Unix sockets.

With ``tls=True`` the connection is TLS: the library's end gets ``ssl=`` (the
certificates of tests/support/certs.py) and the peer is a TLSPeer, which seals
each write into records itself (MemoryTLS, on memory buffers) so that the test still
decides which bytes go out in which write, and ends with close_notify, a bare FIN
or a reset."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest

from fastframe import aio
from tests.support import certs
from tests.support.platforms import LINGER_RESET, requires_unix_sockets
from tests.support.sockets import connected_pair

T = TypeVar("T")

# -- TLS on memory buffers -------------------------------------------------------------------


class MemoryTLS:
    """One end of a TLS session on the ssl module's memory buffers, without I/O:
    what to send is returned as bytes, what was received is handed in, so that its
    owner (a TLSPeer, or a thread with a blocking socket) chooses every write.
    (tests/support/sockets.py's TlsEnd is another thing: a blocking socket over
    fastframe's own TLS session, for the FramedSocket tests.)"""

    def __init__(self, context: ssl.SSLContext, *, server_side: bool) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.session = context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=server_side,
            server_hostname=None if server_side else certs.SERVER_NAME,
        )
        self.closed = False  # the other end's close_notify has come

    def handshake(self, received: bytes) -> bool:
        """Take ``received`` and go on with the handshake: whether it is done
        (``outgoing()`` has what to send either way)."""
        self._incoming.write(received)
        try:
            self.session.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def outgoing(self) -> bytes:
        return self._outgoing.read()

    def seal(self, data: bytes) -> bytes:
        """``data`` as records (one per 16 KiB), with whatever else is due before them."""
        if data:
            self.session.write(data)
        return self._outgoing.read()

    def open(self, received: bytes) -> bytes:
        """The plaintext of every whole record received so far."""
        self._incoming.write(received)
        out = bytearray()
        while not self.closed:
            try:
                chunk = self.session.read(64 * 1024)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                chunk = b""
            if not chunk:
                self.closed = True
            out += chunk
        return bytes(out)

    def close_notify(self) -> bytes:
        """The close_notify alert to send.  (Application data not yet opened would
        be thrown away: OpenSSL's shutdown reads on, looking for the reply.)"""
        try:
            self.session.unwrap()
        except ssl.SSLWantReadError:  # sent; the other end's reply is not waited for
            pass
        return self._outgoing.read()

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
                await self.shutdown_write()

        return asyncio.ensure_future(send())

    async def send_chunks(self, chunks: Sequence[bytes], pause: float = 0.001) -> None:
        """Each chunk in its own write, with a pause after it, so that the reader's
        reads really are split there."""
        for chunk in chunks:
            if chunk:
                await self.send(chunk)
                await asyncio.sleep(pause)

    async def read_exactly(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            data = await self.loop.sock_recv(self.sock, n - len(out))
            if not data:
                raise EOFError(f"EOF after {len(out)} of {n} bytes")
            out += data
        return bytes(out)

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

    async def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        """Close with SO_LINGER (1, 0): the other end gets a TCP RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


class TLSPeer(Peer):
    """A Peer speaking TLS: each ``send`` is sealed into records written at once (a
    split of the plaintext is a split of the records); ``read_all`` returns the
    plaintext up to the close_notify or the FIN; ``shutdown_write`` sends
    close_notify, then the FIN; ``reset`` is a TCP RST as before."""

    def __init__(self, sock: socket.socket, *, server_side: bool, context: ssl.SSLContext | None = None) -> None:
        super().__init__(sock)
        if context is None:
            context = certs.server_context() if server_side else certs.client_context()
        self.tls = MemoryTLS(context, server_side=server_side)

    async def handshake(self) -> None:
        received = b""
        while not self.tls.handshake(received):
            await super().send(self.tls.outgoing())
            received = await self.loop.sock_recv(self.sock, 64 * 1024)
            if not received:
                raise ConnectionResetError("the library's end closed during the TLS handshake")
        await super().send(self.tls.outgoing())  # the last flight, and TLS 1.3's session tickets

    async def send(self, data: bytes) -> None:
        await super().send(self.tls.seal(data))

    async def read_all(self, pause: float = 0.0) -> bytes:
        out = bytearray()
        while not self.tls.closed:
            data = await self.loop.sock_recv(self.sock, 64 * 1024)
            if not data:  # a FIN without close_notify
                break
            out += self.tls.open(data)
            if pause:
                await asyncio.sleep(pause)
        return bytes(out)

    async def shutdown_write(self) -> None:
        await super().send(self.tls.close_notify())
        await super().shutdown_write()


async def with_handshake(peer: TLSPeer, opening: Awaitable[T]) -> T:
    """Await ``opening`` (the library's end connecting) while ``peer`` does its
    side of the TLS handshake."""
    opened = asyncio.ensure_future(opening)
    handshake = asyncio.ensure_future(peer.handshake())
    try:
        await asyncio.gather(opened, handshake)
    except BaseException:
        opened.cancel()
        handshake.cancel()
        raise
    return opened.result()


def client_tls(tls: bool) -> dict[str, Any]:
    """The arguments that make the library's client end speak TLS, or none."""
    if not tls:
        return {}
    return {"ssl": certs.client_context(), "server_hostname": certs.SERVER_NAME}


def server_tls(tls: bool) -> dict[str, Any]:
    """The arguments that make the library's server end speak TLS, or none."""
    return {"ssl": certs.server_context()} if tls else {}


async def connect_peer(address: Any, *, tls: bool = False) -> Peer:
    """A Peer connected to a server of the library at ``address`` (a (host, port)
    or a Unix socket path), as a TLS client if ``tls``."""
    family = socket.AF_INET if isinstance(address, tuple) else socket.AF_UNIX
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, address)
        if not tls:
            return Peer(sock)
        peer = TLSPeer(sock, server_side=False)
        await peer.handshake()
    except BaseException:
        sock.close()
        raise
    return peer


def raw_pair(kind: str) -> tuple[socket.socket, socket.socket]:
    """("socketpair" | "tcp") a connected pair; TCP with TCP_NODELAY on both ends."""
    return connected_pair("tcp4" if kind == "tcp" else "socketpair")


@contextlib.asynccontextmanager
async def raw_peer(
    framer: Any, *, kind: str = "socketpair", presend: bytes = b"", tls: bool = False, **kwds: Any
) -> AsyncIterator[tuple[aio.FramedReader, aio.FramedWriter, Peer]]:
    """``open_connection(sock=...)`` on one end of a pair, a Peer on the other.

    ``presend`` comes before anything else, in one write: the reader's first read
    gets all of it (keep it small: without TLS it is a blocking write before the
    connection is opened, with TLS the first write after the handshake)."""
    a, b = raw_pair(kind)
    try:
        if tls:
            peer: Peer = TLSPeer(b, server_side=True)
            opening = aio.open_connection(sock=a, framer=framer, **client_tls(tls), **kwds)
            reader, writer = await with_handshake(peer, opening)
            if presend:
                await peer.send(presend)
        else:
            if presend:
                b.sendall(presend)
            reader, writer = await aio.open_connection(sock=a, framer=framer, **kwds)
            peer = Peer(b)
    except BaseException:
        a.close()
        b.close()
        raise
    try:
        yield reader, writer, peer
    finally:
        writer.close()
        peer.close()
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def protocol_peer(
    protocol: aio.FramedProtocol, *, kind: str = "socketpair", presend: bytes = b"", tls: bool = False
) -> AsyncIterator[tuple[asyncio.Transport, Peer]]:
    """``protocol`` connected (``loop.create_connection(sock=...)``) to a Peer;
    ``presend`` as for raw_peer."""
    a, b = raw_pair(kind)
    loop = asyncio.get_running_loop()
    try:
        if tls:
            peer: Peer = TLSPeer(b, server_side=True)
            opening = loop.create_connection(lambda: protocol, sock=a, **client_tls(tls))
            transport, _ = await with_handshake(peer, opening)
            if presend:
                await peer.send(presend)
        else:
            if presend:
                b.sendall(presend)
            transport, _ = await loop.create_connection(lambda: protocol, sock=a)
            peer = Peer(b)
    except BaseException:
        a.close()
        b.close()
        raise
    try:
        yield transport, peer  # type: ignore[misc]
    finally:
        transport.close()
        peer.close()


@contextlib.asynccontextmanager
async def serving(
    kind: str, client_connected_cb: Any, framer: Any, *, tls: bool = False, **kwds: Any
) -> AsyncIterator[Callable[..., Awaitable[tuple[aio.FramedReader, aio.FramedWriter]]]]:
    """A framed server over TCP on 127.0.0.1 or on a Unix socket path (over TLS if
    ``tls``); yields a ``connect(**kwds)`` coroutine function that opens a client to
    it (over TLS likewise), and whose ``address`` attribute is the server's address."""
    directory = tempfile.mkdtemp(prefix="ffa")  # short: sun_path is 108 bytes
    kwds = {**server_tls(tls), **kwds}
    try:
        if kind == "tcp":
            server = await aio.start_server(client_connected_cb, "127.0.0.1", 0, framer, **kwds)
            port = server.sockets[0].getsockname()[1]

            async def connect(**kw: Any) -> tuple[aio.FramedReader, aio.FramedWriter]:
                return await aio.open_connection("127.0.0.1", port, framer, **{**client_tls(tls), **kw})

            connect.address = ("127.0.0.1", port)  # type: ignore[attr-defined]

        else:
            path = os.path.join(directory, "s")
            server = await aio.start_unix_server(client_connected_cb, path, framer, **kwds)

            async def connect(**kw: Any) -> tuple[aio.FramedReader, aio.FramedWriter]:
                return await aio.open_unix_connection(path, framer, **{**client_tls(tls), **kw})

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


# (a Windows event loop has no Unix sockets: asyncio raises NotImplementedError)
KINDS = ["tcp", pytest.param("unix", marks=requires_unix_sockets)]
