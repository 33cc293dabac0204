"""How send_many() cuts its payloads into what it writes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._checks import nbytes
from ._limits import LARGE_FRAME


def parts_to_send(
    payloads: Sequence[Any],
    encode_many: Callable[[list[Any]], bytes],
    affixed: Callable[[Any], list[Any]],
) -> list[Any]:
    """What send_many() writes, in order: each run of small payloads encoded
    together, and each big one (LARGE_FRAME bytes or more) between its frame's
    head and tail, uncopied."""
    parts: list[Any] = []
    small: list[Any] = []
    for payload in payloads:
        if nbytes(payload) < LARGE_FRAME:
            small.append(payload)
            continue
        if small:
            parts.append(encode_many(small))
            small = []
        parts += affixed(payload)
    if small:
        parts.append(encode_many(small))
    return parts
