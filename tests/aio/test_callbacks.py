"""start_server's client_connected_cb, on each core and event loop: a plain function
or a coroutine, and an exception raised by either (reported to the loop's
exception handler, once)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed
from tests.aio.frames import batch_echo, stop_sending, take
from tests.aio.peers import KINDS, connect_peer, serving
from tests.aio.running import _describe, run, until


async def echo_then_close(reader: aio.FramedReader, writer: aio.FramedWriter) -> int:
    try:
        return await batch_echo(reader, writer)
    finally:
        writer.close()


@pytest.mark.parametrize("kind", KINDS)
def test_plain_function_callback(impl: Any, loop_kind: str, tls: bool, kind: str) -> None:
    """start_server with a plain function: it is called with the reader and writer
    of each connection, which stay open for whatever it starts."""
    framer = impl.bind(ff.Netstring())
    tasks: list[asyncio.Future[int]] = []

    def cb(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        assert isinstance(reader, impl.FramedReader) and isinstance(writer, aio.FramedWriter)
        tasks.append(asyncio.ensure_future(echo_then_close(reader, writer)))

    async def main() -> None:
        async with serving(kind, cb, framer, tls=tls) as connect:
            for n in range(2):
                reader, writer = await connect()
                sent = [b"%d-%d" % (n, i) for i in range(10)]
                writer.send_many(sent)
                assert await take(reader, "recv_many", len(sent)) == sent
                stop_sending(writer)
                assert await tasks[n] == 10
                writer.close()
                await writer.wait_closed()
            assert len(tasks) == 2

    run(loop_kind, main)


def test_plain_function_callback_exception_is_reported(impl: Any, loop_kind: str, tls: bool) -> None:
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
        async with serving("tcp", cb, framer, tls=tls) as connect:
            reader, writer = await connect()
            await until(lambda: bool(reports))
            writer.close()
            await writer.wait_closed()

    run(loop_kind, main, reports=reports)
    assert [type(r.get("exception")) for r in reports] == [Boom], _describe(reports)


def test_coroutine_callback_exception_is_reported(impl: Any, loop_kind: str, tls: bool) -> None:
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
        async with serving("tcp", cb, framer, tls=tls) as connect:
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


def test_coroutine_callback_failing_after_the_connection_is_lost(impl: Any, loop_kind: str, tls: bool) -> None:
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
        async with serving("tcp", cb, framer, tls=tls) as connect:
            peer = await connect_peer(connect.address, tls=tls)
            await until(lambda: bool(started))
            for _ in range(3):  # the callback waits in recv()
                await asyncio.sleep(0)
            peer.reset()
            await until(lambda: bool(finished))
            for _ in range(10):
                await asyncio.sleep(0.001)

    run(loop_kind, main, reports=reports)
    assert [type(r.get("exception")) for r in reports] == [ConnectionResetError], _describe(reports)
