"""FramedStream against fastframe's other front ends, on each core, backend and
transport: a FramedSocket in a thread as the server (over TLS its own session,
by start_tls, against anyio's TLSStream), and as the client (``ff.connect``,
with ``ssl=`` over TLS) of a FramedStream server made as DESIGN.md says, by an
anyio listener's ``serve()`` whose handler wraps its stream itself.  (Against
fastframe.aio, which needs an asyncio loop: test_with_aio.py.)"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from anyio.streams.tls import TLSListener

import fastframe as ff
from fastframe.anyio import FramedStream
from tests.aio.frames import ECHO_FRAMERS, sample_payloads
from tests.anyio.frames import drain
from tests.anyio.peers import Transport, server_context
from tests.support import certs
from tests.support.sockets import IO_TIMEOUT, peer

pytestmark = pytest.mark.anyio

BYE = b"bye"


def echo_until_bye(fs: ff.FramedSocket) -> list[bytes]:
    """Echo every frame (recv_many / send_many) up to BYE, then end this side (over
    TLS close_notify) and return the frames before it."""
    seen: list[bytes] = []
    while True:
        frames = fs.recv_many()
        if BYE in frames:
            frames = frames[: frames.index(BYE)]
            seen += frames
            fs.send_many(frames)
            fs.shutdown_write()
            return seen
        seen += frames
        fs.send_many(frames)


@pytest.mark.parametrize("framer", ECHO_FRAMERS, ids=repr)
async def test_framed_socket_server(impl: Any, transport: Transport, framer: Any) -> None:
    """The FramedStream sends frames by send and send_many, then BYE; a FramedSocket
    echoes each batch and ends its side at BYE: the stream reads every echo by
    ``async for``, which ends there."""
    framer = impl.bind(framer)
    items = sample_payloads(framer) * 20
    async with transport.threaded(framer, echo_until_bye) as (stream, thread):
        for item in items[:10]:
            await stream.send(item)
        await stream.send_many([*items[10:], BYE])
        assert await drain(stream, "iter") == items
        assert await anyio.to_thread.run_sync(thread.finish) == items


@pytest.mark.parametrize("framer", ECHO_FRAMERS, ids=repr)
async def test_framed_socket_client(impl: Any, transport: Transport, framer: Any) -> None:
    """A FramedStream server (an anyio listener's serve(), over TLS a TLSListener;
    the handler wraps its stream) answers a FramedSocket client (ff.connect, with
    ssl= over TLS) frame by frame; at the client's end (shutdown_write: over TLS
    close_notify) the handler's ``async for`` ends and it closes; the client reads
    every answer, then ConnectionClosed."""
    framer = impl.bind(framer)
    requests = sample_payloads(framer) * 5
    handled: list[list[bytes]] = []

    async def handler(byte_stream: Any) -> None:
        async with FramedStream(byte_stream, framer) as stream:
            seen = []
            async for frame in stream:
                seen.append(frame)
                await stream.send(frame)
            handled.append(seen)

    def client(address: Any) -> list[bytes]:
        kwargs = {"ssl": certs.client_context(), "server_hostname": certs.SERVER_NAME} if transport.tls else {}
        with ff.connect(address, framer, timeout=IO_TIMEOUT, **kwargs) as fs:
            fs.send_many(requests)
            answers = [fs.recv() for _ in requests]
            fs.shutdown_write()
            with pytest.raises(ff.ConnectionClosed):
                fs.recv()
            return answers

    with anyio.fail_after(IO_TIMEOUT):
        async with transport.listening() as (listener, address), anyio.create_task_group() as tg:
            if transport.tls:
                listener = TLSListener(listener, server_context())
            tg.start_soon(listener.serve, handler)
            thread = peer(client, address)
            answers = await anyio.to_thread.run_sync(thread.finish)
            while not handled:
                await anyio.sleep(0.001)
            tg.cancel_scope.cancel()
    assert answers == requests
    assert handled == [requests]
