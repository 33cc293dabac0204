"""Peers of the loopback socket benchmark: receive and send loops written without
fastframe, as programs write them today.

Every receive loop here reads one connection of ``[4-byte big-endian length][body]``
frames until the peer closes it, makes each frame a ``bytes`` object (what
fastframe hands out) and returns how many frames it got; the ``*_frames`` twin of
each loop is the same code keeping the frames, for the untimed content check.
A stream that ends inside a frame raises ``EOFError``.  Send loops send one batch
of payloads per call.

* ``howto``: ``sock.recv(65536)`` and the HOWTO-style splitter of
  ``peers/howto.py`` (``buf += data``, ``buf = buf[4 + size:]`` per frame).
* ``best_python``: the fastest receive loop we could write in plain Python (see
  :func:`best_python_batches`).
* ``asyncio_streams``: ``asyncio.open_connection(sock=...)`` and per frame
  ``await reader.readexactly(4)``, ``await reader.readexactly(size)``.
* ``sink``: the limit, ``sock.recv_into`` of a preallocated buffer, counting bytes;
  no framing, no objects.
* ``send_pack_sendall`` / ``send_join_sendall`` / ``send_best_python``: one
  ``sendall`` per frame, one ``b"".join`` per batch, and ``best_python.encode_many``
  per batch.

The C floor of the receive side (one ``recv`` into a buffer, one bytes object per
frame) is ``socket_floors.pyx``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator
from typing import Any

from . import best_python, howto

CHUNK = 64 * 1024  # bytes asked of each recv() by the chunked loops
SINK_BUFFER = 256 * 1024  # the byte sink's buffer (the size that measured fastest here)
BIG = 32 * 1024  # best_python reads a frame body at least this large with its own recv


def _incomplete(nbytes: int) -> EOFError:
    return EOFError(f"the stream ended inside a frame ({nbytes} bytes of it received)")


# -- the HOWTO's loop --------------------------------------------------------------


def howto_count(sock: socket.socket) -> int:
    splitter = howto.Splitter()
    feed = splitter.feed
    recv = sock.recv
    frames = 0
    while True:
        data = recv(CHUNK)
        if not data:
            break
        frames += len(feed(data))
    if splitter.buf:
        raise _incomplete(len(splitter.buf))
    return frames


def howto_frames(sock: socket.socket) -> list[bytes]:
    splitter = howto.Splitter()
    out: list[bytes] = []
    while data := sock.recv(CHUNK):
        out += splitter.feed(data)
    if splitter.buf:
        raise _incomplete(len(splitter.buf))
    return out


# -- the best pure-Python loop -------------------------------------------------------


def best_python_batches(sock: socket.socket, chunk: int = CHUNK) -> Iterator[list[bytes]]:
    """The frames of ``sock`` until the peer closes it, one list per ``recv``.

    The bar for pure Python: ``best_python.Splitter``, the fastest splitter we
    can write, fed straight from the socket.

    * ``sock.recv(chunk)`` returns a fresh ``bytes`` the kernel wrote into
      directly; the splitter slices frames out of it with a moving offset (one
      copy per frame).  Receiving into one reused ``bytearray`` with
      ``recv_into`` measured slower: slicing a ``bytearray`` gives a
      ``bytearray``, so every frame (or every chunk) needs one more copy to
      become ``bytes``.
    * A frame body of ``BIG`` bytes or more that is still missing is read by
      ``recv(missing)``, which stops at the end of that frame instead of
      splitting the next one.
    """
    recv = sock.recv
    splitter = best_python.Splitter()
    feed = splitter.feed
    while True:
        missing = splitter.missing
        data = recv(missing if missing >= BIG else chunk)
        if not data:
            if splitter.held:
                raise _incomplete(splitter.held)
            return
        frames = feed(data)
        if frames:
            yield frames


def best_python_count(sock: socket.socket) -> int:
    frames = 0
    for batch in best_python_batches(sock):
        frames += len(batch)
    return frames


def best_python_frames(sock: socket.socket) -> list[bytes]:
    out: list[bytes] = []
    for batch in best_python_batches(sock):
        out += batch
    return out


# -- asyncio streams ---------------------------------------------------------------


async def _asyncio_read(sock: socket.socket, keep: list[bytes] | None) -> int:
    reader, writer = await asyncio.open_connection(sock=sock)
    readexactly = reader.readexactly
    frames = 0
    try:
        while True:
            try:
                header = await readexactly(4)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise _incomplete(len(exc.partial)) from None
                break
            try:
                frame = await readexactly(int.from_bytes(header, "big"))
            except asyncio.IncompleteReadError as exc:
                raise _incomplete(4 + len(exc.partial)) from None
            if keep is not None:
                keep.append(frame)
            frames += 1
    finally:
        writer.close()
    return frames


def asyncio_count(sock: socket.socket) -> int:
    return asyncio.run(_asyncio_read(sock, None))


def asyncio_frames(sock: socket.socket) -> list[bytes]:
    out: list[bytes] = []
    asyncio.run(_asyncio_read(sock, out))
    return out


# -- the byte sink -----------------------------------------------------------------


def sink_count(sock: socket.socket, size: int = SINK_BUFFER) -> int:
    """Bytes received until the peer closes: one ``recv_into`` of a preallocated
    buffer per call, nothing else (the limit: no framing, no objects)."""
    recv_into = sock.recv_into
    buffer = bytearray(size)
    total = 0
    while n := recv_into(buffer):
        total += n
    return total


def sink_bytes(sock: socket.socket, size: int = SINK_BUFFER) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    out = bytearray()
    while n := sock.recv_into(buffer):
        out += view[:n]
    return bytes(out)


# -- send loops --------------------------------------------------------------------


def send_pack_sendall(sock: socket.socket) -> Any:
    """Per frame ``sock.sendall(struct.pack(">I", len(p)) + p)``, as it is usually
    written."""
    sendall = sock.sendall
    pack = struct.pack

    def send(payloads: list[bytes]) -> None:
        for p in payloads:
            sendall(pack(">I", len(p)) + p)

    return send


def send_join_sendall(sock: socket.socket) -> Any:
    """Per batch one ``sendall`` of ``b"".join(pack(len(p)) + p for p in payloads)``."""
    sendall = sock.sendall
    pack = struct.pack

    def send(payloads: list[bytes]) -> None:
        sendall(b"".join([pack(">I", len(p)) + p for p in payloads]))

    return send


def send_best_python(sock: socket.socket) -> Any:
    """Per batch one ``sendall`` of ``best_python.encode_many(payloads)``."""
    sendall = sock.sendall
    encode_many = best_python.encode_many

    def send(payloads: list[bytes]) -> None:
        sendall(encode_many(payloads))

    return send
