"""Frames as the aio tests write and read them: payloads each framer can carry,
sending with a head where the framing takes one, saying that nothing more will be
sent, what a reader says once its side has closed, the ways of reading
(``recv``, ``recv_many``, ``async for``), the events a reader yields, streams of
good and oversize frames with the events they must give, streams cut short inside
a frame and malformed ones (tables the anyio suite runs too), and an echoing
handler."""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

import fastframe as ff
from fastframe import _messages, aio
from fastframe.errors import ConnectionClosed, FastframeError, FrameTooLarge
from tests.support.calls import E, F
from tests.support.wire import expect, lp_frame_size, oversize_frame, wire_of

# -- frames -----------------------------------------------------------------------------------


def head_of(framer: Any) -> bytes:
    return b"H" * getattr(framer, "offset", 0)


def send(writer: aio.FramedWriter, framer: Any, payload: bytes) -> None:
    if getattr(framer, "offset", 0):
        writer.send(payload, head=head_of(framer))
    else:
        writer.send(payload)


def send_many(writer: aio.FramedWriter, framer: Any, items: Sequence[bytes]) -> None:
    if getattr(framer, "offset", 0):
        writer.send_many(items, head=head_of(framer))
    else:
        writer.send_many(items)


async def closed_here(receive: Callable[[], Awaitable[Any]]) -> None:
    """``receive()`` raises what a reader says once its writer has closed the
    connection: this side closed it (OSError EBADF, as a closed FramedSocket),
    not the peer."""
    with pytest.raises(OSError) as info:
        await receive()
    assert type(info.value) is OSError and info.value.errno == errno.EBADF
    assert str(info.value) == str(_messages.closed_here())


def stop_sending(writer: aio.FramedWriter) -> None:
    """The peer sees the end of the stream after what was written: write_eof()
    (half-close) where the transport can; over TLS, which cannot half-close with
    asyncio or uvloop, close(), after which nothing more is read."""
    if writer.can_write_eof():
        writer.write_eof()
    else:
        writer.close()


CANDIDATES = [b"", b"a", b"hello", b"x" * 300, bytes(range(256)), b"a\rb", b"<EN", b"\r\n\r", b"12:"]
SMALL_CANDIDATES = [b"", b"a", b"hello", b"x" * 20, b"a\rb", b"<EN", b"12:"]


def sample_payloads(framer: Any, candidates: Sequence[bytes] = CANDIDATES) -> list[bytes]:
    """Payloads ``framer`` can encode: empty, short, 300 bytes, awkward bytes."""
    if isinstance(framer, ff.FixedSize):
        return [bytes([65 + i]) * framer.size for i in range(6)]
    return [c for c in candidates if expect(framer, c, head_of(framer)).ok]


# framings whose frame is the payload (an echo server can send a frame back as is)
ECHO_FRAMERS = [ff.LengthPrefixed(4), ff.Lines(), ff.Netstring(), ff.VarintPrefixed()]

HOW = ["recv", "recv_many", "iter"]


async def drain_frames(reader: aio.FramedReader, how: str) -> list[bytes]:
    """Every frame until a clean EOF, by ``recv``, ``recv_many`` or ``async for``."""
    frames: list[bytes] = []
    if how == "iter":
        async for frame in reader:
            assert type(frame) is bytes
            frames.append(frame)
        return frames
    while True:
        try:
            got = [await reader.recv()] if how == "recv" else await reader.recv_many()
        except ConnectionClosed as exc:
            assert type(exc) is ConnectionClosed, repr(exc)
            return frames
        assert got, "recv_many() returned []"
        assert all(type(frame) is bytes for frame in got)
        frames += got


async def collect(reader: aio.FramedReader, how: str, count: int) -> list[tuple]:
    """At least ``count`` events: ("frame", f) per frame, ("error", type, args) per
    FastframeError raised, ("end",) when ``async for`` ends."""
    out: list[tuple] = []
    while len(out) < count:
        try:
            if how == "recv":
                out.append(("frame", await reader.recv()))
            elif how == "recv_many":
                got = await reader.recv_many()
                assert got, "recv_many() returned []"
                out += [("frame", frame) for frame in got]
            else:
                async for frame in reader:
                    out.append(("frame", frame))
                    if len(out) >= count:
                        break
                else:
                    out.append(("end",))
        except FastframeError as exc:
            out.append(("error", type(exc), exc.args))
    return out


def ok(framer: Any, payload: bytes) -> tuple[bytes, tuple]:
    wire, frames = wire_of(framer, [payload])
    return wire, F(frames[0])


def big(framer: Any, n: int) -> tuple[bytes, tuple]:
    """An oversize frame announcing (or holding) n bytes, and its FrameTooLarge:
    .size is the frame as it would be returned (a delimited framing reports
    max_size + 1, having stopped looking there)."""
    if isinstance(framer, ff.LengthPrefixed):
        size = lp_frame_size(framer, n)
    elif isinstance(framer, (ff.Delimited, ff.Lines)):
        size = framer.max_size + 1
    else:
        size = n
    return oversize_frame(framer, n), E(FrameTooLarge(size, framer.max_size))


SMALL = 8
OVERSIZE_FRAMERS = [
    ff.LengthPrefixed(2, max_size=SMALL),
    ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=SMALL),
    ff.Lines(max_size=SMALL),
    ff.Delimited(b"<END>", max_size=SMALL, keep=True),
    ff.Netstring(max_size=SMALL),
    ff.VarintPrefixed(max_size=SMALL),
]


def oversize_stream(framer: Any) -> list[tuple[bytes, tuple]]:
    """good, oversize, good, good, oversize, oversize, good (wire, event) pieces."""
    return [
        ok(framer, b"a"),
        big(framer, 20),
        ok(framer, b"bc"),
        ok(framer, b""),
        big(framer, 30),
        big(framer, 12),
        ok(framer, b"xyz"),
    ]


# the end of the stream inside a frame (the aio and anyio suites' cases)
CUT = [
    # framer, stream, whole frames, IncompleteFrame(partial, expected) from docs/errors.md
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x01a\x00\x00", [b"a"], (b"\x00\x00", None)),
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x05he", [], (b"\x00\x00\x00\x05he", 4 + 5)),
    (ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0), b"Q\x00\x00\x00\x0asel", [], (b"Q\x00\x00\x00\x0asel", 1 + 4 + 6)),
    (ff.Lines(), b"x\nabc\r", [b"x"], (b"abc\r", None)),
    (ff.Delimited(b"<END>"), b"ok<END>abc<EN", [b"ok"], (b"abc<EN", None)),
    (ff.FixedSize(4), b"abcdef", [b"abcd"], (b"ef", 4)),
    (ff.Netstring(), b"1:a,5:hel", [b"a"], (b"5:hel", 2 + 5 + 1)),
    (ff.VarintPrefixed(), b"\x00\xac\x02abc", [b""], (b"\xac\x02abc", 2 + 300)),
    # a large frame (>= 64 KiB: the large-frame path), cut short
    (ff.LengthPrefixed(4), b"\x00\x02\x00\x00" + b"z" * 100_000, [], (b"\x00\x02\x00\x00" + b"z" * 100_000, 4 + 131_072)),
]


# a malformed frame after a good one: the ProtocolError is final
PROTOCOL_ERRORS = [
    # framer, good frames, bad bytes, the ProtocolError's message
    (ff.Netstring(), b"1:a,", b"x:1:b,", "netstring length has a non-digit byte b'x'"),
    (ff.Netstring(), b"1:a,", b"1:bX1:c,", "netstring does not end with b',' but b'X'"),
    (ff.LengthPrefixed(1, adjustment=-2), b"\x03a", b"\x00\x03b", "length field 0 with adjustment -2 gives a negative length"),
    (ff.VarintPrefixed(), b"\x01a", b"\x80" * 11, "varint length is longer than 10 bytes"),
]


async def batch_echo(reader: aio.FramedReader, writer: aio.FramedWriter) -> int:
    """Echo every frame back (recv_many / send_many + drain) until the peer's EOF."""
    count = 0
    while True:
        try:
            frames = await reader.recv_many()
        except ConnectionClosed:
            return count
        count += len(frames)
        writer.send_many(frames)
        await writer.drain()


async def take(reader: aio.FramedReader, how: str, count: int) -> list[bytes]:
    """The next ``count`` frames (the peer sends no more for now), by ``recv``,
    ``recv_many`` or ``async for``, without waiting for the end of the stream."""
    events = await collect(reader, how, count)
    assert all(event[0] == "frame" for event in events), events
    return [event[1] for event in events]


async def one(reader: aio.FramedReader, how: str) -> list[bytes]:
    return [await reader.recv()] if how == "recv" else await reader.recv_many()
