"""What is sent, and what comes back: each frame's length and bytes derive from
its (conn, seq) alone, so wherever it arrives it can be checked in full."""

from __future__ import annotations

import struct

LARGE_EVERY = 50  # every 50th connection sends one frame of LARGE bytes or more
LARGE = 256 * 1024  # more than a loopback socket's default receive buffer (TCP: 128 KiB)

HEADER = struct.Struct(">II")  # connection id, sequence number
GO, DATA, REPLY, DONE, BYE = b"G", b"Q", b"R", b"D", b"B"
RAMP = bytes(range(251))


def body_size(conn: int, seq: int, frames: int) -> int:
    """The body length of frame ``seq`` of connection ``conn`` (of ``frames``)."""
    if conn % LARGE_EVERY == 0 and seq == (conn // LARGE_EVERY) % frames:
        return LARGE + conn % 4093
    mix = (conn * 0x9E3779B1 + seq * 0x85EBCA77) & 0xFFFFFFFF
    mix ^= mix >> 13
    kind, size = mix % 64, mix >> 6
    if kind < 48:
        return size % 200
    if kind < 63:
        return 200 + size % 8000
    return 60_000 + size % 12_000  # both sides of the 64 KiB where the core builds a frame in place


def payload(conn: int, seq: int, frames: int) -> bytes:
    """Frame ``seq`` of connection ``conn``: tag, ids, and a body that repeats a
    259-byte unit (the ids, then a ramp rotated by both) to its length."""
    ids = HEADER.pack(conn, seq)
    turn = (conn * 7 + seq) % len(RAMP)
    unit = ids + RAMP[turn:] + RAMP[:turn]
    size = body_size(conn, seq, frames)
    return DATA + ids + (unit * (size // len(unit) + 1))[:size]


def describe(frame: bytes) -> str:
    """A frame, as a failure message names it."""
    if len(frame) >= 1 + HEADER.size:
        conn, seq = HEADER.unpack_from(frame, 1)
        return f"{frame[:1]!r} conn {conn} seq {seq}, {len(frame)} bytes"
    return f"{frame[:40]!r} ({len(frame)} bytes)"


def reply_problem(sent: bytes, reply: bytes) -> str | None:
    """Why ``reply`` is not the server's answer to ``sent`` (None when it is)."""
    if reply[:1] == REPLY and reply[1:] == sent[1:]:
        return None
    problem = f"expected the reply to {describe(sent)}, got {describe(reply)}"
    ids = 1 + HEADER.size
    if reply[:1] == REPLY and reply[1:ids] == sent[1:ids]:  # the right frame, damaged
        pairs = zip(sent[ids:], reply[ids:])
        at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(sent), len(reply)) - ids)
        problem += f": they differ from byte {ids + at} on"
    return problem
