"""Frames as the anyio tests write and read them: sending with a head where the
framing takes one, the ways of reading (``receive``, ``receive_many``, ``async
for``) and the events a stream yields, as tests/aio/frames.py does for the aio
front end (whose payloads and tables these tests share)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio

from fastframe.anyio import FramedStream
from fastframe.errors import FastframeError
from tests.aio.frames import head_of

HOW = ["receive", "receive_many", "iter"]

T = TypeVar("T")


def backend_name(anyio_backend: Any) -> str:
    """ "asyncio", "uvloop" or "trio"."""
    if isinstance(anyio_backend, tuple):
        return "uvloop" if anyio_backend[1].get("use_uvloop") else str(anyio_backend[0])
    return str(anyio_backend)


def run(anyio_backend: Any, main: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``main(*args)`` on a fresh event loop of the backend.  (For hypothesis tests,
    which draw first and then run an example's loop: a draw that overruns raises
    hypothesis's StopTest, a BaseException, which inside the anyio plugin's runner
    task would end that task, leaving an exception never retrieved.)"""
    name, options = (anyio_backend, {}) if isinstance(anyio_backend, str) else anyio_backend
    return anyio.run(main, *args, backend=name, backend_options=options)


def heads(framer: Any) -> dict[str, bytes]:
    """The keyword arguments that send a head where the framing takes one."""
    return {"head": head_of(framer)} if getattr(framer, "offset", 0) else {}


async def send(stream: FramedStream, framer: Any, payload: bytes) -> None:
    await stream.send(payload, **heads(framer))


async def send_many(stream: FramedStream, framer: Any, items: Sequence[bytes]) -> None:
    await stream.send_many(items, **heads(framer))


async def one(stream: FramedStream, how: str) -> list[bytes]:
    """What one call returns: [frame] for receive, the batch for receive_many."""
    if how == "receive":
        return [await stream.receive()]
    frames = await stream.receive_many()
    assert frames, "receive_many() returned []"
    return frames


async def drain(stream: FramedStream, how: str) -> list[bytes]:
    """Every frame until a clean end (anyio.EndOfStream; ``async for`` just ends)."""
    frames: list[bytes] = []
    if how == "iter":
        async for frame in stream:
            assert type(frame) is bytes
            frames.append(frame)
        return frames
    while True:
        try:
            got = await one(stream, how)
        except anyio.EndOfStream:
            return frames
        assert all(type(frame) is bytes for frame in got)
        frames += got


async def collect(stream: FramedStream, how: str, count: int) -> list[tuple]:
    """At least ``count`` events: ("frame", f) per frame, ("error", type, args) per
    FastframeError raised, ("end",) when the stream ends (EndOfStream, or ``async
    for`` ending)."""
    out: list[tuple] = []
    while len(out) < count:
        try:
            if how == "iter":
                async for frame in stream:
                    out.append(("frame", frame))
                    if len(out) >= count:
                        break
                else:
                    out.append(("end",))
            else:
                out += [("frame", frame) for frame in await one(stream, how)]
        except FastframeError as exc:
            out.append(("error", type(exc), exc.args))
        except anyio.EndOfStream:
            out.append(("end",))
    return out


async def take(stream: FramedStream, how: str, count: int) -> list[bytes]:
    """The next ``count`` frames, without waiting for the end of the stream."""
    events = await collect(stream, how, count)
    assert all(event[0] == "frame" for event in events), events
    return [event[1] for event in events]
