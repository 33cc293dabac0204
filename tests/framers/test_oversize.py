"""Oversize frames, on each implementation: a lying length header refused before
anything is allocated, the max_size boundary of each framing, an oversize frame
raised once and then skipped (decoding goes on, however the stream is split, and
EOF while skipping raises nothing more), the frames-before-error batch rule, and
the bounded search of Delimited and Lines: an endless line costs about max_size."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

import fastframe as ff
from fastframe.errors import FrameTooLarge, IncompleteFrame
from tests.support.calls import Buffer, E, F, deadline, events, feed_ops, raises, split, splits

MiB = 1024 * 1024


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
        # every width without a struct format, at its largest value, in both orders
        *[
            (ff.LengthPrefixed(width, byteorder=order, max_size=2**24 - 2), b"\xff" * width, 2 ** (8 * width) - 1)
            for width in (3, 5, 6, 7)
            for order in ("big", "little")
        ],
        # the high byte is the one that is far: 0x80 then zeros, read in either order
        (ff.LengthPrefixed(3, max_size=2**20), b"\x80\x00\x00", 2**23),
        (ff.LengthPrefixed(3, byteorder="little", max_size=2**20), b"\x00\x00\x80", 2**23),
        (ff.LengthPrefixed(7, byteorder="little"), b"\x00" * 6 + b"\x01", 2**48),
    ],
)
def test_lying_header_raises_before_allocating(impl: Any, framer: Any, header: bytes, size: int) -> None:
    dec = impl.decoder(framer)
    body = [b"\x00" * 65536] * 64  # 4 MiB of the announced body (one chunk, made up front)
    tracemalloc.start()
    try:
        exc = raises(dec.feed, header)
        assert E(exc) == E(FrameTooLarge(size, framer.max_size))
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
