"""ReaderLoop: what fastframe.aio's FramedReader does per frame, handing over a
frame already received.  The API around it, written once for both cores, is
fastframe/aio.py; it also does all the waiting (``ReaderAPI._recv_slow``).  The
compiled core's twin of this file is ``_core_c/reader.pxi``."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from .._limits import FRAME_OVERHEAD

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

__all__ = ["ReaderLoop"]


def _receiving(iterating: bool, name: str, doc: str | None) -> Callable[[ReaderLoop], Coroutine[Any, Any, bytes]]:
    """ReaderLoop's recv() (``iterating``: __anext__(), whose clean end is
    StopAsyncIteration): made here once for both, as _take's lines and not a
    call to it, which would be a third of what the whole coroutine costs
    (callgrind)."""

    async def receive(self: ReaderLoop) -> bytes:
        frames = self._frames
        if not frames:
            return await self._recv_slow(iterating)
        frame = frames.popleft()
        self._unread -= len(frame) + FRAME_OVERHEAD
        if self._paused and self._unread <= self._low:
            self._maybe_resume()
        return frame

    receive.__name__ = name
    receive.__qualname__ = f"ReaderLoop.{name}"
    receive.__doc__ = doc
    return receive


class ReaderLoop:
    """FramedReader's frames received and not yet returned, and the calls that
    return one (the class fastframe.aio's FramedReader adds its API to)."""

    __slots__ = ("_frames", "_unread", "_high", "_low", "_paused")

    def _open(self, high_water: int, low_water: int) -> None:
        """Start empty; reading pauses above ``high_water`` bytes held, resumes at
        ``low_water``."""
        self._frames: collections.deque[bytes] = collections.deque()
        self._unread = 0  # what the frames held count for flow control
        self._high = high_water
        self._low = low_water
        self._paused = False

    recv = _receiving(False, "recv", "The next frame.")
    __anext__ = _receiving(True, "__anext__", None)

    def _feed(self, frames: list[bytes]) -> None:
        """Hold the frames a read completed, in order (called by the protocol)."""
        self._frames.extend(frames)
        self._unread += sum(map(len, frames)) + FRAME_OVERHEAD * len(frames)
        if self._unread > self._high and not self._paused:
            self._pause()
        self._wake()

    def _take(self) -> bytes:
        """The oldest frame held (there is one), counted out of what is held."""
        frame = self._frames.popleft()
        self._unread -= len(frame) + FRAME_OVERHEAD
        if self._paused and self._unread <= self._low:  # (while paused, a test per frame)
            self._maybe_resume()
        return frame

    # provided by the API (fastframe.aio.ReaderAPI)
    if TYPE_CHECKING:

        def _recv_slow(self, iterating: bool) -> Coroutine[Any, Any, bytes]: ...
        def _maybe_resume(self) -> None: ...
        def _pause(self) -> None: ...
        def _wake(self) -> None: ...
