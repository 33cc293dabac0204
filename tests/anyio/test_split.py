"""Any split of a stream gives the same frames, on each core (hypothesis).

The byte stream is on memory (peers.memory_stream): each of its receives returns
exactly one chunk of the split, as a peer sent it, so that the property is
about every split and not about the few a kernel happens to make (sockets do
that in test_streams.py).  A memory stream does no I/O, so uvloop, whose I/O is
its own, is left out here: asyncio's default loop and trio, whose scheduling and
cancellation differ, both run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastframe._cores import CORES
from fastframe.anyio import FramedStream
from fastframe.errors import FastframeError, IncompleteFrame, ProtocolError
from tests.anyio.frames import HOW, drain, one, run
from tests.anyio.peers import memory_stream
from tests.support.calls import E, F, Feed, events
from tests.support.sockets import IO_TIMEOUT
from tests.support.strategies import IMPL_SETTINGS, chunkings, framers, heads, payloads, streams
from tests.support.wire import expect

pytestmark = pytest.mark.anyio

# the twin is the reference the compiled core is compared with
REFERENCE = CORES[-1]


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


def fed(anyio_backend: Any, framer: Any, chunks: Sequence[bytes], how: str, reading: Any) -> Any:
    """``reading(stream, how)`` on a FramedStream whose byte stream gives ``chunks``,
    one per receive (a task sends each when the stream asks), then ends; on a
    fresh loop of the backend."""
    return run(anyio_backend, feeding, framer, chunks, how, reading)


async def feeding(framer: Any, chunks: Sequence[bytes], how: str, reading: Any) -> Any:
    byte_stream, sender = memory_stream(buffer=0)
    stream = FramedStream(byte_stream, framer)

    async def feed() -> None:
        async with sender:
            for chunk in chunks:
                if chunk:
                    await sender.send(chunk)

    with anyio.fail_after(IO_TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed)
            result = await reading(stream, how)
            tg.cancel_scope.cancel()  # (a reading that stopped early leaves the rest unsent)
        await stream.aclose()
    return result


async def stream_events(stream: FramedStream, how: str) -> list[tuple]:
    """Every event until the end: frames, each FastframeError (up to the first
    ProtocolError or IncompleteFrame, which end the stream); a clean end ends it."""
    out: list[tuple] = []
    for _ in range(10_000):
        try:
            if how == "iter":
                async for frame in stream:
                    out.append(F(frame))
                return out
            out += [F(frame) for frame in await one(stream, how)]
        except anyio.EndOfStream:
            return out
        except FastframeError as exc:
            out.append(E(exc))
            if isinstance(exc, (ProtocolError, IncompleteFrame)):
                return out
    raise AssertionError(f"no end after 10 000 calls: {out[-5:]}")


# a fifth of the profile's examples (60 in CI, for each of 2 cores x 2 backends x
# 2 properties): each runs a FramedStream on a fresh event loop to its end
SPLIT_SETTINGS = settings(IMPL_SETTINGS, max_examples=max(10, settings.default.max_examples // 5))


@SPLIT_SETTINGS
@given(data=st.data())
def test_any_split_gives_the_frames(impl: Any, anyio_backend: Any, data: st.DataObject) -> None:
    """Random framers and payloads; the wire cut anywhere (one chunk to one byte per
    chunk), each chunk one receive of the byte stream: exactly the frames of
    docs/framers/, in order, then the end, whichever way the stream is read."""
    framer = data.draw(framers(), label="framer")
    head = data.draw(heads(framer), label="head")
    wire, frames = b"", []
    for payload in data.draw(st.lists(payloads(framer, extra=0), max_size=10), label="payloads"):
        outcome = expect(framer, payload, head)
        if outcome.ok:
            wire += outcome.wire  # type: ignore[operator]
            frames.append(outcome.frame)
    chunks = data.draw(chunkings(wire), label="chunks")
    how = data.draw(st.sampled_from(HOW), label="how")
    assert fed(anyio_backend, impl.bind(framer), chunks, how, drain) == frames


@SPLIT_SETTINGS
@given(data=st.data())
def test_any_split_of_a_bad_stream_gives_the_same_events(impl: Any, anyio_backend: Any, data: st.DataObject) -> None:
    """Streams of good, oversize and garbage frames, cut anywhere: the stream's
    frames and errors (FrameTooLarge then decoding going on, a final ProtocolError
    or IncompleteFrame) are the twin's decoder's for the whole stream at once."""
    framer = data.draw(framers(), label="framer")
    stream = data.draw(streams(framer), label="stream")
    expected = events(REFERENCE.decoder(framer), [Feed(stream)])
    chunks = data.draw(chunkings(stream), label="chunks")
    how = data.draw(st.sampled_from(HOW), label="how")
    assert fed(anyio_backend, impl.bind(framer), chunks, how, stream_events) == expected


def test_memory_stream_keeps_the_split() -> None:
    """The property's byte stream gives each chunk as sent, in one receive."""

    async def main() -> list[bytes]:
        byte_stream, sender = memory_stream(buffer=math.inf)
        for chunk in (b"ab", b"c", b"defg"):
            sender.send_nowait(chunk)
        sender.close()
        got = [await byte_stream.receive(3) for _ in range(4)]
        with pytest.raises(anyio.EndOfStream):
            await byte_stream.receive()
        return got

    assert anyio.run(main) == [b"ab", b"c", b"def", b"g"]
