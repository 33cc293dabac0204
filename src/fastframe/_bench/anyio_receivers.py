"""The ``fastframe.anyio`` contenders: coroutines that read one accepted socket
until the peer closes it, on whatever loop runs them (asyncio's default, uvloop,
trio: anyio finds out which).

* ``receive_many``: a ``FramedStream`` over the socket's anyio stream, then
  ``await stream.receive_many()`` until ``anyio.EndOfStream``.
* ``receive``: the same, one ``await stream.receive()`` per frame.

``byte_stream(sock)`` is the anyio stream both read, as anyio's own listeners hand
it to a handler; the hand-written peer (``peers.anyio_handwritten``) reads it too.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from anyio.abc import SocketStream, UNIXSocketStream

from ..anyio import FramedStream
from ..framers import Framer

# (sock, framer, keep) -> frames
ReadCoroutine = Callable[[socket.socket, Framer, "list[bytes] | None"], Coroutine[Any, Any, int]]


async def byte_stream(sock: socket.socket) -> SocketStream:
    """``sock``'s anyio stream, of the class anyio's listeners give (on asyncio a
    transport's for TCP and the raw socket's for AF_UNIX); it owns ``sock``."""
    if getattr(socket, "AF_UNIX", None) is not None and sock.family == socket.AF_UNIX:
        return await UNIXSocketStream.from_socket(sock)
    return await SocketStream.from_socket(sock)


async def _receive_many(sock: socket.socket, framer: Framer, keep: list[bytes] | None) -> int:
    frames = 0
    async with FramedStream(await byte_stream(sock), framer) as stream:
        try:
            if keep is None:
                while True:
                    frames += len(await stream.receive_many())  # one call per batch: no alias
            else:
                while True:
                    keep += await stream.receive_many()
        except anyio.EndOfStream:
            pass
    return frames


async def _receive(sock: socket.socket, framer: Framer, keep: list[bytes] | None) -> int:
    frames = 0
    async with FramedStream(await byte_stream(sock), framer) as stream:
        receive = stream.receive
        try:
            if keep is None:
                while True:
                    await receive()
                    frames += 1
            else:
                append = keep.append
                while True:
                    append(await receive())
        except anyio.EndOfStream:
            pass
    return frames


_READERS: dict[str, ReadCoroutine] = {"receive_many": _receive_many, "receive": _receive}


def reader(api: str) -> ReadCoroutine:
    """The coroutine of the contender ``anyio-CORE.<api>@LOOP``."""
    return _READERS[api]  # KeyError is a LookupError
