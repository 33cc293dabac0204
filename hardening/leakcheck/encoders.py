"""The encoder cases: ``encode`` and ``encode_many`` of every framing, from bytes
and other buffers, and each of their refusals."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType

from fastframe._cores import Core

from .framers import MAX, Framing, heads
from .measuring import Case
from .steps import equal, plain, raises


def encode_cases(ff: ModuleType, core: Core, framing: Framing) -> Iterator[Case]:
    bound = core.bind(framing.framer)
    payload, head = framing.payload, heads(framing)
    tracked = {"framer": bound, "payload": payload, "head": framing.head}
    wire = bound.encode(payload, **head)
    name = f"encode/{framing.label}"

    def encode() -> None:
        equal(bound.encode(payload, **head), wire)

    as_bytearray = bytearray(payload)
    as_view = memoryview(payload)

    def encode_buffers() -> None:
        equal(bound.encode(as_bytearray, **head), wire)
        equal(bound.encode(as_view, **head), wire)

    several = [payload] * 4

    def encode_many() -> None:
        equal(bound.encode_many(several, **head), wire * 4)

    def encode_many_buffers() -> None:
        equal(bound.encode_many((p for p in (as_bytearray, as_view)), **head), wire * 2)

    yield Case(f"{name}/encode", "encode", lambda: plain(encode, **tracked))
    buffers = {**tracked, "bytearray": as_bytearray, "memoryview": as_view}
    yield Case(f"{name}/encode-buffers", "encode", lambda: plain(encode_buffers, **buffers))
    yield Case(f"{name}/encode_many", "encode", lambda: plain(encode_many, **tracked, payloads=several))
    yield Case(f"{name}/encode_many-buffers", "encode", lambda: plain(encode_many_buffers, **buffers))
    if not isinstance(bound, ff.FixedSize):
        too_large = b"x" * (MAX + 1)

        def encode_too_large() -> None:
            raises(ff.FrameTooLarge, bound.encode, too_large, **head)
            raises(ff.FrameTooLarge, bound.encode_many, [payload, too_large], **head)

        yield Case(f"{name}/encode-too-large", "encode", lambda: plain(encode_too_large, **tracked, big=too_large))
    if framing.refused:

        def encode_refused() -> None:
            for bad, bad_head in framing.refused:
                kwargs = {"head": bad_head} if isinstance(bound, ff.LengthPrefixed) else {}
                raises(ValueError, bound.encode, bad, **kwargs)
                raises(ValueError, bound.encode_many, [payload, bad], **kwargs)

        yield Case(f"{name}/encode-refused", "encode", lambda: plain(encode_refused, **tracked))
    not_contiguous = memoryview(payload * 2)[::2]

    def encode_bad_type() -> None:
        raises(TypeError, bound.encode, "text", **head)
        with contextlib.suppress(TypeError, BufferError):  # (the twin's FixedSize takes it)
            bound.encode(not_contiguous, **head)
        raises(TypeError, bound.encode_many, [payload, 42], **head)
        raises(TypeError, bound.encode_many, 42, **head)

    yield Case(f"{name}/encode-bad-type", "encode", lambda: plain(encode_bad_type, **tracked, view=not_contiguous))
