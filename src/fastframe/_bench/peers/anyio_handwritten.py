"""Peer: the loop an anyio (or trio) program writes by hand to read
length-prefixed frames, anyio having no framing of its own.

The socket's anyio stream wrapped in ``anyio.streams.buffered.BufferedByteReceiveStream``,
then per frame ``await buffered.receive_exactly(4)`` for the header and
``await buffered.receive_exactly(size)`` for the body.  It runs on whichever loop
runs it: asyncio's default, uvloop or trio.
"""

from __future__ import annotations

import socket

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

from ..anyio_receivers import byte_stream
from . import incomplete


async def read(sock: socket.socket, keep: list[bytes] | None = None) -> int:
    """Frames received until the peer closes; each appended to ``keep`` if given."""
    frames = 0
    async with await byte_stream(sock) as stream:
        buffered = BufferedByteReceiveStream(stream)
        receive_exactly = buffered.receive_exactly
        while True:
            try:
                header = await receive_exactly(4)
            except anyio.IncompleteRead:
                if buffered.buffer:  # the stream ended inside a header
                    raise incomplete(len(buffered.buffer)) from None
                break
            try:
                frame = await receive_exactly(int.from_bytes(header, "big"))
            except anyio.IncompleteRead:
                raise incomplete(4 + len(buffered.buffer)) from None
            if keep is not None:
                keep.append(frame)
            frames += 1
    return frames
