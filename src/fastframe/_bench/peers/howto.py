"""Peer: the splitter most programs start with, in the spirit of the Python "Socket
Programming HOWTO" (accumulate what ``recv`` returns, then cut whole messages off the
front once their length prefix says they are complete).

It is the typical first version: the buffer is a ``bytes`` grown by ``+=`` and
shortened by ``buf = buf[4 + size:]`` after each frame, so every frame copies the
whole rest of the buffer again.  Its cost per frame grows with the chunk size divided
by the frame size, which is why it collapses on small frames; it is in the bench to
show what fastframe saves a newcomer from, not as a bar to clear.
"""

from __future__ import annotations

import socket
import struct

from . import CHUNK, incomplete


class Splitter:
    """``feed(bytes) -> list[bytes]`` for frames ``[4-byte big-endian length][body]``."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        frames = []
        while len(self.buf) >= 4:
            (size,) = struct.unpack(">I", self.buf[:4])
            if len(self.buf) < 4 + size:
                break
            frames.append(self.buf[4 : 4 + size])
            self.buf = self.buf[4 + size :]
        return frames


def count(sock: socket.socket) -> int:
    """Frames received until the peer closes: ``sock.recv(CHUNK)`` fed to the splitter."""
    splitter = Splitter()
    feed = splitter.feed
    recv = sock.recv
    frames = 0
    while data := recv(CHUNK):
        frames += len(feed(data))
    if splitter.buf:
        raise incomplete(len(splitter.buf))
    return frames


def frames(sock: socket.socket) -> list[bytes]:
    """``count``, keeping the frames."""
    splitter = Splitter()
    out: list[bytes] = []
    while data := sock.recv(CHUNK):
        out += splitter.feed(data)
    if splitter.buf:
        raise incomplete(len(splitter.buf))
    return out
