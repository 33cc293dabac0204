"""The end of a stream, on each core and event loop: half-close (the side whose
peer half-closed can still reply), a peer reset (every whole frame, then
ConnectionResetError, also while an error is pending or a recv() waits), a clean
EOF, EOF inside a frame (IncompleteFrame, again on every later call) and
at_eof()."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed, FrameTooLarge, IncompleteFrame
from tests.aio.frames import CUT, HOW, closed_here, drain_frames
from tests.aio.peers import KINDS, handled, raw_peer, serving
from tests.aio.running import run, until
from tests.support.wire import wire_of

# -- half-close ----------------------------------------------------------------------------------------


@pytest.mark.plain_only("asyncio's and uvloop's TLS transports cannot half-close (can_write_eof() is False); test_write_eof_over_tls shows what write_eof() does there")
@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("kind", KINDS)
def test_half_close(impl: Any, loop_kind: str, tls: bool, kind: str, how: str) -> None:
    """The client sends its requests and write_eof(); the server reads until the
    clean EOF (async for ends, recv() raises ConnectionClosed, at_eof()), then
    replies on its still-open side; the client reads every reply."""
    framer = impl.bind(ff.Netstring())
    requests = [b"req %d" % i for i in range(50)]

    async def body(reader: aio.FramedReader, writer: aio.FramedWriter) -> list[bytes]:
        got = await drain_frames(reader, how)
        with pytest.raises(ConnectionClosed) as info:
            await reader.recv()
        assert type(info.value) is ConnectionClosed
        assert reader.at_eof()
        assert writer.can_write_eof()
        writer.send_many([b"n=%d" % len(got)] + got[::-1])
        await writer.drain()
        return got

    async def main() -> None:
        cb, done = handled(body)
        async with serving(kind, cb, framer, tls=tls) as connect:
            reader, writer = await connect()
            writer.send_many(requests)
            assert writer.can_write_eof()
            writer.write_eof()
            replies = await drain_frames(reader, how)
            assert await done == requests
            assert replies == [b"n=50"] + requests[::-1]
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()

    run(loop_kind, main)


# -- peer reset ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_peer_reset(impl: Any, loop_kind: str, tls: bool, how: str) -> None:
    """A raw TCP peer sends frames and part of one, then closes with SO_LINGER 0
    (RST): every whole frame is delivered, then ConnectionResetError (again on
    every later call); send and drain raise too."""
    framer = impl.bind(ff.LengthPrefixed(2))
    wire, frames = wire_of(framer, [b"one", b"", b"three"])

    async def main() -> None:
        async with raw_peer(framer, kind="tcp", tls=tls) as (reader, writer, peer):
            await peer.send(wire + b"\x00\x09par")
            if sys.platform == "win32":  # a RST there drops what the reader has not taken in yet
                await until(lambda: reader._fs.buffered == len(wire) + 5)
            peer.reset()
            got: list[bytes] = []
            with pytest.raises(ConnectionResetError):
                if how == "iter":
                    async for frame in reader:
                        got.append(frame)
                else:
                    while True:
                        got += [await reader.recv()] if how == "recv" else await reader.recv_many()
            assert got == frames
            for call in (reader.recv, reader.recv_many, reader.recv):
                with pytest.raises(ConnectionResetError):
                    await call()
            with pytest.raises(ConnectionResetError):
                async for _ in reader:
                    pass
            with pytest.raises(ConnectionResetError):
                writer.send(b"x")
            with pytest.raises(ConnectionResetError):
                writer.send_many([b"x"])
            with pytest.raises(ConnectionResetError):
                await writer.drain()
            await writer.wait_closed()

    run(loop_kind, main)


def test_peer_reset_while_an_error_is_pending(impl: Any, loop_kind: str, tls: bool) -> None:
    """The connection is lost (the peer resets; the writer notices) while reading
    is paused on an unread FrameTooLarge: the reader gives the frame before, the
    FrameTooLarge, the frame after, then ConnectionResetError, not a clean EOF.

    BUG (aio.py, FramedReader._fail / _StreamProtocol._end): _fail() keeps only the
    first error, so the loss is dropped and the reader ends with ConnectionClosed
    (an EOFError, not an OSError), as if the peer had closed cleanly."""
    framer = impl.bind(ff.LengthPrefixed(1, max_size=3))

    async def main() -> None:
        async with raw_peer(framer, kind="tcp", presend=b"\x01a\x05xxxxx\x01b", tls=tls) as (reader, writer, peer):
            assert await reader.recv() == b"a"  # that read also met the oversize frame
            peer.reset()
            noticed = None
            for _ in range(200):
                try:
                    writer.send(b"p")
                    await writer.drain()
                except OSError as exc:
                    noticed = exc
                    break
                await asyncio.sleep(0.005)
            assert isinstance(noticed, OSError), repr(noticed)
            with pytest.raises(FrameTooLarge):
                await reader.recv()
            assert await reader.recv() == b"b"
            with pytest.raises(OSError):  # the loss (ECONNRESET or EPIPE), not ConnectionClosed
                await reader.recv()

    run(loop_kind, main)


def test_peer_reset_wakes_a_waiting_recv(impl: Any, loop_kind: str, tls: bool) -> None:
    """A recv() waiting for a frame raises ConnectionResetError when the peer resets."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), kind="tcp", tls=tls) as (reader, writer, peer):
            await peer.send(b"first\n")
            assert await reader.recv() == b"first"
            waiting = asyncio.ensure_future(reader.recv())
            for _ in range(3):
                await asyncio.sleep(0)
            assert not waiting.done()
            peer.reset()
            with pytest.raises(ConnectionResetError):
                await waiting

    run(loop_kind, main)


# -- EOF --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_clean_eof(impl: Any, loop_kind: str, tls: bool, how: str) -> None:
    """EOF between frames: every frame, then ConnectionClosed (not IncompleteFrame)
    from recv and recv_many, again and again; async for ends; at_eof()."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.LengthPrefixed(4)), tls=tls) as (reader, writer, peer):
            await peer.send(b"\x00\x00\x00\x02hi\x00\x00\x00\x00")
            await peer.shutdown_write()
            assert await drain_frames(reader, how) == [b"hi", b""]
            assert reader.at_eof()
            for call in (reader.recv, reader.recv_many, reader.recv):
                with pytest.raises(ConnectionClosed) as info:
                    await call()
                assert type(info.value) is ConnectionClosed
            assert [f async for f in reader] == []

    run(loop_kind, main)


def test_eof_at_once_and_eof_wakes_a_waiting_recv(impl: Any, loop_kind: str, tls: bool) -> None:
    """A recv() waiting when the peer half-closes without sending raises
    ConnectionClosed; so does a recv_many() waiting on another connection."""

    async def main() -> None:
        for name in ("recv", "recv_many"):
            async with raw_peer(impl.bind(ff.Lines()), tls=tls) as (reader, writer, peer):
                assert not reader.at_eof()
                waiting = asyncio.ensure_future(getattr(reader, name)())
                for _ in range(3):
                    await asyncio.sleep(0)
                assert not waiting.done()
                await peer.shutdown_write()
                with pytest.raises(ConnectionClosed) as info:
                    await waiting
                assert type(info.value) is ConnectionClosed
                assert reader.at_eof()

    run(loop_kind, main)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(("framer", "stream", "frames", "cut"), CUT, ids=[repr(c[1][:12]) for c in CUT])
def test_eof_inside_a_frame(impl: Any, loop_kind: str, tls: bool, framer: Any, stream: bytes, frames: list, cut: tuple, how: str) -> None:
    """EOF inside a header or a body: every whole frame, then IncompleteFrame with
    exactly the unfinished frame's bytes (header included) and its wire size when
    known; async for raises it too (it does not just stop); every later call
    raises it again."""

    async def main() -> None:
        async with raw_peer(impl.bind(framer), tls=tls) as (reader, writer, peer):
            await peer.send(stream)
            await peer.shutdown_write()
            got: list[bytes] = []
            with pytest.raises(IncompleteFrame) as info:
                if how == "iter":
                    async for frame in reader:
                        got.append(frame)
                else:
                    while True:
                        got += [await reader.recv()] if how == "recv" else await reader.recv_many()
            assert got == frames
            assert type(info.value.partial) is bytes
            assert (info.value.partial, info.value.expected) == cut
            for call in (reader.recv, reader.recv_many):
                with pytest.raises(IncompleteFrame) as again:
                    await call()
                assert again.value.args == cut
            assert reader.at_eof()

    run(loop_kind, main)


def test_at_eof(impl: Any, loop_kind: str, tls: bool) -> None:
    """at_eof(): False while the peer may still send, and while frames that arrived
    before its EOF are unread; True once they are read."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), presend=b"one\ntwo\n", tls=tls) as (reader, writer, peer):
            assert await reader.recv() == b"one"
            assert await reader.recv() == b"two"
            assert not reader.at_eof()
            await peer.send(b"three\n")
            await peer.shutdown_write()
            for _ in range(100):  # the EOF is read: at_eof() still False, a frame is held
                await asyncio.sleep(0.001)
            assert not reader.at_eof()
            assert await reader.recv() == b"three"
            assert reader.at_eof()

    run(loop_kind, main)


UVLOOP_TLS_EOF = (
    "uvloop 0.23 drops what its TLS layer has received but not delivered when the peer's FIN "
    "comes while reading is paused, and reports a clean close (MagicStack/uvloop#661)"
)


def test_eof_while_reading_is_paused(impl: Any, loop_kind: str, tls: bool, request: pytest.FixtureRequest) -> None:
    """The peer's last frame and its end of the stream (over TLS close_notify,
    then the FIN) arrive while reading is paused (high_water=0 and a frame
    unread): once the reader reads on, it gets that frame, then ConnectionClosed."""
    if tls and loop_kind == "uvloop":
        request.applymarker(pytest.mark.xfail(reason=UVLOOP_TLS_EOF, strict=True))
    framer = impl.bind(ff.Lines())

    async def main() -> None:
        async with raw_peer(framer, high_water=0, tls=tls) as (reader, writer, peer):
            await peer.send(b"first\n")
            await until(lambda: not writer.transport.is_reading())
            await peer.send(b"last\n")
            await peer.shutdown_write()
            for _ in range(50):  # the end arrives while paused
                await asyncio.sleep(0.001)
            assert await reader.recv() == b"first"
            assert await reader.recv() == b"last"
            with pytest.raises(ConnectionClosed) as info:
                await reader.recv()
            assert type(info.value) is ConnectionClosed

    run(loop_kind, main)


def test_close_while_paused_takes_nothing_more(impl: Any, loop_kind: str, tls: bool) -> None:
    """writer.close() while reading is paused (more is held than high_water, an
    oversize frame among it, unread), after the peer has sent another frame and
    its end of the stream: the close completes (asyncio's TLS transport, given
    the peer's EOF while paused, waited for ever), and the reader then gives the
    FrameTooLarge, the frame that came with it, then says that this side closed
    the connection (or, where the loop handed over the peer's end while paused,
    ConnectionClosed).  What arrived after the pause is not taken, as a plain
    transport's close leaves it unread."""
    framer = impl.bind(ff.LengthPrefixed(1, max_size=3))

    async def main() -> None:
        presend = b"\x01a\x05xxxxx\x01b"
        async with raw_peer(framer, presend=presend, tls=tls, high_water=4) as (reader, writer, peer):
            # the read comes while no call waits: it pauses reading
            await until(lambda: not writer.transport.is_reading())
            assert await reader.recv() == b"a"
            assert not writer.transport.is_reading()
            await peer.send(b"\x01c")
            await peer.shutdown_write()
            for _ in range(50):  # the frame and the end arrive while paused
                await asyncio.sleep(0.001)
            # uvloop's TLS transport hands the peer's end over while paused
            peer_s_end_taken = reader._fed.ended
            writer.close()
            await writer.wait_closed()
            with pytest.raises(FrameTooLarge):
                await reader.recv()
            assert await reader.recv() == b"b"
            if peer_s_end_taken:
                with pytest.raises(ConnectionClosed) as info:
                    await reader.recv()
                assert type(info.value) is ConnectionClosed
            else:
                await closed_here(reader.recv)

    run(loop_kind, main)


# -- this side closes ----------------------------------------------------------------------------------------

CLOSED_HERE_READS = {
    # what each way of reading returns of b"a\nb\npart" after b"a", before it says that this side closed
    "recv": (lambda reader: reader.recv(), [b"b"]),
    "recv_many": (lambda reader: reader.recv_many(), [[b"b"]]),
    "async for": (lambda reader: reader.__anext__(), [b"b"]),
    "recv_exactly": (lambda reader: reader.recv_exactly(4), [b"b\npa"]),
    "recv_until": (lambda reader: reader.recv_until(b"\n"), [b"b"]),
    "recv_until_eof": (lambda reader: reader.recv_until_eof(), []),
}


@pytest.mark.parametrize("how", ["close", "abort"])
@pytest.mark.parametrize("call", CLOSED_HERE_READS)
def test_after_this_side_closes_the_reader_says_so(impl: Any, loop_kind: str, tls: bool, how: str, call: str) -> None:
    """After writer.close() or abort(), with the peer still there: what was
    received before it comes first, then every read raises OSError(EBADF) saying
    that this side closed the connection (as FramedSocket after close()), again
    at every call.  They said "the peer closed the connection", and the raw read
    to the end returned what was held, as if the peer had ended the stream."""
    read, before = CLOSED_HERE_READS[call]

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), presend=b"a\nb\npart", tls=tls) as (reader, writer, peer):
            assert await reader.recv() == b"a"
            await until(lambda: reader._fs.buffered == 6)  # every byte is held
            writer.close() if how == "close" else writer.abort()
            for expected in before:
                assert await read(reader) == expected
            for _ in range(2):
                await closed_here(lambda: read(reader))
            assert reader.at_eof()

    run(loop_kind, main)


def test_the_peer_s_end_before_this_side_closes_stays_the_peer_s(impl: Any, loop_kind: str, tls: bool) -> None:
    """The peer's end, taken before this side closes, is still ConnectionClosed."""

    async def main() -> None:
        async with raw_peer(impl.bind(ff.Lines()), presend=b"a\n", tls=tls) as (reader, writer, peer):
            assert await reader.recv() == b"a"
            await peer.shutdown_write()
            with pytest.raises(ConnectionClosed) as info:
                await reader.recv()
            assert type(info.value) is ConnectionClosed
            writer.close()
            with pytest.raises(ConnectionClosed) as info:
                await reader.recv()
            assert type(info.value) is ConnectionClosed

    run(loop_kind, main)
