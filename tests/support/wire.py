"""The wire oracle: what the bytes of a frame are, and what encoding a payload must
give, worked out from the framing rules of docs/framers/ (one page per framer; what
encode refuses is in each page's "encode and encode_many" section), never by
fastframe's encoders.

The tests build their expected wire bytes here, and so does the fuzz harness
(fuzz/fuzz_decoders.py), which imports this module outside pytest: it needs
nothing but fastframe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fastframe as ff
from fastframe import _messages
from fastframe.errors import FrameTooLarge


def varint(n: int) -> bytes:
    """Protobuf base-128: 7 bits per byte, least significant group first."""
    out = []
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


def length_field(framer: ff.LengthPrefixed, n: int) -> int:
    """The field value announcing an n-byte body."""
    return n - framer.adjustment


def field_bytes(framer: ff.LengthPrefixed, value: int) -> bytes:
    return value.to_bytes(framer.width, framer.byteorder)


def clamped_field(framer: ff.LengthPrefixed, n: int) -> bytes:
    """The length field announcing an n-byte body, clamped into what the field
    holds: a header a hostile or careless peer can send whatever the adjustment."""
    value = min(max(length_field(framer, n), 0), 2 ** (8 * framer.width) - 1)
    return field_bytes(framer, value)


def lp_frame_size(framer: ff.LengthPrefixed, body: int) -> int:
    return body + framer.offset + framer.width - framer.strip


def delimiter_of(framer: Any) -> bytes:
    return b"\n" if isinstance(framer, ff.Lines) else framer.delimiter


def frame_of(framer: Any, payload: bytes, wire: bytes) -> bytes:
    """The frame a decoder returns for ``wire``, the wire frame of ``payload``."""
    if isinstance(framer, ff.LengthPrefixed):
        return wire[framer.strip :]
    if isinstance(framer, ff.Delimited) and framer.keep:
        return payload + framer.delimiter
    return payload


@dataclass(frozen=True)
class Expect:
    """What encoding one payload must give: its wire bytes and decoded frame, or an error.

    ``errors`` lists the acceptable (type, args) pairs; several only where the docs
    do not say which of two simultaneous faults wins.  ``size_only`` marks a
    FrameTooLarge whose max_size argument is not pinned (the length field, not
    max_size, is the limit there).
    """

    wire: bytes | None = None
    frame: bytes | None = None
    errors: tuple[tuple[type, tuple], ...] = ()
    size_only: bool = False

    @property
    def ok(self) -> bool:
        return self.wire is not None

    def check_error(self, exc: BaseException) -> None:
        assert not self.ok, f"unexpected {exc!r}"
        if self.size_only:
            assert type(exc) is FrameTooLarge and exc.size == self.errors[0][1][0], repr(exc)
            assert exc.max_size <= self.errors[0][1][1]
            return
        assert (type(exc), exc.args) in self.errors, f"{exc!r} not in {self.errors}"


def expect(framer: Any, payload: bytes, head: bytes = b"") -> Expect:
    """The outcome the framing rules prescribe for encoding ``payload`` with ``framer``."""
    n = len(payload)
    if isinstance(framer, ff.LengthPrefixed):
        if len(head) != framer.offset:
            return Expect(errors=((ValueError, _messages.head_size(framer.offset, len(head)).args),))
        value = length_field(framer, n)
        size = lp_frame_size(framer, n)
        errors = []
        if value > 2 ** (8 * framer.width) - 1:
            return Expect(errors=((FrameTooLarge, (size, framer.max_size)),), size_only=True)
        if size > framer.max_size:
            errors.append((FrameTooLarge, (size, framer.max_size)))
        if value < 0:
            errors.append((ValueError, _messages.body_below_adjustment(n, framer.adjustment).args))
        if errors:
            return Expect(errors=tuple(errors))
        wire = head + field_bytes(framer, value) + payload
        return Expect(wire=wire, frame=frame_of(framer, payload, wire))
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        delim = delimiter_of(framer)
        keep = getattr(framer, "keep", False)
        errors = []
        # the decoder ends the frame at the first delimiter of payload + delimiter
        if (payload + delim).find(delim) != n:
            errors.append((ValueError, _messages.contains_delimiter(delim).args))
        elif isinstance(framer, ff.Lines) and payload.endswith(b"\r"):
            errors.append((ValueError, _messages.line_ends_with_cr().args))
        size = n + len(delim) * keep
        if size > framer.max_size:
            errors.append((FrameTooLarge, (size, framer.max_size)))
        if errors:
            return Expect(errors=tuple(errors))
        return Expect(wire=payload + delim, frame=frame_of(framer, payload, payload + delim))
    if isinstance(framer, ff.FixedSize):
        if n != framer.size:
            return Expect(errors=((ValueError, _messages.wrong_fixed_size(framer.size, n).args),))
        return Expect(wire=payload, frame=payload)
    if n > framer.max_size:
        return Expect(errors=((FrameTooLarge, (n, framer.max_size)),))
    if isinstance(framer, ff.Netstring):
        return Expect(wire=netstring(payload), frame=payload)
    assert isinstance(framer, ff.VarintPrefixed)
    return Expect(wire=varint(n) + payload, frame=payload)


def wire_of(framer: Any, payloads: Sequence[bytes], head: bytes | None = None) -> tuple[bytes, list[bytes]]:
    """The wire bytes of ``payloads`` and the frames a decoder returns for them."""
    wire = bytearray()
    frames = []
    for payload in payloads:
        h = b"H" * getattr(framer, "offset", 0) if head is None else head
        outcome = expect(framer, payload, h)
        assert outcome.ok, (framer, payload, outcome)
        wire += outcome.wire  # type: ignore[operator]
        frames.append(outcome.frame)
    return bytes(wire), frames  # type: ignore[return-value]


def oversize_frame(framer: Any, n: int, body: int | None = None, fill: int = 0x78) -> bytes:
    """A wire frame announcing an n-byte body, built without the encoder's checks;
    only its first ``body`` body bytes when given (length-announcing framings)."""
    body_bytes = bytes([fill]) * (n if body is None else body)
    if isinstance(framer, ff.LengthPrefixed):
        return b"H" * framer.offset + clamped_field(framer, n) + body_bytes
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        return bytes([fill]) * n + delimiter_of(framer)
    if isinstance(framer, ff.Netstring):
        return str(n).encode() + b":" + body_bytes + (b"," if body is None else b"")
    if isinstance(framer, ff.VarintPrefixed):
        return varint(n) + body_bytes
    return bytes([fill]) * framer.size

