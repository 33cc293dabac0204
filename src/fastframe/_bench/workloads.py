"""What the peer process sends: frames ``[4-byte big-endian length][payload]``.

Payloads are random and ``DISTINCT`` of them take turns, so a frame mixed up with
another shows in the content check.  Everything is derived from the payload size
alone, so the peer process and the benchmark build the same bytes independently.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

HEADER = 4  # LengthPrefixed(4): the length field only
DISTINCT = 7  # distinct payloads per stream
BLOCK_BYTES = 1 << 20  # about this much per pre-encoded block the peer sends
SIZES = (64, 1024, 64 * 1024)  # the payload sizes measured by default

_HEADER = struct.Struct(">I")


def label(size: int) -> str:
    """``16 B``, ``1 KiB``, ``64 KiB``."""
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def encode(payloads: Iterable[bytes]) -> bytes:
    """The reference encoding, written for clarity, not speed."""
    return b"".join(_HEADER.pack(len(p)) + p for p in payloads)


@dataclass(frozen=True, eq=False)
class RecvWorkload:
    """What the peer sends in a receive window: ``block`` over and over.  Frame i of
    a connection is ``payloads[i % DISTINCT]``, across block boundaries too."""

    size: int
    payloads: tuple[bytes, ...] = field(repr=False)
    block: bytes = field(repr=False)
    block_frames: int

    def expected(self, frames: int) -> list[bytes]:
        payloads = self.payloads
        return [payloads[i % DISTINCT] for i in range(frames)]


@cache
def recv_workload(size: int) -> RecvWorkload:
    rng = random.Random(size)
    payloads = tuple(rng.randbytes(size) for _ in range(DISTINCT))
    frames = max(1, BLOCK_BYTES // (HEADER + size) // DISTINCT) * DISTINCT
    block = encode(payloads[i % DISTINCT] for i in range(frames))
    return RecvWorkload(size, payloads, block, frames)
