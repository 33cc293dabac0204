"""Re-encoding: an error-free run's frames are exactly the stream's bytes.  Each
frame's wire bytes are found in the stream by the framing rules and checked against
what the core's own encoder makes of the frame."""

from __future__ import annotations

from typing import Any

import fastframe as ff
from fastframe._cores import Core
from tests.support.wire import netstring, varint

from .findings import Finding


def wire_at(core: Core, framer: Any, stream: bytes, pos: int, frame: bytes) -> int:
    """The size of the wire frame at ``stream[pos:]`` that decoded to ``frame``.

    Checks it against the framing rules and against the core's own encoder
    (which must produce those very bytes wherever it accepts the frame)."""
    codec = core.codec(framer)
    if isinstance(framer, ff.LengthPrefixed):
        header = framer.offset + framer.width
        wire = stream[pos : pos + framer.strip] + frame
        field = wire[framer.offset : header]
        body = int.from_bytes(field, framer.byteorder) + framer.adjustment if len(field) == framer.width else None
        if body != len(wire) - header:
            raise Finding(f"{len(wire)}-byte wire frame, {body}-byte body announced")
        expect_same(stream, pos, wire, codec.encode(wire[header:], wire[: framer.offset]))
        return len(wire)
    if isinstance(framer, ff.Lines):
        end = stream.find(b"\n", pos)
        line = stream[pos:end] if end >= 0 else b"<no line end>"
        if frame != (line[:-1] if line.endswith(b"\r") else line):
            raise Finding(f"line {line!r} gave frame {frame!r}")
        if not frame.endswith(b"\r"):  # the encoder refuses those: the decoder would strip them
            expect_same(stream, pos, frame + b"\n", codec.encode(frame), optional_cr=True)
        return len(line) + 1
    if isinstance(framer, ff.Delimited):
        d = framer.delimiter
        if framer.keep and not frame.endswith(d):
            raise Finding(f"keep=True frame {frame!r} does not end with the delimiter")
        body = frame[: -len(d)] if framer.keep else frame
        if (body + d).find(d) != len(body):
            raise Finding(f"frame {frame!r} holds an earlier delimiter")
        return expect_same(stream, pos, body + d, codec.encode(body))
    if isinstance(framer, ff.FixedSize):
        return expect_same(stream, pos, frame, codec.encode(frame))
    if isinstance(framer, ff.Netstring):
        return expect_same(stream, pos, netstring(frame), codec.encode(frame))
    value, size = 0, 0
    while True:  # a varint may be non-minimal on the wire; the encoder writes the minimal one
        byte = stream[pos + size] if pos + size < len(stream) else 0
        value |= (byte & 0x7F) << (7 * size)
        size += 1
        if byte < 0x80 or size == 10:
            break
    if value != len(frame) or stream[pos + size : pos + size + value] != frame:
        raise Finding(f"varint {stream[pos : pos + size]!r} then {frame!r}")
    encoded = codec.encode(frame)
    if size == len(varint(value)):
        expect_same(stream, pos, stream[pos : pos + size] + frame, encoded)
    elif encoded != varint(value) + frame:
        raise Finding(f"encode({frame!r}) gave {encoded!r}")
    return size + value


def expect_same(stream: bytes, pos: int, wire: bytes, encoded: bytes, optional_cr: bool = False) -> int:
    """``wire`` is at stream[pos:] and the encoder made it (Lines: up to one b"\\r")."""
    if optional_cr and stream.startswith(wire[:-1] + b"\r\n", pos):
        wire = wire[:-1] + b"\r\n"
        encoded = encoded[:-1] + b"\r\n"
    if not stream.startswith(wire, pos):
        raise Finding(f"frame's wire bytes {wire!r} are not at stream[{pos}:]: {stream[pos : pos + 60]!r}")
    if encoded != wire:
        raise Finding(f"encoder gives {encoded!r} for wire bytes {wire!r}")
    return len(wire)
