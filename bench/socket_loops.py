"""Peers of the loopback socket benchmark that only the repository measures: the
raw byte sink and the send loops.  (The receive loops of the HOWTO, the best pure
Python and asyncio streams are ``fastframe._bench.peers``, shared with
``python -m fastframe bench``.)

* ``sink``: the limit of a receive loop, ``sock.recv_into`` of a preallocated
  buffer, counting bytes; no framing, no objects.
* ``send_pack_sendall`` / ``send_join_sendall`` / ``send_best_python``: one
  ``sendall`` per frame, one ``b"".join`` per batch, and ``best_python.encode_many``
  per batch.

The C floor of the receive side (one ``recv`` into a buffer, one bytes object per
frame) is ``floors/recv.pyx``.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from fastframe._bench.peers import best_python

SINK_BUFFER = 256 * 1024  # the byte sink's buffer (the size that measured fastest here)


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
