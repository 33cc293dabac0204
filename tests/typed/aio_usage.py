"""fastframe.aio, reached as ``ff.aio`` after ``import fastframe as ff`` only, as
the README and docs/asyncio.md use it."""

from __future__ import annotations

import asyncio
import socket

from typing_extensions import assert_type

import fastframe as ff

FRAMER = ff.LengthPrefixed(4)


async def client(sock: socket.socket) -> None:
    reader, writer = await ff.aio.open_connection("127.0.0.1", 9000, FRAMER)
    assert_type(reader, ff.aio.FramedReader)
    assert_type(writer, ff.aio.FramedWriter)
    assert_type(await reader.recv(), bytes)
    assert_type(await reader.recv_many(), list[bytes])
    assert_type(await reader.recv_exactly(2), bytes)
    async for frame in reader:
        assert_type(frame, bytes)
    assert_type(reader.framer, ff.Framer)
    reader.framer = ff.Lines()
    writer.send(b"hello")
    writer.send_many([b"one", b"two"], head=b"Q")
    writer.sendall(b"raw")
    await writer.drain()
    assert_type(writer.transport, asyncio.Transport)
    assert_type(writer.transport.is_reading(), bool)
    assert_type(writer.framer, ff.Framer)
    writer.write_eof()
    writer.close()
    await writer.wait_closed()
    # the other ways to give the address and the framer
    await ff.aio.open_connection("127.0.0.1", 9000, framer=FRAMER, high_water=1 << 16)
    await ff.aio.open_connection(sock=sock, framer=FRAMER)
    await ff.aio.open_unix_connection("/run/app.sock", FRAMER)
    await ff.aio.open_unix_connection(sock=sock, framer=FRAMER)


async def wrong_clients(sock: socket.socket) -> None:
    await ff.aio.open_connection("127.0.0.1", 9000)  # type: ignore[call-overload]
    await ff.aio.open_connection(sock=sock)  # type: ignore[call-overload]
    await ff.aio.open_connection("127.0.0.1", 9000, ff.LengthPrefixed)  # type: ignore[call-overload]
    await ff.aio.open_connection("127.0.0.1", 9000, "lines")  # type: ignore[call-overload]
    await ff.aio.open_unix_connection("/run/app.sock")  # type: ignore[call-overload]
    reader, writer = await ff.aio.open_connection("127.0.0.1", 9000, FRAMER)
    writer.send("text")  # type: ignore[arg-type]
    reader.framer = "lines"  # type: ignore[assignment]
    await ff.aio.open_conection("127.0.0.1", 9000, FRAMER)  # type: ignore[attr-defined]


async def handle(reader: ff.aio.FramedReader, writer: ff.aio.FramedWriter) -> None:
    async for frame in reader:
        writer.send(frame.upper())


def handle_at_once(reader: ff.aio.FramedReader, writer: ff.aio.FramedWriter) -> None:
    writer.close()


def handle_reader(reader: ff.aio.FramedReader) -> None:
    """Not a client_connected_cb: it takes the reader only."""


async def servers() -> None:
    server = await ff.aio.start_server(handle, "127.0.0.1", 0, FRAMER)
    assert_type(server, asyncio.Server)
    await ff.aio.start_server(handle_at_once, "127.0.0.1", 0, framer=FRAMER)
    await ff.aio.start_unix_server(handle, "/run/app.sock", FRAMER)


async def wrong_servers() -> None:
    await ff.aio.start_server(handle, "127.0.0.1", 0)  # type: ignore[call-overload]
    await ff.aio.start_unix_server(handle, "/run/app.sock")  # type: ignore[call-overload]
    await ff.aio.start_server(handle_reader, "127.0.0.1", 0, FRAMER)  # type: ignore[arg-type]


class Upper(ff.aio.FramedProtocol):
    """docs/asyncio.md's protocol: answers each frame in upper case."""

    def frame_received(self, frame: bytes) -> None:
        assert_type(self.transport, asyncio.Transport)
        self.transport.write(FRAMER.encode(frame.upper()))
        assert_type(self.framer, ff.Framer)
        self.transport.get_extra_info("peername")

    def framing_error(self, exc: ff.FastframeError) -> None:
        super().framing_error(exc)


async def protocols() -> None:
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: Upper(FRAMER), "127.0.0.1", 0)
    Upper()  # type: ignore[call-arg]
    Upper(ff.LengthPrefixed)  # type: ignore[arg-type]
