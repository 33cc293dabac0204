"""How payloads are taken for sending and encoding: all at once, so that every
one is checked before any goes out, and cut into what send_many() writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._checks import nbytes
from ._limits import LARGE_FRAME


def sequence(payloads: Iterable[Any]) -> Sequence[Any]:
    """Every payload at once (a list or tuple as it is), refused as the compiled
    core's PySequence_Fast refuses what is not iterable."""
    if type(payloads) in (list, tuple):
        return payloads  # type: ignore[return-value]
    try:
        items = iter(payloads)
    except TypeError:
        raise TypeError("payloads must be an iterable of bytes-like objects") from None
    return list(items)


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
