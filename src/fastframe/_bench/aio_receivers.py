"""The ``fastframe.aio`` contenders: coroutines that read one accepted socket until
the peer closes it, on whatever event loop runs them.

* ``frame_received``: ``loop.connect_accepted_socket`` with a ``FramedProtocol``
  subclass that counts in ``frame_received`` (one Python call per frame, the
  protocol layer's cost).
* ``recv_many``: ``aio.open_connection(sock=...)``, then ``await reader.recv_many()``.
* ``recv``: the same, one ``await reader.recv()`` per frame.
* ``iter``: the same, ``async for frame in reader``.

Given ``ssl=`` and ``server_hostname=`` (``tls``), each speaks TLS as the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from .. import aio
from ..errors import FastframeError
from ..framers import Framer
from .ending import clean_eof

# (sock, framer, keep, **tls) -> frames
ReadCoroutine = Callable[..., Coroutine[Any, Any, int]]


class _Counting(aio.FramedProtocol):
    """Counts frames until the connection is lost; then ``done`` holds the count,
    or the error that ended the stream."""

    def __init__(self, framer: Framer, done: asyncio.Future[int]) -> None:
        super().__init__(framer)
        self.done = done
        self.frames = 0
        self.error: BaseException | None = None

    def frame_received(self, frame: bytes) -> None:
        self.frames += 1

    def framing_error(self, exc: FastframeError) -> None:
        self.error = exc
        super().framing_error(exc)

    def connection_lost(self, exc: BaseException | None) -> None:
        error = self.error or exc
        if error is not None:
            self.done.set_exception(error)
        else:
            self.done.set_result(self.frames)


class _Keeping(_Counting):
    def __init__(self, framer: Framer, done: asyncio.Future[int], keep: list[bytes]) -> None:
        super().__init__(framer, done)
        self.keep = keep

    def frame_received(self, frame: bytes) -> None:
        self.keep.append(frame)


async def _frame_received(
    sock: socket.socket, framer: Framer, keep: list[bytes] | None, **tls: Any
) -> int:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()

    async def connect(factory: Callable[[], _Counting]) -> None:
        if tls:
            # the TLS client's side: connect_accepted_socket's ssl= is the server's
            await loop.create_connection(factory, sock=sock, **tls)
        else:
            await loop.connect_accepted_socket(factory, sock)

    if keep is None:
        await connect(lambda: _Counting(framer, done))
        return await done
    await connect(lambda: _Keeping(framer, done, keep))
    await done
    return len(keep)


@contextlib.asynccontextmanager
async def _reader(
    sock: socket.socket, framer: Framer, tls: dict[str, Any]
) -> AsyncIterator[aio.FramedReader]:
    """A FramedReader on ``sock``, closed at the end."""
    reader, writer = await aio.open_connection(sock=sock, framer=framer, **tls)
    try:
        yield reader
    finally:
        writer.close()


async def _recv_many(
    sock: socket.socket, framer: Framer, keep: list[bytes] | None, **tls: Any
) -> int:
    frames = 0
    async with _reader(sock, framer, tls) as reader:
        with clean_eof():
            if keep is None:
                while True:
                    frames += len(await reader.recv_many())  # one call per batch: no alias
            else:
                while True:
                    keep += await reader.recv_many()
    return frames


async def _recv(sock: socket.socket, framer: Framer, keep: list[bytes] | None, **tls: Any) -> int:
    frames = 0
    async with _reader(sock, framer, tls) as reader:
        recv = reader.recv
        with clean_eof():
            if keep is None:
                while True:
                    await recv()
                    frames += 1
            else:
                append = keep.append
                while True:
                    append(await recv())
    return frames


async def _iter(sock: socket.socket, framer: Framer, keep: list[bytes] | None, **tls: Any) -> int:
    frames = 0
    async with _reader(sock, framer, tls) as reader:
        if keep is None:
            async for _ in reader:
                frames += 1
        else:
            append = keep.append
            async for frame in reader:
                append(frame)
    return frames


_READERS: dict[str, ReadCoroutine] = {
    "frame_received": _frame_received,
    "recv_many": _recv_many,
    "recv": _recv,
    "iter": _iter,
}


def reader(api: str) -> ReadCoroutine:
    """The coroutine of the contender ``aio-CORE.<api>@LOOP``."""
    return _READERS[api]  # KeyError is a LookupError
