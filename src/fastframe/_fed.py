"""The transport beneath a front end that receives for itself.

An async front end (``fastframe.anyio``'s FramedStream, ``fastframe.aio``'s
reader) awaits bytes its own way and hands them to the loop of a
``FramedSocket`` made over a ``Fed`` (``SocketAPI._over``) with the loop's
``_take_in()``; the loop cuts them as it cuts a socket's.  So every receive,
raw read, framer switch, limit and error of a front end is FramedSocket's own,
on either core, and nothing about them is written twice.

To the loop a ``Fed`` is a non-blocking socket object, on its socket-object
path, as TLS transports are (fastframe._tls): it never has bytes to give (they
came through ``_take_in``), until the front end says the stream has ended; and
it keeps what the loop sends for the front end to send.
"""

from __future__ import annotations

from typing import Any


class Fed:
    """What the loop asks of a socket object (see fastframe._tls)."""

    hands_over = False  # detach() has no socket to give back
    tls = None
    held = False  # nothing is waiting here: the front end hands bytes over itself

    def __init__(self) -> None:
        self.ended = False  # the front end said the stream has ended
        self._closed = False
        self._output: list[bytes] = []

    # -- what the front end does --------------------------------------------------

    def feed_eof(self) -> None:
        """The stream has ended: receives give 0 from now on."""
        self.ended = True

    def take_output(self) -> list[bytes]:
        """What the loop sent since the last call, in order."""
        output = self._output
        self._output = []
        return output

    # -- what the loop does ----------------------------------------------------------

    def fileno(self) -> int:
        # No descriptor: the loop asks for one only to see that its transport is
        # open, and to wait on it, which it never does with a timeout of 0.0.
        return -1 if self._closed else 0

    def gettimeout(self) -> float:
        return 0.0  # never wait: the front end does the waiting

    def recv_into(self, view: Any, nbytes: int = 0) -> int:
        if self.ended:
            return 0
        raise BlockingIOError

    def recv(self, size: int) -> bytes:
        if self.ended:
            return b""
        raise BlockingIOError

    def send(self, data: Any, flags: int = 0) -> int:
        # the loop's memoryviews are of buffers a caller may reuse: kept as bytes
        part = data if type(data) is bytes else memoryview(data).tobytes()
        self._output.append(part)
        return len(part)

    def close(self) -> None:
        self._closed = True
        self._output = []
