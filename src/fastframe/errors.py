"""The exceptions fastframe raises, shared by both implementations.

Every class keeps its constructor arguments in ``args`` so that instances pickle
(and unpickle to the same ``args``); the human-readable text is built by ``__str__``.
"""

from __future__ import annotations

__all__ = [
    "ConnectionClosed",
    "FastframeError",
    "FrameTooLarge",
    "IncompleteFrame",
    "ProtocolError",
]


class FastframeError(Exception):
    """Base class of every exception raised by fastframe."""


class FrameTooLarge(FastframeError, ValueError):
    """A frame is larger than ``max_size``; raised before anything is allocated for it.

    ``size`` is the frame's size as it would be returned to the caller (after
    ``strip``, without the delimiter unless ``keep``).  A delimited frame has no
    known size until its delimiter arrives: the decoder stops looking once no
    frame within ``max_size`` is possible and reports ``size = max_size + 1``.
    """

    def __init__(self, size: int, max_size: int) -> None:
        super().__init__(size, max_size)

    @property
    def size(self) -> int:
        """The frame's size, as it would have been returned."""
        return self.args[0]  # type: ignore[no-any-return]

    @property
    def max_size(self) -> int:
        """The decoder's limit."""
        return self.args[1]  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return f"frame of {self.size} bytes exceeds max_size={self.max_size}"


class ProtocolError(FastframeError, ValueError):
    """The byte stream does not follow the framing (a malformed netstring, a
    varint longer than 10 bytes, a length field announcing a negative size).

    The stream cannot be resynchronised after it: the decoder keeps raising it.
    """


class ConnectionClosed(FastframeError, EOFError):
    """The peer closed the stream between two frames."""


class IncompleteFrame(ConnectionClosed):
    """The stream ended inside a frame.

    ``partial`` holds every byte received of the unfinished frame, header
    included; ``expected`` is that frame's total size on the wire when the
    header announced it, else ``None``.
    """

    def __init__(self, partial: bytes, expected: int | None) -> None:
        super().__init__(partial, expected)

    @property
    def partial(self) -> bytes:
        """Every byte received of the unfinished frame, header included."""
        return self.args[0]  # type: ignore[no-any-return]

    @property
    def expected(self) -> int | None:
        """The frame's size on the wire, if its header announced it."""
        return self.args[1]  # type: ignore[no-any-return]

    def __str__(self) -> str:
        of = "" if self.expected is None else f" of {self.expected}"
        return f"stream ended inside a frame: got {len(self.partial)}{of} bytes"
