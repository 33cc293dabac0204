"""Golden wire vectors, written by hand: wire bytes <-> frames for every framer and
option, in both directions, on each implementation."""

from __future__ import annotations

import array
from dataclasses import dataclass, field
from typing import Any

import pytest

import fastframe as ff
from tests.support.calls import encode_many_with, encode_with, every_split, frames_of, frames_via_buffer, split


@dataclass
class Vector:
    framer: Any
    wire: bytes
    frames: list[bytes]  # what decoding ``wire`` returns
    payloads: list[bytes] | None = None  # what encoding takes, when not ``frames``
    head: bytes = b""
    id: str = field(default="")

    @property
    def encode_input(self) -> list[bytes]:
        return self.frames if self.payloads is None else self.payloads


X258 = bytes(range(256)) + b"\xfe\xff"  # 258 = 0x0102 bytes
LP = ff.LengthPrefixed
PG = ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0)

VECTORS = [
    # -- LengthPrefixed: widths x byte orders ------------------------------------------
    Vector(LP(1), b"\x05hello\x00\x02ab", [b"hello", b"", b"ab"], id="lp1"),
    Vector(LP(1, byteorder="little"), b"\x05hello\x00\x02ab", [b"hello", b"", b"ab"], id="lp1-little"),
    Vector(LP(2), b"\x00\x05hello\x00\x00\x00\x02ab", [b"hello", b"", b"ab"], id="lp2"),
    Vector(LP(2, byteorder="little"), b"\x05\x00hello\x00\x00\x02\x00ab", [b"hello", b"", b"ab"], id="lp2-little"),
    Vector(LP(4), b"\x00\x00\x00\x05hello\x00\x00\x00\x00", [b"hello", b""], id="lp4"),
    Vector(LP(4, byteorder="little"), b"\x05\x00\x00\x00hello\x00\x00\x00\x00", [b"hello", b""], id="lp4-little"),
    Vector(LP(8), b"\x00\x00\x00\x00\x00\x00\x00\x05hello", [b"hello"], id="lp8"),
    Vector(LP(8, byteorder="little"), b"\x05\x00\x00\x00\x00\x00\x00\x00hello", [b"hello"], id="lp8-little"),
    # a length whose bytes differ, so byte order really matters
    Vector(LP(2), b"\x01\x02" + X258, [X258], id="lp2-258"),
    Vector(LP(2, byteorder="little"), b"\x02\x01" + X258, [X258], id="lp2-258-little"),
    Vector(LP(4), b"\x00\x00\x01\x02" + X258, [X258], id="lp4-258"),
    Vector(LP(4, byteorder="little"), b"\x02\x01\x00\x00" + X258, [X258], id="lp4-258-little"),
    Vector(LP(8), b"\x00\x00\x00\x00\x00\x00\x01\x02" + X258, [X258], id="lp8-258"),
    Vector(LP(8, byteorder="little"), b"\x02\x01\x00\x00\x00\x00\x00\x00" + X258, [X258], id="lp8-258-little"),
    Vector(LP(1), b"\xff" + X258[:255], [X258[:255]], id="lp1-255"),
    # the widths struct has no format for: 3, 5, 6 and 7 bytes
    Vector(LP(3), b"\x00\x00\x05hello\x00\x00\x00\x00\x01\x02" + X258, [b"hello", b"", X258], id="lp3"),
    Vector(
        LP(3, byteorder="little"),
        b"\x05\x00\x00hello\x00\x00\x00\x02\x01\x00" + X258,
        [b"hello", b"", X258],
        id="lp3-little",
    ),
    Vector(LP(5), b"\x00\x00\x00\x00\x05hello\x00\x00\x00\x01\x02" + X258, [b"hello", X258], id="lp5"),
    Vector(
        LP(5, byteorder="little"),
        b"\x05\x00\x00\x00\x00hello\x02\x01\x00\x00\x00" + X258,
        [b"hello", X258],
        id="lp5-little",
    ),
    Vector(LP(6), b"\x00\x00\x00\x00\x00\x05hello\x00\x00\x00\x00\x01\x02" + X258, [b"hello", X258], id="lp6"),
    Vector(
        LP(6, byteorder="little"),
        b"\x05\x00\x00\x00\x00\x00hello\x02\x01\x00\x00\x00\x00" + X258,
        [b"hello", X258],
        id="lp6-little",
    ),
    Vector(
        LP(7), b"\x00\x00\x00\x00\x00\x00\x05hello\x00\x00\x00\x00\x00\x01\x02" + X258, [b"hello", X258], id="lp7"
    ),
    Vector(
        LP(7, byteorder="little"),
        b"\x05\x00\x00\x00\x00\x00\x00hello\x02\x01\x00\x00\x00\x00\x00" + X258,
        [b"hello", X258],
        id="lp7-little",
    ),
    # MySQL/MariaDB packet: 3-byte little-endian payload length, a sequence byte; the
    # frame keeps the sequence byte (body = field + 1)
    Vector(
        LP(3, byteorder="little", adjustment=1, strip=3),
        b"\x01\x00\x00\x00\x03\x05\x00\x00\x01\x00\x01\x00\x00\x00",
        [b"\x00\x03", b"\x01\x00\x01\x00\x00\x00"],
        id="mysql-packets",
    ),
    # HTTP/2 frame: 3-byte length of the payload after type, flags and stream id; the
    # frame is all of it (a SETTINGS frame with one setting, then its ACK)
    Vector(
        LP(3, adjustment=6, strip=0),
        b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64\x00\x00\x00\x04\x01\x00\x00\x00\x00",
        [b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64", b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"],
        payloads=[b"\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64", b"\x04\x01\x00\x00\x00\x00"],
        id="http2-settings",
    ),
    # -- offset, head and strip ---------------------------------------------------------
    Vector(LP(2, offset=1), b"T\x00\x03abcT\x00\x00", [b"abc", b""], head=b"T", id="offset1"),
    Vector(
        LP(2, offset=1, strip=0),
        b"T\x00\x03abcT\x00\x00",
        [b"T\x00\x03abc", b"T\x00\x00"],
        payloads=[b"abc", b""],
        head=b"T",
        id="offset1-strip0",
    ),
    Vector(
        LP(2, offset=1, strip=1),
        b"T\x00\x03abc",
        [b"\x00\x03abc"],
        payloads=[b"abc"],
        head=b"T",
        id="offset1-strip1",
    ),
    Vector(
        LP(1, offset=3, strip=2, byteorder="little"),
        b"XYZ\x03abc",
        [b"Z\x03abc"],
        payloads=[b"abc"],
        head=b"XYZ",
        id="offset3-strip2",
    ),
    Vector(LP(2, strip=0), b"\x00\x03abc", [b"\x00\x03abc"], payloads=[b"abc"], id="strip0"),
    Vector(LP(2, strip=1), b"\x00\x03abc\x00\x00", [b"\x03abc", b"\x00"], payloads=[b"abc", b""], id="strip1"),
    # -- adjustment -------------------------------------------------------------------
    # the field counts itself (body = field - 2)
    Vector(LP(2, adjustment=-2), b"\x00\x05abc\x00\x02", [b"abc", b""], id="adjust-2"),
    # the field leaves out a 2-byte trailer (body = field + 2)
    Vector(LP(2, adjustment=2), b"\x00\x03abcXY\x00\x00\x00\x01", [b"abcXY", b"\x00\x01"], id="adjust+2"),
    Vector(
        LP(8, byteorder="little", adjustment=-8),
        b"\x0a\x00\x00\x00\x00\x00\x00\x00hi",
        [b"hi"],
        id="lp8-little-adjust-8",
    ),
    # -- PostgreSQL: tag + length counting itself; frame = whole message ---------------
    Vector(
        PG,
        b"Q\x00\x00\x00\x0aselectQ\x00\x00\x00\x0eselect 1;\x00",
        [b"Q\x00\x00\x00\x0aselect", b"Q\x00\x00\x00\x0eselect 1;\x00"],
        payloads=[b"select", b"select 1;\x00"],
        head=b"Q",
        id="postgres-query",
    ),
    Vector(PG, b"Z\x00\x00\x00\x05I", [b"Z\x00\x00\x00\x05I"], payloads=[b"I"], head=b"Z", id="postgres-ready"),
    Vector(
        PG,
        b"R\x00\x00\x00\x08\x00\x00\x00\x00",
        [b"R\x00\x00\x00\x08\x00\x00\x00\x00"],
        payloads=[b"\x00\x00\x00\x00"],
        head=b"R",
        id="postgres-auth-ok",
    ),
    Vector(PG, b"S\x00\x00\x00\x04", [b"S\x00\x00\x00\x04"], payloads=[b""], head=b"S", id="postgres-empty"),
    # -- Delimited --------------------------------------------------------------------
    Vector(ff.Delimited(), b"a\nbc\n\n", [b"a", b"bc", b""], id="newline"),
    Vector(
        ff.Delimited(b"\r\n"),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        [b"GET / HTTP/1.1", b"Host: x", b""],
        id="crlf",
    ),
    Vector(ff.Delimited(b"\r\n"), b"a\rb\nc\r\n", [b"a\rb\nc"], id="crlf-lone-cr-lf"),
    Vector(ff.Delimited(b"\x00"), b"abc\x00\x00def\x00", [b"abc", b"", b"def"], id="nul"),
    Vector(ff.Delimited(b"--"), b"a--b----c--x-y--", [b"a", b"b", b"", b"c", b"x-y"], id="dashes"),
    Vector(ff.Delimited(b"\xff\xfe"), b"\x00\x01\xff\xfe\xff\xff\xfe", [b"\x00\x01", b"\xff"], id="binary-delim"),
    Vector(ff.Delimited(b"<END>"), b"one<END><EN<END>", [b"one", b"<EN"], id="five-byte-delim"),
    Vector(
        ff.Delimited(b"\r\n", keep=True),
        b"a\r\n\r\n",
        [b"a\r\n", b"\r\n"],
        payloads=[b"a", b""],
        id="crlf-keep",
    ),
    Vector(ff.Delimited(b"|", keep=True), b"x|yy|", [b"x|", b"yy|"], payloads=[b"x", b"yy"], id="keep"),
    # -- Lines ------------------------------------------------------------------------
    Vector(ff.Lines(), b"one\n\na\rb\n", [b"one", b"", b"a\rb"], id="lines"),
    # -- FixedSize --------------------------------------------------------------------
    Vector(ff.FixedSize(3), b"abcdef", [b"abc", b"def"], id="fixed3"),
    Vector(ff.FixedSize(1), b"a\n\x00", [b"a", b"\n", b"\x00"], id="fixed1"),
    # -- Netstring --------------------------------------------------------------------
    Vector(ff.Netstring(), b"5:hello,0:,3:abc,", [b"hello", b"", b"abc"], id="netstring"),
    Vector(ff.Netstring(), b"12:hello world!,", [b"hello world!"], id="netstring-12"),
    Vector(ff.Netstring(), b"4:1:a,,", [b"1:a,"], id="netstring-nested"),
    Vector(ff.Netstring(), b"258:" + X258 + b",", [X258], id="netstring-258"),
    # -- VarintPrefixed ---------------------------------------------------------------
    Vector(ff.VarintPrefixed(), b"\x00\x01a\x7f" + b"b" * 127, [b"", b"a", b"b" * 127], id="varint-1byte"),
    Vector(ff.VarintPrefixed(), b"\x80\x01" + b"c" * 128, [b"c" * 128], id="varint-128"),
    Vector(ff.VarintPrefixed(), b"\xac\x02" + b"d" * 300, [b"d" * 300], id="varint-300"),
    Vector(ff.VarintPrefixed(), b"\x82\x02" + X258, [X258], id="varint-258"),
    Vector(ff.VarintPrefixed(), b"\x80\x80\x01" + b"e" * 16384, [b"e" * 16384], id="varint-16384"),
]

# Decoding only: inputs an encoder never produces.
DECODE_ONLY = [
    # the first delimiter wins, the search resumes after it
    Vector(ff.Delimited(b"aa"), b"xaaabaa", [b"x", b"ab"], id="overlapping-delim"),
    Vector(ff.Delimited(b"aba"), b"abababa", [b"", b"b"], id="overlapping-delim-2"),
    Vector(ff.Lines(), b"one\ntwo\r\nthree\r\n", [b"one", b"two", b"three"], id="lines-crlf"),
    Vector(ff.Lines(), b"\r\r\n\r\n\n", [b"\r", b"", b""], id="lines-one-cr-only"),
    Vector(ff.Lines(), b"a\r\rb\r\n", [b"a\r\rb"], id="lines-inner-cr"),
    # PostgreSQL: a stream of different message types
    Vector(
        PG,
        b"C\x00\x00\x00\x0dSELECT 1\x00Z\x00\x00\x00\x05I",
        [b"C\x00\x00\x00\x0dSELECT 1\x00", b"Z\x00\x00\x00\x05I"],
        id="postgres-mixed",
    ),
]

ALL = VECTORS + DECODE_ONLY


def splits_of(wire: bytes) -> list[list[bytes]]:
    if len(wire) <= 300:
        return every_split(wire)
    return [[wire], split(wire, range(0, len(wire), 7)), split(wire, range(0, len(wire), 4096))]


@pytest.mark.parametrize("vector", ALL, ids=[v.id for v in ALL])
def test_decode(impl: Any, vector: Vector) -> None:
    for chunks in splits_of(vector.wire):
        dec = impl.decoder(vector.framer)
        assert frames_of(dec, chunks) == vector.frames, chunks
        assert dec.buffered == 0


@pytest.mark.parametrize("vector", ALL, ids=[v.id for v in ALL])
@pytest.mark.parametrize("sizehint", [-1, 0, 1, 5, 100_000])
def test_decode_via_get_buffer(impl: Any, vector: Vector, sizehint: int) -> None:
    for chunks in ([vector.wire], split(vector.wire, range(0, len(vector.wire), 3))):
        dec = impl.decoder(vector.framer)
        assert frames_via_buffer(dec, chunks, sizehint) == vector.frames


@pytest.mark.parametrize("vector", ALL, ids=[v.id for v in ALL])
@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_decode_other_buffer_types(impl: Any, vector: Vector, kind: type) -> None:
    dec = impl.decoder(vector.framer)
    assert frames_of(dec, [kind(vector.wire)]) == vector.frames


@pytest.mark.parametrize("vector", ALL, ids=[v.id for v in ALL])
def test_frames_split_across_calls_are_held(impl: Any, vector: Vector) -> None:
    """Everything but the last byte gives every frame but the last, which is held."""
    dec = impl.decoder(vector.framer)
    assert dec.feed(vector.wire[:-1]) == vector.frames[:-1]
    held = dec.buffered
    assert held == len(dec.detach())
    assert dec.feed(vector.wire[len(vector.wire) - 1 - held :]) == vector.frames[-1:]
    assert dec.buffered == 0


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_encode(impl: Any, vector: Vector) -> None:
    codec = impl.codec(vector.framer)
    parts = [encode_with(codec, vector.framer, p, vector.head) for p in vector.encode_input]
    assert all(type(part) is bytes for part in parts)
    assert b"".join(parts) == vector.wire
    many = encode_many_with(codec, vector.framer, vector.encode_input, vector.head)
    assert type(many) is bytes
    assert many == vector.wire


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_encode_other_buffer_types(impl: Any, vector: Vector, kind: type) -> None:
    codec = impl.codec(vector.framer)
    payloads = [kind(p) for p in vector.encode_input]
    head = kind(vector.head)
    assert encode_many_with(codec, vector.framer, payloads, head) == vector.wire
    assert b"".join(encode_with(codec, vector.framer, p, head) for p in payloads) == vector.wire


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_encode_counts_bytes_not_items(impl: Any, vector: Vector) -> None:
    """A buffer whose len() counts items, not bytes (array('I'), a cast
    memoryview) is framed by its byte size."""
    codec = impl.codec(vector.framer)
    words: list[Any] = [array.array("I", p[: len(p) // 4 * 4]) for p in vector.encode_input]
    if len(vector.encode_input[0]) % 4 == 0 and vector.encode_input[0]:
        words.append(memoryview(vector.encode_input[0]).cast("I"))
    as_bytes = [bytes(w) for w in words]
    try:
        expected = encode_many_with(codec, vector.framer, as_bytes, vector.head)
    except ValueError:  # e.g. a FixedSize payload cut to a multiple of 4 bytes
        with pytest.raises(ValueError):
            encode_many_with(codec, vector.framer, words, vector.head)
        return
    assert encode_many_with(codec, vector.framer, words, vector.head) == expected
    assert b"".join(encode_with(codec, vector.framer, w, vector.head) for w in words) == expected


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_encode_many_takes_any_iterable(impl: Any, vector: Vector) -> None:
    codec = impl.codec(vector.framer)
    gen = (p for p in vector.encode_input)
    assert encode_many_with(codec, vector.framer, gen, vector.head) == vector.wire  # type: ignore[arg-type]
    assert encode_many_with(codec, vector.framer, [], vector.head) == b""


def test_encode_many_of_nothing_where_no_frame_fits(impl: Any) -> None:
    """A framer whose header alone exceeds max_size can still encode no frames."""
    framer = ff.LengthPrefixed(2, strip=0, max_size=1)
    codec = impl.codec(framer)
    assert codec.encode_many([]) == b""
    with pytest.raises(ff.FrameTooLarge):
        codec.encode_many([b""])


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_public_api(vector: Vector) -> None:
    """The framer's own methods (the implementation picked at import)."""
    framer = vector.framer
    if isinstance(framer, ff.LengthPrefixed):
        assert framer.encode_many(vector.encode_input, head=vector.head) == vector.wire
        assert b"".join(framer.encode(p, head=vector.head) for p in vector.encode_input) == vector.wire
    else:
        assert framer.encode_many(vector.encode_input) == vector.wire
        assert b"".join(framer.encode(p) for p in vector.encode_input) == vector.wire
    assert framer.decoder().feed(vector.wire) == vector.frames
