"""Bad input, on each implementation: oversize frames (raised once, skipped, decoding
goes on), bounded memory for lying headers and endless lines, malformed streams
(sticky ProtocolError), truncated streams at eof(), the frames-before-error rule,
get_buffer/buffer_updated misuse, and encode refusals."""

from __future__ import annotations

import gc
import pickle
import subprocess
import sys
import tracemalloc
from typing import Any

import pytest

import fastframe as ff
from fastframe import _messages
from fastframe.errors import (
    ConnectionClosed,
    FastframeError,
    FrameTooLarge,
    IncompleteFrame,
    ProtocolError,
)
from tests.support.calls import Buffer, Feed, deadline, events, every_split, split
from tests.support.children import CHILD_CORE, child_env
from tests.support.wire import netstring, oversize_frame, varint

MiB = 1024 * 1024


def F(frame: bytes) -> tuple:
    return ("frame", frame)


def E(exc: BaseException) -> tuple:
    return ("error", type(exc), exc.args)


def raises(call: Any, *args: Any) -> BaseException:
    """The exception ``call(*args)`` raises (fails if it returns)."""
    with deadline():
        try:
            result = call(*args)
        except Exception as exc:  # noqa: BLE001
            return exc
    raise AssertionError(f"returned {result!r} instead of raising")


def feed_ops(chunks: list[bytes]) -> list[Feed]:
    return [Feed(c) for c in chunks]


def splits(data: bytes) -> list[list[bytes]]:
    if len(data) <= 200:
        return every_split(data)
    return [[data], [data[i : i + 1] for i in range(len(data))], split(data, range(0, len(data), 7))]


# -- the exceptions ---------------------------------------------------------------------


def test_exception_hierarchy() -> None:
    assert issubclass(FrameTooLarge, FastframeError) and issubclass(FrameTooLarge, ValueError)
    assert issubclass(ProtocolError, FastframeError) and issubclass(ProtocolError, ValueError)
    assert issubclass(ConnectionClosed, FastframeError) and issubclass(ConnectionClosed, EOFError)
    assert issubclass(IncompleteFrame, ConnectionClosed)
    assert ff.FrameTooLarge is FrameTooLarge and ff.IncompleteFrame is IncompleteFrame


def test_exception_attributes_and_pickling() -> None:
    big = FrameTooLarge(2**64 + 4, 10)
    assert (big.size, big.max_size, big.args) == (2**64 + 4, 10, (2**64 + 4, 10))
    cut = IncompleteFrame(b"\x00\x05ab", 7)
    assert (cut.partial, cut.expected) == (b"\x00\x05ab", 7)
    assert IncompleteFrame(b"ab", None).expected is None
    for exc in (big, cut, ProtocolError("bad"), ConnectionClosed()):
        clone = pickle.loads(pickle.dumps(exc))
        assert type(clone) is type(exc) and clone.args == exc.args
    assert "10" in str(big) and "7" in str(cut)


# -- LengthPrefixed: oversize headers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("framer", "header", "size"),
    [
        (ff.LengthPrefixed(4), b"\xff\xff\xff\xff", 2**32 - 1),
        (ff.LengthPrefixed(4, byteorder="little"), b"\x00\x00\x00\x80", 2**31),
        (ff.LengthPrefixed(8), b"\xff" * 8, 2**64 - 1),
        (ff.LengthPrefixed(8, adjustment=5), b"\xff" * 8, 2**64 - 1 + 5),
        (ff.LengthPrefixed(8, offset=2, strip=0), b"hh" + b"\xff" * 8, 2**64 - 1 + 10),
        (ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0), b"Q\xff\xff\xff\xff", 2**32 - 1 + 1),
    ],
)
def test_lying_header_raises_before_allocating(impl: Any, framer: Any, header: bytes, size: int) -> None:
    dec = impl.decoder(framer)
    body = [b"\x00" * 65536] * 64  # 4 MiB of the announced body (one chunk, made up front)
    tracemalloc.start()
    try:
        exc = raises(dec.feed, header)
        assert E(exc) == E(FrameTooLarge(size, ff.DEFAULT_MAX_SIZE))
        for chunk in body:
            assert dec.feed(chunk) == []  # skipped, not stored
            assert dec.buffered == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MiB // 4, peak


@pytest.mark.parametrize(
    ("framer", "ok", "too_big", "size"),
    [
        (ff.LengthPrefixed(1, max_size=3), b"\x03abc", b"\x04abcd", 4),
        # frame = [offset][field][body]: 3 + 7 fits max_size=10, 3 + 8 does not
        (ff.LengthPrefixed(2, offset=1, strip=0, max_size=10), b"T\x00\x07" + b"b" * 7, b"T\x00\x08" + b"b" * 8, 11),
        (ff.LengthPrefixed(2, strip=1, max_size=4), b"\x00\x03abc", b"\x00\x04abcd", 5),
        # the field counts itself: 7 - 2 = 5 fits, 8 - 2 = 6 does not
        (ff.LengthPrefixed(2, adjustment=-2, max_size=5), b"\x00\x07abcde", b"\x00\x08abcdef", 6),
        (ff.LengthPrefixed(1, adjustment=3, max_size=5), b"\x02abcde", b"\x03abcdef", 6),
    ],
)
def test_length_prefixed_max_size_boundary(impl: Any, framer: Any, ok: bytes, too_big: bytes, size: int) -> None:
    dec = impl.decoder(framer)
    assert len(dec.feed(ok)) == 1
    assert E(raises(dec.feed, too_big)) == E(FrameTooLarge(size, framer.max_size))
    assert dec.buffered == 0
    assert len(dec.feed(ok)) == 1  # the oversize frame was skipped exactly


# -- oversize frames: raised once, skipped, decoding goes on (every framer) -----------------

SMALL = 8
OVERSIZE_CASES = [
    # framer, a good frame before, one after, the oversize frame, FrameTooLarge.size
    (ff.LengthPrefixed(2, max_size=SMALL), b"\x00\x01a", b"\x00\x02bc", b"\x00\x32" + b"x" * 50, 50),
    (
        ff.LengthPrefixed(2, offset=1, adjustment=-3, strip=0, max_size=SMALL),
        b"T\x00\x04a",
        b"T\x00\x05bc",
        b"T\x00\x35" + b"x" * 50,
        53,
    ),
    (ff.LengthPrefixed(8, byteorder="little", max_size=SMALL), b"\x01" + b"\x00" * 7 + b"a", b"\x02" + b"\x00" * 7 + b"bc", b"\x32" + b"\x00" * 7 + b"x" * 50, 50),
    (ff.Delimited(b"\n", max_size=SMALL), b"a\n", b"bc\n", b"x" * 50 + b"\n", SMALL + 1),
    (ff.Delimited(b"\r\n", max_size=SMALL), b"a\r\n", b"bc\r\n", b"x\r" * 25 + b"\r\n", SMALL + 1),
    (ff.Delimited(b"<END>", max_size=SMALL, keep=True), b"a<END>", b"bc<END>", b"<EN" * 20 + b"<END>", SMALL + 1),
    (ff.Lines(max_size=SMALL), b"a\r\n", b"bc\n", b"x" * 50 + b"\r\n", SMALL + 1),
    (ff.Netstring(max_size=SMALL), b"1:a,", b"2:bc,", b"50:" + b"x" * 50 + b",", 50),
    (ff.VarintPrefixed(max_size=SMALL), b"\x01a", b"\x02bc", b"\x32" + b"x" * 50, 50),
    (ff.VarintPrefixed(max_size=SMALL), b"\x01a", b"\x02bc", b"\xac\x02" + b"x" * 300, 300),
]
OVERSIZE_IDS = [repr(case[0]) + f"-{case[4]}" for case in OVERSIZE_CASES]


@pytest.mark.parametrize(("framer", "before", "after", "big", "size"), OVERSIZE_CASES, ids=OVERSIZE_IDS)
def test_oversize_raised_once_then_skipped(
    impl: Any, framer: Any, before: bytes, after: bytes, big: bytes, size: int
) -> None:
    good_before = impl.decoder(framer).feed(before)
    good_after = impl.decoder(framer).feed(after)
    assert len(good_before) == len(good_after) == 1
    expected = [F(good_before[0]), E(FrameTooLarge(size, SMALL)), F(good_after[0])]
    stream = before + big + after
    for chunks in splits(stream):
        assert events(impl.decoder(framer), feed_ops(chunks)) == expected, chunks
    buffered = [Buffer(c, len(c)) for c in split(stream, range(0, len(stream), 5))]
    assert events(impl.decoder(framer), buffered) == expected


@pytest.mark.parametrize(("framer", "before", "after", "big", "size"), OVERSIZE_CASES, ids=OVERSIZE_IDS)
def test_oversize_split_across_many_feeds(
    impl: Any, framer: Any, before: bytes, after: bytes, big: bytes, size: int
) -> None:
    dec = impl.decoder(framer)
    assert len(dec.feed(before)) == 1
    raised = []
    for i in range(len(big)):
        try:
            assert dec.feed(big[i : i + 1]) == []
        except FrameTooLarge as exc:
            raised.append(exc.args)
        if raised:
            assert dec.buffered == 0  # skipping: nothing held
    assert raised == [(size, SMALL)]
    assert dec.feed(after) == impl.decoder(framer).feed(after)
    assert dec.buffered == 0
    assert dec.eof() == []


@pytest.mark.parametrize(("framer", "before", "after", "big", "size"), OVERSIZE_CASES, ids=OVERSIZE_IDS)
def test_eof_while_skipping_raises_nothing(
    impl: Any, framer: Any, before: bytes, after: bytes, big: bytes, size: int
) -> None:
    dec = impl.decoder(framer)
    exc = raises(dec.feed, big[:-1])
    assert E(exc) == E(FrameTooLarge(size, SMALL))
    assert dec.buffered == 0
    with deadline():
        assert dec.eof() == []
        assert dec.eof() == []


# -- the frames-before-error batch rule ------------------------------------------------------


@pytest.mark.parametrize(("framer", "before", "after", "big", "size"), OVERSIZE_CASES, ids=OVERSIZE_IDS)
def test_batch_returns_frames_then_next_call_raises(
    impl: Any, framer: Any, before: bytes, after: bytes, big: bytes, size: int
) -> None:
    ref = impl.decoder(framer)
    (a,) = ref.feed(before)
    (b,) = ref.feed(after)
    error = (size, SMALL)
    with deadline():
        # frames complete, then the oversize frame starts: frames now, error next call;
        # that call's data is still taken in (the skip's end, then a held frame)
        dec = impl.decoder(framer)
        cut = len(before) + len(big) // 2
        stream = before + big + after
        assert dec.feed(stream[:cut]) == [a]
        with pytest.raises(FrameTooLarge) as info:
            dec.feed(stream[cut:])
        assert info.value.args == error
        assert dec.feed(b"") == [b]
        assert dec.eof() == []

        # the raising call's data holds several whole frames: none is lost
        dec = impl.decoder(framer)
        assert dec.feed(before + big[:-1]) == [a]
        with pytest.raises(FrameTooLarge):
            dec.feed(big[-1:] + after + after + before)
        assert dec.feed(b"") == [b, b, a]
        assert dec.eof() == []

        # the whole oversize frame and the frames after it in one call
        dec = impl.decoder(framer)
        assert dec.feed(before + big + after + after) == [a]
        assert dec.buffered == 2 * len(after)
        with pytest.raises(FrameTooLarge):
            dec.feed(before)
        assert dec.feed(b"") == [b, b, a]

        # the same through eof(): it returns the frames still complete in the buffer
        dec = impl.decoder(framer)
        assert dec.feed(before + big + after + after[:-1]) == [a]
        with pytest.raises(FrameTooLarge):
            dec.eof()
        assert dec.eof() == [b]
        with pytest.raises(IncompleteFrame) as cut_info:
            dec.eof()
        assert cut_info.value.partial == after[:-1]

        # eof() left an IncompleteFrame pending: the next call raises it, and the
        # data of that call is still taken in
        known = None if isinstance(framer, (ff.Delimited, ff.Lines)) else len(after)
        dec = impl.decoder(framer)
        assert dec.feed(before + big + after + after[:-1]) == [a]
        with pytest.raises(FrameTooLarge):
            dec.eof()
        assert dec.eof() == [b]
        with pytest.raises(IncompleteFrame) as cut_info:
            dec.feed(after[-1:])
        assert cut_info.value.args == (after[:-1], known)
        assert dec.buffered == len(after)
        assert dec.feed(b"") == [b]
        assert dec.eof() == []

        # and through buffer_updated()
        dec = impl.decoder(framer)
        view = dec.get_buffer(len(before) + len(big))
        view[: len(before) + len(big)] = before + big
        assert dec.buffer_updated(len(before) + len(big)) == [a]
        view = dec.get_buffer(len(after))
        view[: len(after)] = after
        with pytest.raises(FrameTooLarge):
            dec.buffer_updated(len(after))
        assert dec.feed(b"") == [b]


LARGE_LIMIT = 100_000


@pytest.mark.parametrize(
    "framer",
    [
        ff.LengthPrefixed(4, max_size=LARGE_LIMIT),
        ff.Netstring(max_size=LARGE_LIMIT),
        ff.VarintPrefixed(max_size=LARGE_LIMIT),
    ],
    ids=repr,
)
def test_bytes_taken_in_while_a_large_frame_is_collected(impl: Any, framer: Any) -> None:
    """An error pending while a frame of 64 KiB or more is being collected (in the
    compiled core: in its own bytes object): the next call's bytes are taken in
    behind that frame's, and the frame comes out whole afterwards."""
    small = framer.encode(b"s")
    large_payload = bytes(range(256)) * 300  # 76 800 bytes
    large = framer.encode(large_payload)
    oversize = {
        ff.LengthPrefixed: (LARGE_LIMIT + 1).to_bytes(4, "big") + b"x" * (LARGE_LIMIT + 1),
        ff.Netstring: b"%d:" % (LARGE_LIMIT + 1) + b"x" * (LARGE_LIMIT + 1) + b",",
        ff.VarintPrefixed: b"\xa1\x8d\x06" + b"x" * (LARGE_LIMIT + 1),
    }[type(framer)]
    cut = len(large) // 2
    with deadline():
        dec = impl.decoder(framer)
        assert dec.feed(small + oversize + small + large[:cut]) == [b"s"]
        with pytest.raises(FrameTooLarge) as info:
            dec.eof()
        assert info.value.args == (LARGE_LIMIT + 1, LARGE_LIMIT)
        assert dec.eof() == [b"s"]  # the large frame is now being collected
        assert dec.buffered == cut
        with pytest.raises(IncompleteFrame) as cut_info:
            dec.feed(large[cut:-1])  # raises eof()'s pending error; bytes still taken in
        assert cut_info.value.args == (large[:cut], len(large))
        assert dec.buffered == len(large) - 1
        assert dec.feed(large[-1:] + small) == [large_payload, b"s"]
        assert dec.eof() == []


@pytest.mark.parametrize(("framer", "before", "after", "big", "size"), OVERSIZE_CASES, ids=OVERSIZE_IDS)
def test_bad_input_before_any_frame_raises_right_away(
    impl: Any, framer: Any, before: bytes, after: bytes, big: bytes, size: int
) -> None:
    dec = impl.decoder(framer)
    with pytest.raises(FrameTooLarge):
        dec.feed(big + after)
    assert dec.feed(b"") == impl.decoder(framer).feed(after)


# -- Delimited / Lines: max_size and the bounded search ----------------------------------------


@pytest.mark.parametrize(
    ("framer", "ok", "ok_frame", "too_big"),
    [
        (ff.Delimited(b"\n", max_size=5), b"xxxxx\n", b"xxxxx", b"xxxxxx\n"),
        (ff.Delimited(b"--", max_size=3), b"xxx--", b"xxx", b"xxxx--"),
        (ff.Delimited(b"\r\n", max_size=5, keep=True), b"abc\r\n", b"abc\r\n", b"abcd\r\n"),
        (ff.Lines(max_size=5), b"xxxxx\r\n", b"xxxxx", b"xxxxxx\n"),
        (ff.Lines(max_size=5), b"xxxxx\n", b"xxxxx", b"xxxxx\r\r\n"),  # one \r is stripped
        # the reported size is max_size + 1 however long the frame turns out
        (ff.Delimited(b"\n", max_size=10), b"x\n", b"x", b"y" * 2000 + b"\n"),
        (ff.Lines(max_size=10), b"x\n", b"x", b"y" * 2000 + b"\r\n"),
    ],
)
def test_delimited_max_size_boundary(impl: Any, framer: Any, ok: bytes, ok_frame: bytes, too_big: bytes) -> None:
    for chunks in splits(ok + too_big + ok):
        got = events(impl.decoder(framer), feed_ops(chunks))
        assert got == [F(ok_frame), E(FrameTooLarge(framer.max_size + 1, framer.max_size)), F(ok_frame)]


ENDLESS = [
    ff.Delimited(b"\n", max_size=1000),
    ff.Delimited(b"\r\n", max_size=1000),
    ff.Delimited(b"<END>", max_size=1000, keep=True),
    ff.Lines(max_size=1000),
]


@pytest.mark.parametrize("framer", ENDLESS, ids=repr)
@pytest.mark.parametrize("filler", [b"x", b"\r", b"<EN"])
def test_stream_without_delimiter_stays_bounded(impl: Any, framer: Any, filler: bytes) -> None:
    delim = b"\n" if isinstance(framer, ff.Lines) else framer.delimiter
    bound = framer.max_size + len(delim) + 1
    chunk = (filler * 65536)[:65536]
    dec = impl.decoder(framer)
    raised = []
    with deadline(30):
        for size in [1] * 500 + [7] * 100 + [65536] * 64:  # > 4 MiB in all
            try:
                assert dec.feed(chunk[:size]) == []
            except FrameTooLarge as exc:
                raised.append(exc.args)
            assert dec.buffered <= bound
        assert raised == [(framer.max_size + 1, framer.max_size)]
        assert dec.buffered == 0
        # the endless frame ends at the next delimiter; the frame after it arrives
        assert dec.feed(delim + b"ok" + delim) == [b"ok" + delim if getattr(framer, "keep", False) else b"ok"]
        assert dec.eof() == []


@pytest.mark.parametrize("framer", ENDLESS, ids=repr)
def test_search_stops_once_no_frame_is_possible(impl: Any, framer: Any) -> None:
    """Fed byte by byte, the error comes no earlier than a valid frame becomes
    impossible and no later than max_size + len(delimiter) + 1 bytes."""
    delim = b"\n" if isinstance(framer, ff.Lines) else framer.delimiter
    keep = getattr(framer, "keep", False)
    first_impossible = framer.max_size - len(delim) + 1 if keep else framer.max_size + 1
    dec = impl.decoder(framer)
    for k in range(1, framer.max_size + len(delim) + 2):
        try:
            dec.feed(b"y")
        except FrameTooLarge as exc:
            assert exc.args == (framer.max_size + 1, framer.max_size)
            break
        assert dec.buffered == k
    else:
        raise AssertionError("no FrameTooLarge within max_size + len(delimiter) + 1 bytes")
    assert k >= first_impossible
    if isinstance(framer, ff.Delimited) and len(delim) == 1:
        assert k == first_impossible  # exact for a one-byte delimiter


# -- negative adjusted length: sticky ProtocolError ------------------------------------------


def test_negative_length_is_a_sticky_protocol_error(impl: Any) -> None:
    framer = ff.LengthPrefixed(2, adjustment=-2)
    error = E(_messages.negative_length(1, -2))
    dec = impl.decoder(framer)
    assert E(raises(dec.feed, b"\x00\x01")) == error
    assert dec.buffered == 2
    assert E(raises(dec.feed, b"abc")) == error  # still taken in
    assert dec.buffered == 5
    view = dec.get_buffer(4)
    view[:4] = b"\x00\x03xy"
    assert E(raises(dec.buffer_updated, 4)) == error
    assert dec.buffered == 9
    assert E(raises(dec.eof)) == error
    assert E(raises(dec.eof)) == error
    assert dec.detach() == b"\x00\x01abc\x00\x03xy"
    assert dec.buffered == 0
    assert dec.feed(b"\x00\x04ab") == [b"ab"]  # reset: decoding works again
    assert dec.eof() == []


@pytest.mark.parametrize(
    ("framer", "header", "value"),
    [
        (ff.LengthPrefixed(1, adjustment=-1), b"\x00", 0),
        (ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0), b"Q\x00\x00\x00\x03", 3),
        (ff.LengthPrefixed(8, byteorder="little", adjustment=-9), b"\x08" + b"\x00" * 7, 8),
    ],
)
def test_negative_length_after_frames(impl: Any, framer: Any, header: bytes, value: int) -> None:
    good = oversize_frame(framer, 2)
    error = E(_messages.negative_length(value, framer.adjustment))
    for chunks in splits(good + header + b"zz"):
        assert events(impl.decoder(framer), feed_ops(chunks)) == [F(good[framer.strip :]), error]
    dec = impl.decoder(framer)
    assert dec.feed(good + header) == [good[framer.strip :]]
    assert E(raises(dec.feed, good)) == error
    assert E(raises(dec.feed, b"")) == error
    assert dec.detach() == header + good


# -- malformed netstrings and varints ----------------------------------------------------------

NETSTRING_BAD = [
    # stream, index of the first offending byte, the error
    (b"x:abc,", 0, _messages.netstring_non_digit(ord("x"))),
    (b"5x", 1, _messages.netstring_non_digit(ord("x"))),
    (b"-1:a,", 0, _messages.netstring_non_digit(ord("-"))),
    (b" 5:hello,", 0, _messages.netstring_non_digit(ord(" "))),
    (b"5 :hello,", 1, _messages.netstring_non_digit(ord(" "))),
    (b"0x10:", 1, _messages.netstring_non_digit(ord("x"))),
    (b"05:hello,", 1, _messages.netstring_leading_zero()),
    (b"00:,", 1, _messages.netstring_leading_zero()),
    (b":,", 0, _messages.netstring_empty()),
    (b"1" * 21 + b":", 20, _messages.netstring_too_long()),
    (b"5:helloX", 7, _messages.netstring_no_comma(ord("X"))),
    (b"0:;", 2, _messages.netstring_no_comma(ord(";"))),
    (b"3:abc,4x", 7, _messages.netstring_non_digit(ord("x"))),
    (b"3:abc,0:,,", 9, _messages.netstring_non_digit(ord(","))),
]

VARINT_BAD = [
    (b"\x80" * 10, 9, _messages.varint_too_long()),
    (b"\x80" * 9 + b"\x81", 9, _messages.varint_too_long()),
    (b"\xff" * 12, 9, _messages.varint_too_long()),
    (b"\xff" * 9 + b"\x02", 9, _messages.varint_overflow()),
    (b"\x80" * 9 + b"\x7f", 9, _messages.varint_overflow()),
    (b"\x01a" + b"\x80" * 10, 11, _messages.varint_too_long()),
]


@pytest.mark.parametrize(
    ("framer", "stream", "at", "error"),
    [(ff.Netstring(), *case) for case in NETSTRING_BAD] + [(ff.VarintPrefixed(), *case) for case in VARINT_BAD],
    ids=[repr(case[0]) for case in NETSTRING_BAD] + [repr(case[0]) for case in VARINT_BAD],
)
def test_malformed_stream_is_sticky_protocol_error(
    impl: Any, framer: Any, stream: bytes, at: int, error: ProtocolError
) -> None:
    # byte by byte: the byte at ``at`` is the one that raises
    dec = impl.decoder(framer)
    frames = []
    with deadline():
        for i in range(at):
            frames += dec.feed(stream[i : i + 1])
        assert E(raises(dec.feed, stream[at : at + 1])) == E(error)
        # sticky: every later call raises it again, still taking data in
        held = dec.buffered
        assert E(raises(dec.feed, b"5:hello,")) == E(error)
        assert dec.buffered == held + 8
        dec.get_buffer(1)[:1] = b"1"
        assert E(raises(dec.buffer_updated, 1)) == E(error)
        assert E(raises(dec.eof)) == E(error)
        assert dec.buffered == held + 9
        assert dec.detach()[-9:] == b"5:hello,1"
        good = b"1:a," if isinstance(framer, ff.Netstring) else b"\x01a"
        assert dec.feed(good) == [b"a"]  # reset
    # any split gives the same events
    for chunks in splits(stream + good):
        assert events(impl.decoder(framer), feed_ops(chunks)) == [F(f) for f in frames] + [E(error)]


@pytest.mark.parametrize(
    ("framer", "header", "size"),
    [
        # 20 digits is allowed, even past 2**64: a (far too) large frame, not malformed
        (ff.Netstring(), b"1" * 20 + b":", int("1" * 20)),
        (ff.Netstring(), b"9" * 20 + b":", 10**20 - 1),
        (ff.Netstring(max_size=99), b"100:", 100),
        (ff.VarintPrefixed(), b"\xff" * 9 + b"\x01", 2**64 - 1),
        (ff.VarintPrefixed(), b"\x80" * 9 + b"\x01", 2**63),
        (ff.VarintPrefixed(max_size=299), b"\xac\x02", 300),
    ],
)
def test_largest_headers_are_oversize_not_malformed(impl: Any, framer: Any, header: bytes, size: int) -> None:
    dec = impl.decoder(framer)
    assert E(raises(dec.feed, header)) == E(FrameTooLarge(size, framer.max_size))
    assert dec.feed(b"abc") == []
    assert dec.buffered == 0


def test_ten_byte_varint_with_small_last_byte_is_valid(impl: Any) -> None:
    dec = impl.decoder(ff.VarintPrefixed())
    assert dec.feed(b"\x80" * 9 + b"\x00" + b"\x81\x00a") == [b"", b"a"]


def test_netstring_zero_length(impl: Any) -> None:
    dec = impl.decoder(ff.Netstring())
    assert dec.feed(b"0:,0:,") == [b"", b""]


# -- truncated streams at eof() -----------------------------------------------------------------

TRUNCATED = [
    # framer, stream, frames before, IncompleteFrame(partial, expected)
    (ff.LengthPrefixed(4), b"\x00\x00", [], (b"\x00\x00", None)),
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x05he", [], (b"\x00\x00\x00\x05he", 9)),
    (ff.LengthPrefixed(4), b"\x00\x00\x00\x01a\x00\x00\x00\x05", [b"a"], (b"\x00\x00\x00\x05", 9)),
    (ff.LengthPrefixed(2, offset=1), b"T", [], (b"T", None)),
    (ff.LengthPrefixed(2, offset=1), b"T\x00", [], (b"T\x00", None)),
    (ff.LengthPrefixed(2, offset=1), b"T\x00\x03a", [], (b"T\x00\x03a", 6)),
    (ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0), b"Q\x00\x00\x00\x0asel", [], (b"Q\x00\x00\x00\x0asel", 11)),
    (ff.LengthPrefixed(2, adjustment=2), b"\x00\x01ab", [], (b"\x00\x01ab", 5)),
    (ff.LengthPrefixed(8, byteorder="little"), b"\x03" + b"\x00" * 7 + b"a", [], (b"\x03" + b"\x00" * 7 + b"a", 11)),
    (ff.LengthPrefixed(8, byteorder="little"), b"\x03" + b"\x00" * 6, [], (b"\x03" + b"\x00" * 6, None)),
    (ff.Delimited(), b"abc", [], (b"abc", None)),
    (ff.Delimited(b"\r\n"), b"x\r\nabc\r", [b"x"], (b"abc\r", None)),
    (ff.Delimited(b"<END>", keep=True), b"abc<EN", [], (b"abc<EN", None)),
    (ff.Lines(), b"x\nabc\r", [b"x"], (b"abc\r", None)),
    (ff.FixedSize(4), b"ab", [], (b"ab", 4)),
    (ff.FixedSize(4), b"abcdef", [b"abcd"], (b"ef", 4)),
    (ff.Netstring(), b"5", [], (b"5", None)),
    (ff.Netstring(), b"12", [], (b"12", None)),
    (ff.Netstring(), b"5:", [], (b"5:", 8)),
    (ff.Netstring(), b"5:he", [], (b"5:he", 8)),
    (ff.Netstring(), b"1:a,5:hello", [b"a"], (b"5:hello", 8)),
    (ff.Netstring(), b"10:", [], (b"10:", 14)),
    (ff.VarintPrefixed(), b"\xac", [], (b"\xac", None)),
    (ff.VarintPrefixed(), b"\xac\x02", [], (b"\xac\x02", 302)),
    (ff.VarintPrefixed(), b"\x00\xac\x02abc", [b""], (b"\xac\x02abc", 302)),
]


@pytest.mark.parametrize(("framer", "stream", "frames", "cut"), TRUNCATED, ids=[repr(c[1]) for c in TRUNCATED])
def test_eof_inside_a_frame(impl: Any, framer: Any, stream: bytes, frames: list[bytes], cut: tuple) -> None:
    for chunks in splits(stream):
        assert events(impl.decoder(framer), feed_ops(chunks)) == [F(f) for f in frames] + [E(IncompleteFrame(*cut))]
    dec = impl.decoder(framer)
    assert dec.feed(stream) == frames
    assert dec.buffered == len(cut[0])
    exc = raises(dec.eof)
    assert isinstance(exc, IncompleteFrame) and isinstance(exc, ConnectionClosed) and isinstance(exc, EOFError)
    assert (exc.partial, exc.expected) == cut
    assert type(exc.partial) is bytes


@pytest.mark.parametrize("framer", [ff.LengthPrefixed(), ff.Delimited(), ff.Lines(), ff.FixedSize(3), ff.Netstring(), ff.VarintPrefixed()], ids=repr)
def test_eof_between_frames_returns_nothing(impl: Any, framer: Any) -> None:
    dec = impl.decoder(framer)
    assert dec.eof() == []
    payload = b"abc"
    wire = framer.encode(payload) if not isinstance(framer, ff.LengthPrefixed) else b"\x00\x00\x00\x03abc"
    assert dec.feed(wire + wire) == [payload, payload]
    assert dec.eof() == []
    assert dec.eof() == []


# -- detach --------------------------------------------------------------------------------------


def test_detach_hands_over_held_bytes_and_resets(impl: Any) -> None:
    dec = impl.decoder(ff.LengthPrefixed(2))
    assert dec.feed(b"\x00\x01a\x00\x05he") == [b"a"]
    assert dec.detach() == b"\x00\x05he"
    assert dec.buffered == 0
    assert dec.detach() == b""
    assert dec.feed(b"\x00\x01b") == [b"b"]


def test_detach_while_skipping_returns_nothing_of_the_skipped_frame(impl: Any) -> None:
    dec = impl.decoder(ff.LengthPrefixed(1, max_size=3))
    with pytest.raises(FrameTooLarge):
        dec.feed(b"\x09abc")
    assert dec.detach() == b""
    assert dec.feed(b"\x01z") == [b"z"]  # reset: these bytes start a new frame

    dec = impl.decoder(ff.Delimited(b"<END>", max_size=3))
    with pytest.raises(FrameTooLarge):
        dec.feed(b"abcdefgh<EN")
    assert dec.buffered == 0
    assert dec.detach() == b""
    assert dec.feed(b"D>x<END>") == [b"D>x"]


def test_detach_drops_a_pending_error(impl: Any) -> None:
    dec = impl.decoder(ff.LengthPrefixed(1, max_size=3))
    assert dec.feed(b"\x01a\x05xxxxx\x02bc\x01") == [b"a"]
    assert dec.detach() == b"\x02bc\x01"
    assert dec.feed(b"\x01d") == [b"d"]
    assert dec.eof() == []


# -- get_buffer / buffer_updated misuse ---------------------------------------------------------


@pytest.mark.parametrize("sizehint", [-1, 0, 1, 100, 70_000, 300_000])
def test_get_buffer_gives_a_writable_view(impl: Any, sizehint: int) -> None:
    dec = impl.decoder(ff.LengthPrefixed(1))
    view = dec.get_buffer(sizehint)
    assert isinstance(view, memoryview)
    assert not view.readonly
    assert view.ndim == 1 and view.itemsize == 1
    assert len(view) >= max(sizehint, 1)
    view[:3] = b"\x02ab"
    assert dec.buffer_updated(3) == [b"ab"]


def test_buffer_updated_uses_the_last_view(impl: Any) -> None:
    dec = impl.decoder(ff.LengthPrefixed(1))
    dec.get_buffer(10)[:2] = b"\x01a"
    dec.get_buffer(10)[:2] = b"\x01b"
    assert dec.buffer_updated(2) == [b"b"]
    view = dec.get_buffer(10)
    view[:1] = b"\x01"
    assert dec.buffer_updated(1) == []
    view = dec.get_buffer(10)
    view[:1] = b"c"
    assert dec.buffer_updated(1) == [b"c"]


def test_buffer_updated_zero_bytes(impl: Any) -> None:
    dec = impl.decoder(ff.Lines())
    dec.get_buffer(-1)
    assert dec.buffer_updated(0) == []
    assert dec.buffered == 0


@pytest.mark.parametrize("between", ["nothing", "feed", "buffer_updated", "eof", "detach"])
def test_buffer_updated_needs_get_buffer_first(impl: Any, between: str) -> None:
    dec = impl.decoder(ff.Lines())
    if between != "nothing":
        dec.get_buffer(10)[:2] = b"a\n"
        if between == "feed":
            dec.feed(b"b")
        elif between == "buffer_updated":
            assert dec.buffer_updated(2) == [b"a"]
        elif between == "eof":
            assert dec.eof() == []
        else:
            assert dec.detach() == b""
    buffered = dec.buffered
    exc = raises(dec.buffer_updated, 1)
    assert E(exc) == E(_messages.buffer_updated_first())
    assert dec.buffered == buffered


@pytest.mark.parametrize("delta", [-1, 1])
def test_buffer_updated_out_of_range(impl: Any, delta: int) -> None:
    dec = impl.decoder(ff.LengthPrefixed(1))
    assert dec.feed(b"\x05ab") == []
    view = dec.get_buffer(5)
    n = -1 if delta < 0 else len(view) + 1
    exc = raises(dec.buffer_updated, n)
    assert E(exc) == E(_messages.nbytes_out_of_range(len(view), n))
    assert dec.buffered == 3


def test_feed_rejects_str(impl: Any) -> None:
    dec = impl.decoder(ff.Lines())
    with pytest.raises(TypeError):
        dec.feed("abc\n")  # type: ignore[arg-type]


# -- encode refusals ---------------------------------------------------------------------------


def encode(impl: Any, framer: Any, payload: Any, head: Any = b"") -> Any:
    codec = impl.codec(framer)
    if isinstance(framer, ff.LengthPrefixed):
        return codec.encode(payload, head)
    return codec.encode(payload)


def encode_many(impl: Any, framer: Any, payloads: Any, head: Any = b"") -> Any:
    codec = impl.codec(framer)
    if isinstance(framer, ff.LengthPrefixed):
        return codec.encode_many(payloads, head)
    return codec.encode_many(payloads)


ENCODE_REFUSED = [
    # oversize
    (ff.LengthPrefixed(1, max_size=3), b"abcd", b"", FrameTooLarge(4, 3)),
    (ff.LengthPrefixed(2, offset=1, strip=0, max_size=10), b"x" * 8, b"T", FrameTooLarge(11, 10)),
    (ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=100), b"x" * 96, b"Q", FrameTooLarge(101, 100)),
    (ff.Delimited(b"\n", max_size=3), b"abcd", b"", FrameTooLarge(4, 3)),
    (ff.Delimited(b"\r\n", max_size=5, keep=True), b"abcd", b"", FrameTooLarge(6, 5)),
    (ff.Lines(max_size=3), b"abcd", b"", FrameTooLarge(4, 3)),
    (ff.Netstring(max_size=3), b"abcd", b"", FrameTooLarge(4, 3)),
    (ff.VarintPrefixed(max_size=3), b"abcd", b"", FrameTooLarge(4, 3)),
    # head must be exactly ``offset`` bytes
    (ff.LengthPrefixed(2, offset=1), b"a", b"", _messages.head_size(1, 0)),
    (ff.LengthPrefixed(2, offset=1), b"a", b"ab", _messages.head_size(1, 2)),
    (ff.LengthPrefixed(2), b"a", b"x", _messages.head_size(0, 1)),
    # the body must be at least a positive adjustment
    (ff.LengthPrefixed(2, adjustment=2), b"a", b"", _messages.body_below_adjustment(1, 2)),
    (ff.LengthPrefixed(2, adjustment=2), b"", b"", _messages.body_below_adjustment(0, 2)),
    # the delimiter inside the payload, or straddling into the appended one
    (ff.Delimited(b"\n"), b"a\nb", b"", _messages.contains_delimiter(b"\n")),
    (ff.Delimited(b"\r\n"), b"\r\n", b"", _messages.contains_delimiter(b"\r\n")),
    (ff.Delimited(b"aa"), b"xa", b"", _messages.contains_delimiter(b"aa")),
    (ff.Delimited(b"aba"), b"ab", b"", _messages.contains_delimiter(b"aba")),
    (ff.Delimited(b"abab"), b"ab", b"", _messages.contains_delimiter(b"abab")),
    (ff.Delimited(b"aaa"), b"xa", b"", _messages.contains_delimiter(b"aaa")),
    (ff.Delimited(b"aaa"), b"xaa", b"", _messages.contains_delimiter(b"aaa")),
    (ff.Delimited(b"<END>"), b"x<END>y", b"", _messages.contains_delimiter(b"<END>")),
    (ff.Delimited(b"<END>", keep=True), b"a<END>", b"", _messages.contains_delimiter(b"<END>")),
    (ff.Lines(), b"a\nb", b"", _messages.contains_delimiter(b"\n")),
    (ff.Lines(), b"a\r", b"", _messages.line_ends_with_cr()),
    (ff.Lines(), b"\r", b"", _messages.line_ends_with_cr()),
    # fixed size
    (ff.FixedSize(3), b"ab", b"", _messages.wrong_fixed_size(3, 2)),
    (ff.FixedSize(3), b"abcd", b"", _messages.wrong_fixed_size(3, 4)),
    (ff.FixedSize(3), b"", b"", _messages.wrong_fixed_size(3, 0)),
]


@pytest.mark.parametrize(
    ("framer", "payload", "head", "error"),
    ENCODE_REFUSED,
    ids=[f"{c[0]!r}-{c[1][:8]!r}" for c in ENCODE_REFUSED],
)
def test_encode_refuses(impl: Any, framer: Any, payload: bytes, head: bytes, error: Exception) -> None:
    assert E(raises(encode, impl, framer, payload, head)) == E(error)
    assert E(raises(encode, impl, framer, memoryview(payload), head)) == E(error)
    # encode_many: the same refusal, wherever the bad payload is
    good = {
        ff.LengthPrefixed: b"zz",
        ff.Delimited: b"z",
        ff.Lines: b"z",
        ff.FixedSize: b"z" * getattr(framer, "size", 1),
        ff.Netstring: b"z",
        ff.VarintPrefixed: b"z",
    }[type(framer)]
    for payloads in ([payload], [good, payload], [good, good, payload, good]):
        assert E(raises(encode_many, impl, framer, payloads, head)) == E(error)


@pytest.mark.parametrize(
    ("framer", "payload", "size"),
    [
        (ff.LengthPrefixed(1, max_size=1000), b"x" * 256, 256),
        (ff.LengthPrefixed(1, adjustment=-1, max_size=1000), b"x" * 255, 255),
        (ff.LengthPrefixed(1, offset=1, strip=0, max_size=1000), b"x" * 256, 258),
        (ff.LengthPrefixed(2), b"x" * 65536, 65536),
    ],
)
def test_encode_refuses_what_the_length_field_cannot_hold(impl: Any, framer: Any, payload: bytes, size: int) -> None:
    head = b"h" * framer.offset
    exc = raises(encode, impl, framer, payload, head)
    assert type(exc) is FrameTooLarge
    assert exc.size == size
    assert type(exc.max_size) is int and exc.max_size == size - 1
    assert str(exc).endswith(f"max_size={size - 1}")
    # one byte less fits
    wire = encode(impl, framer, payload[:-1], head)
    assert impl.decoder(framer).feed(wire) == [wire[framer.strip :]]


def test_encode_accepts_what_the_field_holds_with_positive_adjustment(impl: Any) -> None:
    framer = ff.LengthPrefixed(1, adjustment=1, max_size=1000)
    wire = encode(impl, framer, b"x" * 256)
    assert wire == b"\xff" + b"x" * 256
    assert impl.decoder(framer).feed(wire) == [b"x" * 256]


@pytest.mark.parametrize(
    "framer",
    [ff.LengthPrefixed(), ff.Delimited(), ff.Lines(), ff.FixedSize(3), ff.Netstring(), ff.VarintPrefixed()],
    ids=repr,
)
def test_encode_rejects_str(impl: Any, framer: Any) -> None:
    with pytest.raises(TypeError):
        encode(impl, framer, "abc")
    with pytest.raises(TypeError):
        encode_many(impl, framer, ["abc"])


def test_delimited_encode_accepts_near_misses(impl: Any) -> None:
    cases = [
        (ff.Delimited(b"\r\n"), b"a\n", b"a\n\r\n"),
        (ff.Delimited(b"\r\n"), b"\ra", b"\ra\r\n"),
        (ff.Delimited(b"aa"), b"ax", b"axaa"),
        (ff.Delimited(b"abab"), b"ba", b"baabab"),
        (ff.Lines(), b"a\rb", b"a\rb\n"),
    ]
    for framer, payload, wire in cases:
        assert encode(impl, framer, payload) == wire
        assert impl.decoder(framer).feed(wire) == [payload]


def test_helpers_agree_with_the_design() -> None:
    # sanity of the independent wire builders used across the suite
    assert varint(300) == b"\xac\x02"
    assert varint(0) == b"\x00"
    assert netstring(b"hello") == b"5:hello,"


def _raised(call: Any, *args: Any) -> type[BaseException] | None:
    # no pytest.raises: its ExceptionInfo would itself make a cycle with this frame
    try:
        call(*args)
    except ff.FastframeError as exc:
        return type(exc)
    return None


@pytest.mark.parametrize(
    ("framer", "feed", "first", "then"),
    [
        (ff.LengthPrefixed(4), b"\x00\x00\x01\x00" + b"x" * 100, "eof", IncompleteFrame),
        (ff.LengthPrefixed(1, max_size=4), b"\x02ab\x09too big!!\x01c", "frames", FrameTooLarge),
        (ff.Netstring(), b"1:a,x:", "frames", ProtocolError),
    ],
    ids=["incomplete", "oversize-after-frames", "protocol-error-after-frames"],
)
def test_raising_makes_no_reference_cycle(impl: Any, framer: Any, feed: bytes, first: str, then: type) -> None:
    """A raised error is freed with its last reference, and the bytes a decoder
    held with it: no cycle (exception, traceback, frame) waits for the collector."""

    def use() -> None:
        dec = impl.decoder(framer)
        if first == "eof":
            dec.feed(feed)
            assert _raised(dec.eof) is then
        else:
            assert dec.feed(feed) != []  # the frames before the error
            assert _raised(dec.feed, b"") is then
            assert _raised(dec.eof) in (None, then)

    gc.collect()
    gc.disable()
    try:
        use()
        assert gc.collect() == 0
    finally:
        gc.enable()


# With max_size near sys.maxsize, a header can announce a frame whose size on the
# wire is past what a C Py_ssize_t holds.  The compiled core added such sizes in C:
# a netstring header wedged eof() in an endless loop, and IncompleteFrame.expected
# came out negative.  Run in a child process, so that a hang fails, not blocks.
HUGE_FRAMES = CHILD_CORE + """
import sys
import fastframe as ff
HUGE = sys.maxsize
varint = bytes([0xFF] * 8 + [0x7F])  # HUGE, 9 bytes
cases = [
    (ff.Netstring(max_size=HUGE), b"%d:" % HUGE, 20 + HUGE + 1),
    (ff.Netstring(max_size=HUGE), b"%d:" % (HUGE - 1), 20 + HUGE),
    (ff.LengthPrefixed(8, max_size=HUGE), HUGE.to_bytes(8, "big"), 8 + HUGE),
    (ff.LengthPrefixed(1, adjustment=2**63 - 1, max_size=HUGE), b"\\x00", 1 + 2**63 - 1),
    (ff.VarintPrefixed(max_size=HUGE), varint, 9 + HUGE),
]
for framer, header, expected in cases:
    dec = core.decoder(framer)
    assert dec.feed(header) == [] and dec.buffered == len(header)
    assert dec.feed(b"x") == []  # a body byte: still waiting
    try:
        dec.eof()
    except ff.IncompleteFrame as exc:
        assert (exc.partial, exc.expected) == (header + b"x", expected), (framer, exc.expected, expected)
    else:
        raise AssertionError(f"{framer}: eof() did not raise")
print("ok")
"""


def test_frames_longer_than_a_c_size_can_say(impl: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-c", HUGE_FRAMES, impl.module.__name__],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr[-2000:]


NOT_BYTES_LIKE = "a bytes-like object is required, not 'str'"


@pytest.mark.parametrize(
    "framer",
    [
        ff.LengthPrefixed(4),
        ff.LengthPrefixed(2, offset=1),
        ff.Lines(),
        ff.Delimited(b"--"),
        ff.FixedSize(3),
        ff.Netstring(),
        ff.VarintPrefixed(),
    ],
    ids=repr,
)
@pytest.mark.parametrize("call", ["encode", "encode_many", "feed"])
def test_what_is_not_bytes_like_is_refused_in_the_same_words(impl: Any, framer: Any, call: str) -> None:
    codec = impl.codec(framer)
    head = (b"Q",) if getattr(framer, "offset", 0) else ()
    with pytest.raises(TypeError) as info:
        if call == "encode":
            codec.encode("abc", *head)
        elif call == "encode_many":
            codec.encode_many([b"xyz", "abc"], *head)
        else:
            codec.decoder().feed("abc")
    assert str(info.value) == NOT_BYTES_LIKE


@pytest.mark.parametrize(
    "framer",
    [ff.LengthPrefixed(4), ff.LengthPrefixed(2, offset=1), ff.Lines(), ff.FixedSize(3), ff.Netstring(), ff.VarintPrefixed()],
    ids=repr,
)
@pytest.mark.parametrize("call", ["encode", "encode_many", "feed"])
def test_a_non_contiguous_buffer_is_refused_in_the_same_words(impl: Any, framer: Any, call: str) -> None:
    """A strided memoryview is bytes-like but not contiguous: BufferError from both
    cores (the compiled core asks the buffer API for a simple buffer).  The twin
    raised TypeError ("sequence item 2: ..."), and FixedSize.encode took it."""
    codec = impl.codec(framer)
    head = (b"Q",) if getattr(framer, "offset", 0) else ()
    strided = memoryview(b"aXbXcX")[::2]
    with pytest.raises(BufferError) as info:
        if call == "encode":
            codec.encode(strided, *head)
        elif call == "encode_many":
            codec.encode_many([b"xyz", strided], *head)
        else:
            codec.decoder().feed(strided)
    assert str(info.value) == "memoryview: underlying buffer is not C-contiguous"
