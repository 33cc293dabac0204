"""The other end of a test's connection: a raw socket driven by the test's loop (the
exact bytes, their splits, half-close and reset), opened against a FramedReader and
FramedWriter or a FramedProtocol; and framed servers over TCP and Unix sockets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from fastframe import aio
from tests.support.platforms import LINGER_RESET, requires_unix_sockets
from tests.support.sockets import connected_pair

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


# (a Windows event loop has no Unix sockets: asyncio raises NotImplementedError)
KINDS = ["tcp", pytest.param("unix", marks=requires_unix_sockets)]
