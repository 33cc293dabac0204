"""What a finished connection leaves behind, on each core and event loop: once its
reader and writer are dropped it is freed by reference counting alone, with the
garbage collector off."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed, IncompleteFrame
from tests.aio.peers import Peer, TLSPeer, client_tls, connect_peer, raw_pair, server_tls, with_handshake
from tests.aio.running import run

# -- what a finished connection leaves behind ------------------------------------------------

ENDINGS = {
    "clean EOF": (b"\x00\x00\x00\x01x", ConnectionClosed),
    "EOF inside a frame": (b"\x00\x00\x00\x01x\x00\x00\x10\x00abc", IncompleteFrame),
}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("side", ["client", "server"])
def test_a_finished_connection_is_freed_without_the_garbage_collector(
    impl: Any, loop_kind: str, tls: bool, ending: str, side: str
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
            a, b = raw_pair("socketpair")
            peer = TLSPeer(b, server_side=True) if tls else Peer(b)
            opening = aio.open_connection(sock=a, framer=framer, **client_tls(tls))
            reader, writer = await (with_handshake(peer, opening) if isinstance(peer, TLSPeer) else opening)
            await peer.send(wire)
            await peer.shutdown_write()
            await converse(reader, writer)
            del reader, writer
            peer.close()
        else:
            done = asyncio.get_running_loop().create_future()

            async def cb(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
                try:
                    await converse(reader, writer)
                finally:
                    done.set_result(None)

            server = await aio.start_server(cb, "127.0.0.1", 0, framer, **server_tls(tls))
            peer = await connect_peer(server.sockets[0].getsockname()[:2], tls=tls)
            await peer.send(wire)
            await peer.shutdown_write()
            await done
            peer.close()
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
