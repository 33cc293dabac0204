"""ReaderLoop: what fastframe.aio's FramedReader does per frame, handing over a
frame whole among the bytes received.  The API around it, written once for both
cores, is fastframe/aio.py; it also does all the waiting
(``ReaderAPI._recv_slow``).  The compiled core's twin of this file is
``_core_c/reader.pxi``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConnectionClosed

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from ..socket import SocketAPI

__all__ = ["ReaderLoop"]


def _receiving(iterating: bool, name: str, doc: str | None) -> Callable[[ReaderLoop], Coroutine[Any, Any, bytes]]:
    """ReaderLoop's recv() (``iterating``: __anext__(), whose clean end is
    StopAsyncIteration): made here once for both."""

    async def receive(self: ReaderLoop) -> bytes:
        fs = self._fs
        ahead = fs._ahead
        if ahead and fs._key is fs._framer and fs._sock is not None:
            # A frame of the decoder's run, popped here rather than by
            # fs.recv(): a Python call a frame less, and no receiving guard,
            # which keeps threads apart (a reader's loop has one: the event
            # loop's).  fs.recv() would pop the same frame.
            frame = ahead.pop()
            if not ahead:
                fs._dec.run_taken()
            # while paused, a test per frame: the run's length against the
            # mark _paused_frame() worked out for it
            if self._paused and (ahead is not self._mark_run or len(ahead) <= self._mark):
                self._paused_frame(ahead)
            return frame
        try:
            frame = fs.recv()
        except (BlockingIOError, ConnectionClosed):
            # no frame is whole among the bytes held, or the end: the slow path
            # waits, or says how the stream ended (the loop says it again), as
            # the compiled core's does
            return await self._recv_slow(iterating)
        if self._paused:
            self._paused_frame(fs._ahead)
        return frame

    receive.__name__ = name
    receive.__qualname__ = f"ReaderLoop.{name}"
    receive.__doc__ = doc
    return receive


class ReaderLoop:
    """FramedReader's bytes received and not yet returned, and the calls that
    return a frame of them (the class fastframe.aio's FramedReader adds its API
    to)."""

    __slots__ = ("_fs", "_high", "_low", "_paused", "_hungry", "_mark_run", "_mark")

    def _open(self, fs: SocketAPI, high_water: int, low_water: int) -> None:
        """Start on ``fs`` (a loop over a fastframe._fed transport); reading
        pauses above ``high_water`` bytes held, resumes at ``low_water``."""
        self._fs = fs
        self._high = high_water
        self._low = low_water
        self._paused = False
        self._hungry = False  # a call waits for more than is held, and has not been woken
        # While paused: the run (the loop's list) _mark is for, and how many of
        # its frames may be left with the bytes held at low_water or less (-1:
        # none may).  Asking buffered for each frame cost more than the frame.
        self._mark_run: list[bytes] | None = None
        self._mark = -1

    def _idle(self) -> None:
        """A call is about to wait (the compiled core frees an empty buffer
        here; the twin's are bytes objects, freed once taken)."""

    recv = _receiving(
        False,
        "recv",
        """The next frame.

        :raises ConnectionClosed: if the stream ended between frames (every
            later call raises it again)
        :raises IncompleteFrame: if it ended inside a frame
        :raises FrameTooLarge: once per frame over the framer's ``max_size``;
            the next call goes on after that frame
        :raises ProtocolError: if the bytes break the framing, or
            ``FramedWriter.start_tls()`` refused the bytes held; every later
            call raises it again
        :raises RuntimeError: if another task is already waiting on this reader
        :raises OSError: if the connection was lost to an error
            (``ConnectionResetError``, ``ssl.SSLError`` over TLS...): that
            error, once every frame before it is returned, and again by every
            later call
        """,
    )
    __anext__ = _receiving(True, "__anext__", None)

    def _received(self, data: Any) -> None:
        """Bytes a read brought, held for the calls (called by the protocol)."""
        self._fs._take_in(data)
        # a call waiting needs more than is held (a frame bigger than
        # high_water): reading goes on for it
        if not self._paused and not self._hungry and self._fs._dec.buffered > self._high:
            self._pause()
        self._mark_run = None  # more bytes held: the mark, if any, is worked out again
        self._wake()

    def _paused_frame(self, ahead: list[bytes]) -> None:
        """A frame was returned while reading is paused: resume if the bytes
        held are low_water or less, else mark when they will be."""
        mark = self._fs._dec.run_left_at(self._low)
        if mark >= len(ahead):  # with every frame of the run still there
            self._mark_run = None
            self._maybe_resume()
        else:
            self._mark_run = ahead
            self._mark = mark

    # provided by the API (fastframe.aio.ReaderAPI)
    if TYPE_CHECKING:

        def _recv_slow(self, iterating: bool) -> Coroutine[Any, Any, bytes]: ...
        def _maybe_resume(self) -> None: ...
        def _pause(self) -> None: ...
        def _wake(self) -> None: ...
