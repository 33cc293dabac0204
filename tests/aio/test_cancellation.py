"""Cancelling a waiting recv() or recv_many(), on each core and event loop (by
task.cancel() or a wait_for timeout, racing a frame's arrival, again and again
while frames stream in): nothing is lost, nothing is returned twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import fastframe as ff
from tests.aio.frames import one
from tests.aio.peers import raw_peer
from tests.aio.running import run
from tests.support.wire import wire_of

# -- cancellation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["cancel", "wait_for"])
@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_cancelled_wait_loses_nothing(impl: Any, loop_kind: str, tls: bool, how: str, by: str) -> None:
    """A waiting recv / recv_many cancelled (task.cancel(), or a wait_for timeout)
    loses nothing: the frame sent afterwards is what the next call returns."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            for i in range(5):
                if by == "cancel":
                    task = asyncio.ensure_future(one(reader, how))
                    for _ in range(3):
                        await asyncio.sleep(0)
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                else:
                    with pytest.raises(asyncio.TimeoutError):
                        await asyncio.wait_for(one(reader, how), 0.01)
                await peer.send(wire_of(framer, [b"frame %d" % i])[0])
                assert await one(reader, how) == [b"frame %d" % i]

    run(loop_kind, main)


@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_cancel_racing_a_frame(impl: Any, loop_kind: str, tls: bool, how: str) -> None:
    """The cancel lands before, while or after the frame's bytes are read and the
    waiter woken (every interleaving of a few loop iterations): the frame is
    returned either by the cancelled call or by the next one, exactly once."""
    framer = impl.bind(ff.LengthPrefixed(2))

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            sent, got = [], []
            n = 0
            for before in range(3):
                for after in range(5):
                    payload = b"%d" % n
                    n += 1
                    task = asyncio.ensure_future(one(reader, how))
                    for _ in range(before):
                        await asyncio.sleep(0)
                    await peer.send(wire_of(framer, [payload])[0])
                    sent.append(payload)
                    for _ in range(after):
                        await asyncio.sleep(0)
                    task.cancel()
                    try:
                        got += await task
                    except asyncio.CancelledError:
                        got += await one(reader, how)
            assert got == sent

    run(loop_kind, main)


@pytest.mark.parametrize("how", ["recv", "recv_many"])
def test_wait_for_timeouts_while_frames_stream(impl: Any, loop_kind: str, tls: bool, how: str) -> None:
    """A consumer calling wait_for(reader.recv(), tiny timeout) in a loop while
    2000 frames stream in (with pauses, so that timeouts happen): every frame is
    received exactly once, in order."""
    framer = impl.bind(ff.LengthPrefixed(2))
    sent = [b"%d" % i for i in range(2000)]

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):

            async def produce() -> None:
                for i, payload in enumerate(sent):
                    await peer.send(wire_of(framer, [payload])[0])
                    await asyncio.sleep(0.001 if i % 50 == 0 else 0)

            producer = asyncio.ensure_future(produce())
            got: list[bytes] = []
            timeouts = 0
            while len(got) < len(sent):
                try:
                    got += await asyncio.wait_for(one(reader, how), 0.0002)
                except asyncio.TimeoutError:
                    timeouts += 1
            await producer
            assert got == sent
            assert timeouts > 0  # the race was run

    run(loop_kind, main)


# -- a call is a coroutine: it takes its frame when it runs ------------------------------------------------------


def _calls(reader: Any, how: str) -> Any:
    """What ``await reader.recv()`` or ``async for`` awaits."""
    return reader.recv() if how == "recv" else reader.__anext__()


@pytest.mark.parametrize("how", ["recv", "anext"])
def test_call_takes_its_frame_when_it_runs(impl: Any, loop_kind: str, tls: bool, how: str) -> None:
    """recv() and __anext__() return coroutines (asyncio.create_task and wait_for
    take them) that take a frame when they first run, not when they are made:
    one closed, or cancelled by wait_for before it ran, loses nothing, even with
    the frame already received; awaiting one twice is a RuntimeError."""
    framer = impl.bind(ff.LengthPrefixed(2))
    sent = [b"frame %d" % i for i in range(5)]

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            await peer.send(wire_of(framer, sent)[0])
            assert await _calls(reader, how) == sent[0]  # (and the rest has come with it)
            made = _calls(reader, how)
            assert asyncio.iscoroutine(made)
            assert await _calls(reader, how) == sent[1]
            made.close()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(_calls(reader, how), 0)
            assert await asyncio.create_task(_calls(reader, how)) == sent[2]
            call = _calls(reader, how)
            assert await call == sent[3]
            with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
                await call
            assert await _calls(reader, how) == sent[4]

    run(loop_kind, main)


@pytest.mark.parametrize("how", ["recv", "anext"])
def test_call_driven_by_hand(impl: Any, loop_kind: str, tls: bool, how: str) -> None:
    """Driven by hand as a coroutine: send(None) ends it with StopIteration
    carrying the held frame; an exception thrown into one not yet run comes back
    out and takes nothing; an ended one cannot be resumed."""
    framer = impl.bind(ff.LengthPrefixed(2))
    sent = [b"one", b"two"]

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            await peer.send(wire_of(framer, sent)[0])
            first = await _calls(reader, how)
            thrown = _calls(reader, how)
            with pytest.raises(KeyError, match="thrown"):
                thrown.throw(KeyError("thrown"))
            call = _calls(reader, how)
            with pytest.raises(StopIteration) as ended:
                call.send(None)
            assert [first, ended.value.value] == sent
            with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
                call.send(None)

    run(loop_kind, main)
