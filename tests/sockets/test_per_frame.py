"""The per-frame reads (recv(), iteration, recv_many(max_frames=k)) against the
batch read (recv_many()), for every framing, with the whole stream already
received: the frames come from the bytes held, where each core cuts one frame
at a time on a path of its own.  Whichever way a stream is read, the frames and
errors come out the same, in the same order (a batch returns the frames before
an error and raises it on the next call; a per-frame read raises it when it
reaches it); a framer switch or a raw read after a per-frame read starts at the
first byte not yet returned."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastframe as ff
from fastframe.errors import ConnectionClosed, FrameTooLarge, ProtocolError
from tests.support.sockets import framed, fresh_pair
from tests.support.strategies import IMPL_SETTINGS, payloads, streams
from tests.support.wire import expect, oversize_frame, wire_of

PER_FRAME_SETTINGS = settings(IMPL_SETTINGS, deadline=None, max_examples=40)

# every framing, with a max_size small enough for the streams to hold oversize frames
SMALL = 16
FRAMERS = [
    ff.LengthPrefixed(4, max_size=SMALL),
    # max_size at or over 4 KiB: the twin's own loop for [length][body] frames
    # (its runs span 4 KiB at most; a longer frame is a run of its own)
    ff.LengthPrefixed(4, max_size=4096),
    ff.LengthPrefixed(8, byteorder="little", max_size=5000),
    ff.LengthPrefixed(8, byteorder="little", max_size=SMALL),
    ff.LengthPrefixed(1, adjustment=2, strip=0, max_size=SMALL),
    ff.LengthPrefixed(2, byteorder="little", offset=2, adjustment=-3, strip=1, max_size=SMALL),
    ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=SMALL),
    ff.Lines(max_size=SMALL),
    ff.Delimited(b"<END>", max_size=SMALL),
    ff.Delimited(b"\r\n\r\n", keep=True, max_size=SMALL),
    ff.FixedSize(7),
    ff.Netstring(max_size=SMALL),
    ff.VarintPrefixed(max_size=SMALL),
]

READS = ["recv", "next", "recv_many", "recv_many(1)", "recv_many(2)"]


def read_once(fs: Any, frames: Any, how: str) -> list[bytes]:
    """One read of the given kind; iteration's end is a clean ConnectionClosed."""
    if how == "recv":
        return [fs.recv()]
    if how == "next":
        try:
            return [next(frames)]
        except StopIteration:
            raise ConnectionClosed("end of iteration") from None
    if how == "recv_many":
        return fs.recv_many()  # type: ignore[no-any-return]
    return fs.recv_many(int(how[-2]))  # type: ignore[no-any-return]


def outcomes(fs: Any, reads: list[str]) -> list[Any]:
    """Frames and errors, in order, reading with ``reads`` over and over until the
    stream ends or a ProtocolError (sticky) is met."""
    frames = iter(fs)
    got: list[Any] = []
    for i in range(10_000):
        try:
            got += read_once(fs, frames, reads[i % len(reads)])
        except ConnectionClosed as exc:
            got.append((type(exc), getattr(exc, "partial", None)))
            return got
        except (FrameTooLarge, ProtocolError) as exc:
            got.append((type(exc), exc.args))
            if type(exc) is ProtocolError:
                return got
    raise AssertionError("the stream never ended")


@PER_FRAME_SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_per_frame_reads_give_what_batch_reads_give(impl: Any, framer: Any, data: st.DataObject) -> None:
    """A stream of frames, oversize frames and garbage, read per frame (in a random
    mix of recv, next and recv_many(max_frames=k)) and in batches: the same frames
    and errors in the same order, ending the same way."""
    stream = data.draw(streams(framer), label="stream")
    reads = data.draw(st.lists(st.sampled_from(READS), min_size=1, max_size=6), label="reads")
    results = []
    for how in (reads, ["recv_many"]):
        with fresh_pair("socketpair") as (a, b):
            fs = framed(impl, a, framer)
            b.sendall(stream)  # all of it held before the first read
            b.close()
            results.append(outcomes(fs, how))
    assert results[0] == results[1]


def valid(framer: Any) -> st.SearchStrategy[list[bytes]]:
    """A few payloads that ``framer`` encodes into frames within its max_size."""
    head = b"H" * getattr(framer, "offset", 0)
    return st.lists(payloads(framer, extra=0).filter(lambda p: expect(framer, p, head).ok), max_size=5)


@st.composite
def switch_cases(draw: st.DrawFn, framer: Any) -> tuple[bytes, list[Any], bytes, Any, list[bytes]]:
    """(the wire; what its first framing gives, frames and at times FrameTooLarge;
    raw bytes read then with recv_exactly; the second framer; its frames)."""
    encoded = [wire_of(framer, [payload]) for payload in draw(valid(framer))]
    pieces = [wire for wire, _ in encoded]
    expected: list[Any] = [frames[0] for _, frames in encoded]
    if draw(st.booleans()) and not isinstance(framer, ff.FixedSize):
        at = draw(st.integers(0, len(pieces)))
        pieces.insert(at, oversize_frame(framer, framer.max_size + draw(st.integers(1, 20))))
        expected.insert(at, FrameTooLarge)
    raw = draw(st.binary(max_size=6))
    other = draw(st.sampled_from(FRAMERS))
    tail, then = wire_of(other, draw(valid(other)))
    return b"".join(pieces) + raw + tail, expected, raw, other, then


@PER_FRAME_SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_switch_and_raw_read_after_per_frame_reads(impl: Any, framer: Any, data: st.DataObject) -> None:
    """Frames (an oversize one among them at times) read per frame, then a raw read,
    then another framer: each starts at the first byte not yet returned, though
    every byte arrived before the first read."""
    wire, expected, raw, other, then = data.draw(switch_cases(framer), label="case")
    with fresh_pair("socketpair") as (a, b):
        fs = framed(impl, a, framer)
        b.sendall(wire)
        b.close()
        frames = iter(fs)
        got: list[Any] = []
        while len(got) < len(expected):
            how = data.draw(st.sampled_from(["recv", "next", "recv_many(1)", "recv_many(2)"]), label="read")
            if how == "recv_many(2)" and len(expected) - len(got) < 2:
                how = "recv_many(1)"
            try:
                got += read_once(fs, frames, how)
            except FrameTooLarge:
                got.append(FrameTooLarge)
        assert got == expected
        assert fs.recv_exactly(len(raw)) == raw
        fs.framer = other
        assert outcomes(fs, ["recv", "next"]) == [*then, (ConnectionClosed, None)]


def test_a_lying_8_byte_header_after_frames_read_one_by_one(impl: Any) -> None:
    """Frames, then a header announcing 2**64 - 1 bytes: recv() returns the
    frames, then raises FrameTooLarge (a position past 2**63 is no crash)."""
    framer = ff.LengthPrefixed(8)
    with fresh_pair("socketpair") as (a, b):
        fs = framed(impl, a, framer)
        b.sendall(framer.encode_many([b"a", b"bc", b"def"]) + b"\xff" * 8 + b"xx")
        b.close()
        assert [fs.recv(), fs.recv(), fs.recv()] == [b"a", b"bc", b"def"]
        with pytest.raises(FrameTooLarge) as info:
            fs.recv()
        assert info.value.size == 2**64 - 1


@pytest.mark.skipif(not hasattr(socket, "MSG_DONTWAIT"), reason="counts the bytes in the kernel with MSG_DONTWAIT, which Windows has not")
@PER_FRAME_SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("framer", FRAMERS, ids=repr)
def test_buffered_counts_every_byte_not_returned(impl: Any, framer: Any, data: st.DataObject) -> None:
    """After each per-frame read, buffered and the bytes still in the kernel
    are the stream's bytes less those of the frames returned (the twin cuts
    frames ahead of the reads, and still counts them as held until they are
    returned)."""
    # (what the frames hold does not matter here, their number and sizes do:
    # short runs of one byte, which every framer takes, but those shorter than
    # a positive adjustment lets the length field say)
    head = b"H" * getattr(framer, "offset", 0)
    size = st.just(framer.size) if isinstance(framer, ff.FixedSize) else st.integers(0, 10)
    payload = size.map(lambda n: b"x" * n).filter(lambda p: expect(framer, p, head).ok)
    sent = data.draw(st.lists(payload, max_size=40), label="payloads")
    sizes = [len(wire_of(framer, [payload])[0]) for payload in sent]
    with fresh_pair("socketpair") as (a, b):
        fs = framed(impl, a, framer)
        b.sendall(wire_of(framer, sent)[0])
        b.close()
        frames = iter(fs)
        returned = 0
        while returned < len(sent):
            how = data.draw(st.sampled_from(["recv", "next", "recv_many(1)"]), label="read")
            returned += len(read_once(fs, frames, how))
            assert fs.buffered + in_kernel(a) == sum(sizes[returned:]), (how, returned)


def in_kernel(sock: socket.socket) -> int:
    """Bytes received by the kernel and not yet read from ``sock``."""
    try:
        return len(sock.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return 0
