"""What the micro benchmarks feed the contenders, built once per size and checked.

Every stream is ``LengthPrefixed(4)`` (4-byte big-endian length, then the body) with
payloads of one size, about ``STREAM_BYTES`` long, cut into ``CHUNK``-byte pieces
the way a receive loop with a 64 KiB buffer would hand them over.  Chunk boundaries
fall wherever they fall, so frames (and, at 64 KiB, every frame) straddle them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

from fastframe._bench.workloads import DISTINCT, HEADER, encode, label

CHUNK = 64 * 1024  # bytes per feed(): the receive size fastframe itself uses
STREAM_BYTES = 4 * 1024 * 1024  # about this much wire data per decode round
DECODE_SIZES = (16, 64, 1024, 64 * 1024)  # payload sizes, one benchmark group each
ENCODE_SIZE = 64  # payload size of the encode_many benchmark
ENCODE_COUNT = 10_000  # payloads per encode_many round


def decode_group(size: int) -> str:
    return f"decode {label(size)}"


def encode_group(size: int = ENCODE_SIZE) -> str:
    return f"encode_many {label(size)}"


# The order tables and reports list the groups in (pytest-benchmark sorts by name).
GROUP_ORDER = [decode_group(size) for size in DECODE_SIZES] + [encode_group()]


def _payloads(size: int, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(count)]


@dataclass(frozen=True, eq=False)
class DecodeWorkload:
    size: int  # payload bytes per frame
    frames: int  # frames per round
    stream: bytes  # the whole wire stream
    chunks: tuple[bytes, ...]  # the stream as fed, CHUNK bytes at a time
    payloads: tuple[bytes, ...] = field(repr=False)  # frame i is payloads[i % DISTINCT]

    @property
    def group(self) -> str:
        return decode_group(self.size)

    def expected(self) -> list[bytes]:
        payloads = self.payloads
        return [payloads[i % DISTINCT] for i in range(self.frames)]

    def extra_info(self, contender: str) -> dict[str, object]:
        return {
            "contender": contender,
            "operation": "decode",
            "frames": self.frames,
            "payload_size": self.size,
            "wire_bytes": len(self.stream),
            "payload_bytes": self.frames * self.size,
            "chunk": CHUNK,
        }


@dataclass(frozen=True, eq=False)
class EncodeWorkload:
    size: int
    payloads: list[bytes]  # the argument of encode_many
    wire: bytes  # what encode_many must return

    @property
    def frames(self) -> int:
        return len(self.payloads)

    @property
    def group(self) -> str:
        return encode_group(self.size)

    def extra_info(self, contender: str) -> dict[str, object]:
        return {
            "contender": contender,
            "operation": "encode_many",
            "frames": self.frames,
            "payload_size": self.size,
            "wire_bytes": len(self.wire),
            "payload_bytes": self.frames * self.size,
        }


@cache
def decode_workload(size: int) -> DecodeWorkload:
    frames = STREAM_BYTES // (HEADER + size)
    payloads = _payloads(size, DISTINCT, seed=size)
    stream = encode([payloads[i % DISTINCT] for i in range(frames)])
    chunks = tuple(stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK))
    return DecodeWorkload(size, frames, stream, chunks, tuple(payloads))


@cache
def encode_workload(size: int = ENCODE_SIZE, count: int = ENCODE_COUNT) -> EncodeWorkload:
    # distinct objects, as a real batch of messages would be
    payloads = _payloads(size, count, seed=-size)
    return EncodeWorkload(size, payloads, encode(payloads))
