"""Framers and byte streams, read off the input: framers with every option (and
sizes where arithmetic changes), and streams of well-formed, oversize, truncated
and garbage frames.  Their wire bytes come from the tests' wire oracle
(tests/support/wire.py), never from the encoders under test; where a frame may be
written several ways (a head, a line end, a non-minimal varint), the input chooses.
"""

from __future__ import annotations

import sys
from typing import Any

import fastframe as ff
from tests.support import wire
from tests.support.wire import clamped_field, delimiter_of, netstring, varint

from .choices import Choices

# limits where arithmetic changes: byte and field boundaries, LARGE_FRAME, 32/64 bits
EDGE_SIZES = (1, 2, 255, 256, 65535, 65536, 2**31 - 1, 2**32, ff.DEFAULT_MAX_SIZE, sys.maxsize)
EDGE_ADJUSTMENTS = (2**31, -(2**31), 2**32, 2**63 - 1, -(2**63 - 1))


def max_size(c: Choices) -> int:
    # mostly tiny, so that FrameTooLarge and the skip after it are reached
    return c.int(1, 24) if c.int(0, 3) else c.pick(EDGE_SIZES)


def make_framer(c: Choices) -> Any:
    kind = c.int(0, 5)
    if kind == 0:
        width = c.int(1, 8)
        offset = c.int(0, 3)
        header = offset + width
        how = c.int(0, 3)
        if how <= 1:
            adjustment = c.int(-6, 6)
        elif how == 2:
            adjustment = c.pick((-header, -width, -header - 1, header))  # PostgreSQL-like and off by one
        else:
            adjustment = c.pick(EDGE_ADJUSTMENTS)
        strip = None if c.bool() else c.int(0, header)
        return ff.LengthPrefixed(
            width,
            byteorder=c.pick(("big", "little")),
            offset=offset,
            adjustment=adjustment,
            strip=strip,
            max_size=max_size(c),
        )
    if kind == 1:
        n = c.int(1, 3)
        how = c.int(0, 2)
        if how == 0:
            delimiter = c.text(b"ab\r\n\x00", n)
        elif how == 1:  # periodic: a frame's tail can overlap the delimiter's start
            delimiter = c.text(b"ab\n", 1) * n
        else:
            delimiter = c.bytes(n)
        return ff.Delimited(delimiter, max_size=max_size(c), keep=c.bool())
    if kind == 2:
        return ff.Lines(max_size=max_size(c))
    if kind == 3:
        return ff.FixedSize(c.int(1, 16) if c.int(0, 7) else c.pick((255, 256, 65535, 65536)))
    if kind == 4:
        return ff.Netstring(max_size=max_size(c))
    return ff.VarintPrefixed(max_size=max_size(c))


def alphabet_of(framer: Any) -> bytes:
    """Bytes that make garbage interesting for this framing."""
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        return bytes(sorted(set(delimiter_of(framer) + b"x\r")))
    if isinstance(framer, ff.Netstring):
        return b"0123456789:,x"
    if isinstance(framer, ff.VarintPrefixed):
        return b"\x00\x01\x02\x7f\x80\x81\xff"
    return b"\x00\x01\x02\x7f\x80\xff"


def wire_frame(c: Choices, framer: Any, payload: bytes) -> bytes:
    """``payload`` framed the way a well-behaved peer would."""
    n = len(payload)
    if isinstance(framer, ff.LengthPrefixed):
        return c.bytes(framer.offset) + clamped_field(framer, n) + payload
    if isinstance(framer, ff.Lines):
        return payload + c.pick((b"\n", b"\r\n"))
    if isinstance(framer, ff.Delimited):
        return payload + framer.delimiter
    if isinstance(framer, ff.FixedSize):
        return payload
    if isinstance(framer, ff.Netstring):
        return netstring(payload)
    head = varint(n)
    if c.one_in(4):  # non-minimal, still valid up to ten bytes
        head = bytes(b | 0x80 for b in head) + b"\x80" * c.int(0, 8) + b"\x00"
    return head + payload


def oversize_frame(c: Choices, framer: Any) -> bytes:
    """A frame announcing more than max_size, with only some of its body when that is big."""
    extra = c.int(1, 16)
    size = framer.max_size + extra
    body = min(size, c.int(0, 40)) if size > 4096 else size
    if isinstance(framer, ff.LengthPrefixed):
        announced = size - (framer.offset + framer.width - framer.strip)
        return c.bytes(framer.offset) + clamped_field(framer, announced) + c.text(b"xy", body)
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        return wire.oversize_frame(framer, min(size, 4096 + extra))
    if isinstance(framer, (ff.Netstring, ff.VarintPrefixed)):
        # the whole body when it is small, and the netstring's comma with it
        return wire.oversize_frame(framer, size, body=None if body == size else body)
    return c.bytes(framer.size)


def payload(c: Choices, framer: Any, longest: int = 24) -> bytes:
    if isinstance(framer, ff.FixedSize):
        return c.bytes(framer.size)
    if c.one_in(64):  # beyond LARGE_FRAME: the compiled core fills such frames in place
        return b"L" * c.pick((65535, 65536, 65537, 70000))
    n = c.int(0, longest)
    if isinstance(framer, (ff.Delimited, ff.Lines)) or c.bool():
        return c.text(alphabet_of(framer) + b"x", n)
    return c.bytes(n)


def make_stream(c: Choices, framer: Any) -> bytes:
    parts = []
    for _ in range(c.int(0, 8)):
        kind = c.int(0, 7)
        if kind <= 3:
            parts.append(wire_frame(c, framer, payload(c, framer)))
        elif kind == 4:
            parts.append(oversize_frame(c, framer))
        elif kind == 5:  # cut short: truncated at the end of the stream, misread inside it
            whole = wire_frame(c, framer, payload(c, framer))
            parts.append(whole[: c.int(0, len(whole))])
        elif kind == 6:
            parts.append(c.text(alphabet_of(framer), c.int(0, 16)))
        else:
            parts.append(c.bytes(c.int(0, 16)))
    return b"".join(parts)
