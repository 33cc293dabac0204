"""Malformed and truncated streams, on each implementation: a negative adjusted
length and malformed netstrings and varints (a sticky ProtocolError), the largest
headers (oversize, not malformed), EOF inside a frame (IncompleteFrame with every
byte of it and its size when known, also sizes past what a C size can say), EOF
between frames, and detach() handing over what is held."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import fastframe as ff
from fastframe import _messages
from fastframe.errors import ConnectionClosed, FrameTooLarge, IncompleteFrame, ProtocolError
from tests.support.calls import E, F, deadline, events, feed_ops, raises, splits
from tests.support.children import CHILD_CORE, child_env
from tests.support.wire import oversize_frame

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
