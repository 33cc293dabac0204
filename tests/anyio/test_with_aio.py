"""FramedStream against fastframe.aio, on each core, over TCP, AF_UNIX and TLS:
a FramedStream client of an aio server (``aio.start_server``, tests/aio/peers.py's
``serving``), and an aio client (``aio.open_connection``) of a FramedStream server
(an anyio listener's ``serve()``).  fastframe.aio needs an asyncio loop, so these
run on anyio's asyncio backend only: asyncio's default loop and uvloop."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from anyio.streams.tls import TLSListener

from fastframe import aio
from fastframe.anyio import FramedStream
from tests.aio.frames import ECHO_FRAMERS, batch_echo, sample_payloads
from tests.aio.peers import client_tls, handled, serving
from tests.anyio.frames import drain, take
from tests.anyio.peers import BACKENDS, Transport, server_context
from tests.support.sockets import IO_TIMEOUT

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module", params=[p for p in BACKENDS if p.id != "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.mark.parametrize("framer", ECHO_FRAMERS, ids=repr)
async def test_against_an_aio_server(impl: Any, transport: Transport, framer: Any) -> None:
    """A FramedStream (connect_tcp / connect_unix, tls=True over TLS) sends frames to
    an aio server echoing each batch: every echo comes back; at the stream's end
    (send_eof; over TLS its close) the server's loop ends, having echoed them all."""
    framer = impl.bind(framer)
    items = sample_payloads(framer) * 50
    with anyio.fail_after(IO_TIMEOUT):
        cb, done = handled(batch_echo)
        async with serving(transport.kind if transport.kind == "unix" else "tcp", cb, framer, tls=transport.tls) as connect:
            stream = await transport.connect(framer, connect.address)
            async with stream:
                await stream.send_many(items)
                if transport.can_half_close:
                    await stream.send_eof()
                    assert await drain(stream, "iter") == items
                else:
                    assert await take(stream, "receive_many", len(items)) == items
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(stream.aclose)
                        assert await done == len(items)
            assert await done == len(items)


@pytest.mark.parametrize("framer", ECHO_FRAMERS, ids=repr)
async def test_aio_client_of_a_framed_stream_server(impl: Any, transport: Transport, framer: Any) -> None:
    """An aio client sends frames to a FramedStream server (an anyio listener's
    serve(), over TLS a TLSListener) that answers each: every answer comes back;
    at the client's end the handler's ``async for`` ends."""
    framer = impl.bind(framer)
    requests = sample_payloads(framer) * 5
    handled_frames: list[list[bytes]] = []

    async def handler(byte_stream: Any) -> None:
        async with FramedStream(byte_stream, framer) as stream:
            seen = []
            async for frame in stream:
                seen.append(frame)
                await stream.send(frame)
            handled_frames.append(seen)

    with anyio.fail_after(IO_TIMEOUT):
        async with transport.listening() as (listener, address), anyio.create_task_group() as tg:
            if transport.tls:
                listener = TLSListener(listener, server_context())
            tg.start_soon(listener.serve, handler)
            if transport.kind == "unix":
                reader, writer = await aio.open_unix_connection(address, framer)
            else:
                reader, writer = await aio.open_connection(*address, framer, **client_tls(transport.tls))
            writer.send_many(requests)
            await writer.drain()
            assert [await reader.recv() for _ in requests] == requests
            writer.close()
            await writer.wait_closed()
            while not handled_frames:
                await anyio.sleep(0.001)
            tg.cancel_scope.cancel()
    assert handled_frames == [requests]
