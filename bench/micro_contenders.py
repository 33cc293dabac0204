"""The contenders of the micro benchmarks, each as a ``Round``: one timed unit of work.

Both fastframe cores are measured directly (each one's codec of the framer, through
``fastframe._cores``), whatever ``fastframe.IMPLEMENTATION`` picked.  The compiled
core is measured when it imports and skipped, with the import error as the reason,
when it does not -- unless ``FASTFRAME_BENCH_REQUIRE_CYTHON=1``, which makes a
missing core an error (use it wherever the extension is supposed to be built).  The
floors (``floors/codec.pyx``) are compiled with pyximport on first use; without
Cython they are skipped in the same way, or an error under that variable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NoReturn

import pytest

try:
    import fastframe
except ImportError as exc:  # the facade refuses to run without the core it expects
    raise pytest.UsageError(
        f"fastframe does not import ({exc}).  Build and install the compiled core "
        '(python -m pip install --group bench .), or set FASTFRAME_PURE_PYTHON=1 to benchmark the '
        "pure-Python twin alone."
    ) from exc

from fastframe._bench import contenders as shared
from fastframe._bench.facts import compiled_core_status
from fastframe._bench.peers import best_python, howto
from fastframe._cores import Core

from .micro_workloads import CHUNK, decode_workload, encode_workload

# Probe the compiled core before pyximport is ever installed (floors.load), so the
# core's own .pyx source can never be compiled on the fly and passed off as the core.
COMPILED_CORE = compiled_core_status()


def cython_required() -> bool:
    try:
        return shared.cython_required()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _missing(reason: str) -> NoReturn:
    """Skips, or fails when FASTFRAME_BENCH_REQUIRE_CYTHON=1: a compiled piece is missing."""
    if cython_required():
        pytest.fail(f"{reason} (and {shared.REQUIRE_CYTHON_VARIABLE}=1)", pytrace=False)
    pytest.skip(f"{reason}; set {shared.REQUIRE_CYTHON_VARIABLE}=1 to make this an error")


def load_core(name: str) -> Core:
    """The core called ``name`` ("cython" or "python")."""
    try:
        return shared.load_core(name)
    except shared.Unavailable as exc:
        _missing(str(exc))


_floors: ModuleType | None = None


def floors_module() -> ModuleType:
    """``bench/floors/codec.pyx``, compiled by pyximport on first use."""
    global _floors
    if _floors is None:
        try:
            import Cython  # noqa: F401
        except ImportError as exc:
            _missing(f"the floors are compiled at bench time and need Cython ({exc})")
        from . import floors

        _floors = floors.load("codec")
    return _floors


# -- rounds --------------------------------------------------------------------
#
# A round's ``run`` takes no argument, does the timed work once and returns what it
# produced: a frame count for decoding, the wire bytes for encoding.


@dataclass(frozen=True)
class Round:
    run: Callable[[], Any]
    check: Callable[[], None]  # verifies the contender's output in full, untimed


def _feed_all(make_decoder: Callable[[], Any], chunks: tuple[bytes, ...]) -> int:
    """One decode round: the whole stream through a fresh decoder; returns the
    number of frames it delivered (the lists are dropped chunk by chunk, as a
    consumer handling each ``feed()`` result would)."""
    feed = make_decoder().feed
    frames = 0
    for chunk in chunks:
        frames += len(feed(chunk))
    return frames


def _decoder_round(make_decoder: Callable[[], Any], size: int) -> Round:
    workload = decode_workload(size)
    chunks = workload.chunks

    def check() -> None:
        decoder = make_decoder()
        frames: list[bytes] = []
        for chunk in chunks:
            frames += decoder.feed(chunk)
        assert frames == workload.expected(), "wrong frames"
        assert getattr(decoder, "buffered", 0) == 0, "bytes left over"

    return Round(lambda: _feed_all(make_decoder, chunks), check)


def _floor_round(run: Callable[[], int], size: int) -> Round:
    def check() -> None:
        assert run() == decode_workload(size).frames

    return Round(run, check)


def decode_round(contender: str, size: int) -> Round:
    workload = decode_workload(size)
    if contender.startswith("fastframe-"):
        core = load_core(contender.removeprefix("fastframe-"))
        return _decoder_round(core.codec(fastframe.LengthPrefixed(4)).decoder, size)
    if contender == "best-python":
        return _decoder_round(best_python.Splitter, size)
    if contender == "howto":
        return _decoder_round(howto.Splitter, size)
    if contender == "floor-bytes":
        bytes_floor = floors_module().bytes_floor
        stream = workload.stream
        return _floor_round(lambda: bytes_floor(stream, CHUNK), size)
    if contender == "floor-memcpy":
        memcpy_floor = floors_module().memcpy_floor
        stream = workload.stream
        return _floor_round(lambda: memcpy_floor(stream, 4, size, CHUNK), size)
    raise LookupError(contender)


def encode_round(contender: str) -> Round:
    workload = encode_workload()
    payloads = workload.payloads
    if contender.startswith("fastframe-"):
        core = load_core(contender.removeprefix("fastframe-"))
        encode_many = core.codec(fastframe.LengthPrefixed(4)).encode_many
    elif contender == "best-python":
        encode_many = best_python.encode_many
    elif contender == "floor-encode":
        encode_many = floors_module().encode_floor
    else:
        raise LookupError(contender)

    def check() -> None:
        assert encode_many(payloads) == workload.wire, "wrong wire bytes"

    return Round(lambda: encode_many(payloads), check)
