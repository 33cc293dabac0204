"""How an input is read: as decisions, each taken from the front of the input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Choices:
    """Decisions taken from the front of the input, a few bytes each.

    Written here rather than taken from atheris.FuzzedDataProvider so that an
    input means the same scenario with and without atheris installed.  A spent
    input reads as zeros (the smallest choice), so every input is a scenario.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def spent(self) -> bool:
        return self.pos >= len(self.data)

    def int(self, lo: int, hi: int) -> int:
        span = hi - lo
        if span <= 0:
            return lo
        size = (span.bit_length() + 7) // 8
        raw = self.data[self.pos : self.pos + size]
        self.pos += size
        return lo + int.from_bytes(raw, "little") % (span + 1)

    def bool(self) -> bool:
        return self.int(0, 1) == 1

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.int(0, len(options) - 1)]

    def one_in(self, n: int) -> bool:
        return self.int(0, n - 1) == 0

    def bytes(self, n: int) -> bytes:
        """n bytes exactly (zero-padded once the input is spent)."""
        raw = self.data[self.pos : self.pos + n]
        self.pos += len(raw)
        return raw + bytes(n - len(raw))

    def text(self, alphabet: bytes, n: int) -> bytes:
        """n bytes from a small alphabet: delimiters and digits get hit often."""
        return bytes(self.pick(alphabet) for _ in range(n))
