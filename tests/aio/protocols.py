"""FramedProtocol subclasses that record what they are told, and feeding a protocol
by hand, as an event loop would (get_buffer, then buffer_updated)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastframe import aio
from fastframe.errors import FastframeError
from tests.support.calls import E, F


class Watched(aio.FramedProtocol):
    """A FramedProtocol whose ``lost`` future (made on connection) gets what
    ``connection_lost`` was given."""

    def __init__(self, framer: Any) -> None:
        super().__init__(framer)
        self.lost: asyncio.Future[BaseException | None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.lost = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: BaseException | None) -> None:
        assert self.lost is not None
        self.lost.set_result(exc)


class Recorder(Watched):
    """Records what a FramedProtocol is told, as events (the support.calls.events
    format).  framing_error records and returns: the connection is kept."""

    def __init__(self, framer: Any) -> None:
        super().__init__(framer)
        self.events: list[tuple] = []

    def frame_received(self, frame: bytes) -> None:
        assert type(frame) is bytes
        self.events.append(F(frame))

    def framing_error(self, exc: FastframeError) -> None:
        self.events.append(E(exc))

    @property
    def frames(self) -> list[bytes]:
        return [e[1] for e in self.events if e[0] == "frame"]


def feed_protocol(proto: aio.FramedProtocol, chunk: bytes, sizehint: int) -> None:
    """What a loop does with one read of ``chunk``: get_buffer(sizehint), write
    into the view, buffer_updated(n), as many times as the views require."""
    while chunk:
        view = proto.get_buffer(sizehint)
        assert not view.readonly and len(view) >= max(sizehint, 1)
        n = min(len(view), len(chunk))
        view[:n] = chunk[:n]
        view.release()
        proto.buffer_updated(n)
        chunk = chunk[n:]


def check_every_chunk(
    framer: Any, chunks: Sequence[bytes], frames: Sequence[bytes], ends: Sequence[int], sizehint: int
) -> Recorder:
    """Feed ``chunks``: after each one, the frames delivered are exactly those
    whose last byte has arrived (``ends``: each frame's end offset in the stream)."""
    proto = Recorder(framer)
    offset = 0
    for chunk in chunks:
        feed_protocol(proto, chunk, sizehint)
        offset += len(chunk)
        due = [frame for frame, end in zip(frames, ends) if end <= offset]
        assert proto.frames == due, (chunks, offset)
    assert proto.eof_received() is None  # the transport closes at EOF
    return proto


def ends_of(wires: Sequence[bytes]) -> list[int]:
    ends, total = [], 0
    for wire in wires:
        total += len(wire)
        ends.append(total)
    return ends
