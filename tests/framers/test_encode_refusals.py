"""What encode and encode_many refuse, on each implementation, and in the same
words: a frame over max_size or beyond what the length field holds, a head of the
wrong size, a body shorter than a positive adjustment, a payload holding the
delimiter (also across its end), a line ending in \\r, the wrong size for
FixedSize; and the near misses they accept."""

from __future__ import annotations

from typing import Any

import pytest

import fastframe as ff
from fastframe import _messages
from fastframe.errors import FrameTooLarge
from tests.support.calls import E, raises
from tests.support.wire import netstring, varint

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
        # 3 bytes say at most 16 MiB - 1: the limit of a MySQL packet's payload
        (ff.LengthPrefixed(3, byteorder="little", max_size=2**25), b"x" * 2**24, 2**24),
        (ff.LengthPrefixed(3, adjustment=-3, max_size=2**25), b"x" * (2**24 - 3), 2**24 - 3),
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


@pytest.mark.parametrize(
    "framer",
    [ff.LengthPrefixed(), ff.Delimited(), ff.Lines(), ff.FixedSize(3), ff.Netstring(), ff.VarintPrefixed()],
    ids=repr,
)
def test_encode_many_refuses_what_is_not_iterable_in_the_same_words(impl: Any, framer: Any) -> None:
    with pytest.raises(TypeError) as info:
        encode_many(impl, framer, 5)
    assert str(info.value) == "payloads must be an iterable of bytes-like objects"
    assert encode_many(impl, framer, iter([b"abc"])) == encode_many(impl, framer, [b"abc"])


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
