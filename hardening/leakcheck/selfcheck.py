"""The self-check: cases with a leak injected (a reference kept to each frame, one
to an argument, malloc'd memory never freed; in the twin, frames kept by a patched
``feed()``), each with the measures that must report it."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from fastframe._cores import Core

from .measuring import Case, Probe, Setup
from .steps import plain

_kept: list[object] = []  # where the twin's injected leak puts the frames


def injected_cases(ff: ModuleType, core: Core) -> list[tuple[Case, tuple[str, ...]]]:
    """Cases with a leak injected, and the measures that must report it."""
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    framer = ff.LengthPrefixed(4)
    codec = core.codec(framer)
    payload = b"hello world"
    wire = codec.encode(payload)

    def frames_never_freed() -> Setup:
        dec = codec.decoder()

        def step() -> None:  # a Py_DECREF missing on each frame cut
            for frame in dec.feed(wire):
                incref(frame)

        return plain(step, decoder=dec, wire=wire)

    def argument_reference() -> Setup:
        def step() -> None:  # a Py_DECREF missing on the argument
            codec.encode(payload)
            incref(payload)

        return plain(step, payload=payload)

    def buffer_never_freed() -> Setup:
        def step() -> None:  # a receive buffer malloc'd (and written) and never freed
            libc.memset(libc.malloc(4096), 1, 4096)

        return plain(step, codec=codec)

    cases = [
        (Case("inject/frame-refs", "decode", frames_never_freed), ("blocks", "traced")),
        (Case("inject/argument-ref", "encode", argument_reference), ("refs",)),
        (Case("inject/malloc", "decode", buffer_never_freed), ("rss",)),
    ]
    if core.name == "python":

        @contextlib.contextmanager
        def twin_keeps_frames() -> Iterator[Probe]:
            dec = codec.decoder()
            # patched where it is defined: the twin's decoders share one feed()
            owner = next(cls for cls in type(dec).__mro__ if "feed" in vars(cls))
            feed = owner.feed

            def keeping_feed(self: Any, data: Any) -> list[bytes]:
                frames: list[bytes] = feed(self, data)
                _kept.extend(frames)
                return frames

            owner.feed = keeping_feed
            try:
                yield Probe(lambda: dec.feed(wire), {"decoder": dec, "wire": wire})
            finally:
                owner.feed = feed
                _kept.clear()

        cases.append((Case("inject/twin-feed-keeps-frames", "decode", twin_keeps_frames), ("blocks", "traced")))
    return cases
