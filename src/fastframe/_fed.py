"""A stream an async front end feeds, beneath a core's FramedSocket loop.

An async front end (``fastframe.anyio``) awaits bytes from its own stream and
hands them to ``Fed.feed()``; the loop of a ``FramedSocket`` made over the
``Fed`` (``SocketAPI._over``) takes them as it takes a non-blocking socket's, on
its socket-object path, as it takes a TLS transport's (``fastframe._tls``).  So
every receive, raw read, framer switch, limit and error of the front end is
FramedSocket's own, on either core, and nothing about them is written twice.
What the loop sends is held here for the front end to await sending.
"""

from __future__ import annotations

import collections
from typing import Any


class Fed:
    """What the loop asks of a socket object (see fastframe._tls): ``recv_into``
    and ``recv`` give what was fed (``BlockingIOError`` when nothing is, 0 or
    ``b""`` once the end was fed), ``send`` keeps what the loop sends for
    ``take_output()``; ``held`` says bytes are fed and not yet taken."""

    hands_over = False  # detach() has no socket to give back
    tls = None

    def __init__(self) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._pos = 0  # bytes of _chunks[0] already taken
        self._eof = False
        self._closed = False
        self._output: list[bytes] = []

    # -- what the front end does --------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes received, in order."""
        if data:
            self._chunks.append(data)

    def feed_eof(self) -> None:
        """The stream has ended: once what was fed is taken, receives give 0."""
        self._eof = True

    def take_output(self) -> list[bytes]:
        """What the loop sent since the last call, in order."""
        output = self._output
        self._output = []
        return output

    # -- what the loop does ----------------------------------------------------------

    def fileno(self) -> int:
        # No descriptor: the loop asks for one only to see that its transport is
        # open, and to wait on it, which it never does with a timeout of 0.0.
        if self._closed:
            return -1
        return 0

    def gettimeout(self) -> float:
        return 0.0  # never wait: the front end does the waiting

    @property
    def held(self) -> bool:
        return bool(self._chunks)

    def recv_into(self, view: Any, nbytes: int = 0) -> int:
        got = self.recv_held_into(view)
        if got or self._eof:
            return got
        raise BlockingIOError

    def recv_held_into(self, view: Any) -> int:
        with memoryview(view) as into:
            into = into.cast("B")
            room = len(into)
            got = 0
            while self._chunks and got < room:
                chunk = self._chunks[0]
                n = min(len(chunk) - self._pos, room - got)
                into[got : got + n] = chunk[self._pos : self._pos + n]
                got += n
                self._pos += n
                if self._pos == len(chunk):
                    self._chunks.popleft()
                    self._pos = 0
            return got

    def recv(self, size: int) -> bytes:
        data = self.recv_held(size)
        if data or self._eof:
            return data
        raise BlockingIOError

    def recv_held(self, size: int) -> bytes:
        if not self._chunks:
            return b""
        chunk = self._chunks[0]
        if self._pos == 0 and len(chunk) <= size:  # the common case: the whole chunk, uncopied
            self._chunks.popleft()
            return chunk
        with memoryview(bytearray(size)) as view:
            return view[: self.recv_held_into(view)].tobytes()

    def send(self, data: Any, flags: int = 0) -> int:
        # the loop's memoryviews are of buffers a caller may reuse: kept as bytes
        part = data if type(data) is bytes else memoryview(data).tobytes()
        self._output.append(part)
        return len(part)

    def close(self) -> None:
        self._closed = True
        self._chunks.clear()
        self._output = []
