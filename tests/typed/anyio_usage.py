"""fastframe.anyio, as docs/anyio.md uses it."""

from __future__ import annotations

from pathlib import Path

import anyio
from anyio.abc import ObjectStream, SocketAttribute, SocketStream
from typing_extensions import assert_type

import fastframe as ff
from fastframe.anyio import FramedStream, connect_tcp, connect_unix

FRAMER = ff.LengthPrefixed(4)


async def handle(byte_stream: SocketStream) -> None:
    async with FramedStream(byte_stream, FRAMER) as stream:
        async for request in stream:
            assert_type(request, bytes)
            await stream.send(b"you said: " + request)


async def client() -> None:
    async with await connect_tcp("127.0.0.1", 9000, FRAMER) as stream:
        assert_type(stream, FramedStream)
        frames: ObjectStream[bytes] = stream
        assert_type(await stream.receive(), bytes)
        assert_type(await stream.receive_many(max_frames=4), list[bytes])
        assert_type(await stream.receive_exactly(4), bytes)
        assert_type(await stream.receive_until(b"\n", keep=True), bytes)
        assert_type(await stream.receive_until_eof(), bytes)
        await stream.send(b"hello")
        await stream.send_many([b"one", b"two"], head=b"Q")
        await stream.send_eof()
        assert_type(stream.framer, ff.Framer)
        stream.framer = ff.Lines()
        assert_type(stream.buffered, int)
        assert_type(stream.extra(SocketAttribute.remote_port), int)
        await frames.aclose()
    await connect_tcp("example.org", 443, FRAMER, tls=True, tls_hostname="example.org")
    await connect_unix("/run/app.sock", FRAMER)
    await connect_unix(Path("/run/app.sock"), FRAMER)


async def wrong_uses(byte_stream: SocketStream) -> None:
    await connect_tcp("127.0.0.1", 9000)  # type: ignore[call-arg]
    await connect_tcp("127.0.0.1", 9000, ff.LengthPrefixed)  # type: ignore[arg-type]
    await connect_unix("/run/app.sock")  # type: ignore[call-arg]
    FramedStream(byte_stream, "lines")  # type: ignore[arg-type]
    stream = FramedStream(byte_stream, FRAMER)
    await stream.send("text")  # type: ignore[arg-type]
    stream.framer = ff.Lines  # type: ignore[assignment]


def serve() -> None:
    async def main() -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        await listener.serve(handle)

    anyio.run(main)
