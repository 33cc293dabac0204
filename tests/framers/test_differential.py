"""The twins behave identically: random framers, random streams (valid frames,
garbage, oversize headers), random chunk boundaries down to one byte, fed to the
compiled core and to the pure-Python twin call by call; every call must return the
same frames or raise the same exception (type and args), with the same ``buffered``.

The cross-implementation tests need the compiled core, so they are skipped when
FASTFRAME_PURE_PYTHON=1 (then there is none); a missing extension otherwise is an
import error here, not a skip.  The split-invariance property runs on each
implementation in every configuration.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastframe as ff
from fastframe._cores import CORES
from fastframe._switch import pure_python_requested
from fastframe.errors import IncompleteFrame, ProtocolError
from tests.support.calls import Buffer, Detach, Eof, Feed, call, deadline, encode_outcome, events, split
from tests.support.strategies import IMPL_SETTINGS, framers, heads, ops_for, payloads, streams
from tests.support.wire import expect, oversize_frame

PURE = pure_python_requested()
if not PURE:
    COMPILED, TWIN = CORES  # the compiled core first, the twin last

compiled_only = pytest.mark.skipif(PURE, reason="FASTFRAME_PURE_PYTHON=1: there is no compiled core to compare")


class Misuse:
    """buffer_updated() with no get_buffer() before it."""

    def __repr__(self) -> str:
        return "Misuse()"


def run_call(dec: Any, op: Any) -> tuple:
    if isinstance(op, Misuse):
        try:
            return ("frames", dec.buffer_updated(1))
        except Exception as exc:  # noqa: BLE001
            return ("error", type(exc), exc.args)
    return call(dec, op)


def decoders(framer: Any) -> tuple[Any, Any]:
    return COMPILED.decoder(framer), TWIN.decoder(framer)


def lockstep(framer: Any, ops: list[Any], bound: int) -> None:
    """Every op on both decoders, then eof() until it returns [] (or repeats an
    error that never clears: IncompleteFrame, ProtocolError)."""
    compiled, python = decoders(framer)
    history: list[tuple] = []
    with deadline(20):
        for i, op in enumerate(ops):
            got = run_call(compiled, op)
            want = run_call(python, op)
            history.append((op, want))
            assert got == want, f"call {i} ({op!r}) after {history[-6:-1]}"
            assert compiled.buffered == python.buffered, f"buffered after call {i} ({op!r})"
        for _ in range(bound):
            got = run_call(compiled, Eof())
            want = run_call(python, Eof())
            history.append((Eof(), want))
            assert got == want, f"eof() after {history[-6:-1]}"
            assert compiled.buffered == python.buffered, "buffered after eof()"
            if want == ("frames", []) or want[0] == "error" and want[1] in (IncompleteFrame, ProtocolError):
                return
    raise AssertionError(f"eof() did not settle within {bound} calls: {history[-5:]}")


@compiled_only
@given(data=st.data())
def test_twins_agree_call_by_call(data: st.DataObject) -> None:
    framer = data.draw(framers(), label="framer")
    stream = data.draw(streams(framer), label="stream")
    ops = data.draw(ops_for(stream), label="ops")
    lockstep(framer, ops, bound=2 * len(stream) + 8)


@st.composite
def ops_with_extras(draw: st.DrawFn, stream: bytes) -> list[Any]:
    ops: list[Any] = draw(ops_for(stream, extra=True))
    for _ in range(draw(st.integers(0, 2))):
        ops.insert(draw(st.integers(0, len(ops))), Misuse())
    return ops


@compiled_only
@given(data=st.data())
def test_twins_agree_with_eof_detach_and_misuse_midstream(data: st.DataObject) -> None:
    framer = data.draw(framers(), label="framer")
    stream = data.draw(streams(framer), label="stream")
    ops = data.draw(ops_with_extras(stream), label="ops")
    lockstep(framer, ops, bound=2 * len(stream) + 8)


# -- large frames: the compiled core fills them in place ------------------------------------

LARGE_KINDS = [
    lambda m: ff.LengthPrefixed(4, max_size=m),
    lambda m: ff.LengthPrefixed(8, byteorder="little", offset=2, adjustment=-10, strip=1, max_size=m),
    lambda m: ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=m),
    lambda m: ff.Netstring(max_size=m),
    lambda m: ff.VarintPrefixed(max_size=m),
    lambda m: ff.Delimited(b"\r\n", max_size=m),
    lambda m: ff.Lines(max_size=m),
    lambda m: ff.FixedSize(m),
]
PATTERN = bytes(range(32, 127)) * 30000  # no \r, \n, or delimiter bytes


@st.composite
def large_cases(draw: st.DrawFn) -> tuple[Any, list[Any]]:
    max_size = draw(st.sampled_from([70_000, 1_200_000, 4 * 2**20]))
    n = draw(st.sampled_from([65535, 65536, 65537, 100_000, 1_100_000]))
    framer = draw(st.sampled_from(LARGE_KINDS))(max_size)
    if isinstance(framer, ff.FixedSize):
        framer = ff.FixedSize(n)
    head = b"h" * getattr(framer, "offset", 0)
    outcome = expect(framer, PATTERN[:n], head)
    big = outcome.wire if outcome.ok else oversize_frame(framer, n, fill=0x41)
    small = expect(framer, b"ok" if not isinstance(framer, ff.FixedSize) else PATTERN[1 : n + 1], head).wire
    assert small is not None
    how = draw(st.sampled_from(["whole", "truncated", "last byte changed", "garbage after"]))
    if how == "truncated":
        big = big[: draw(st.integers(1, len(big) - 1))]
    elif how == "last byte changed":
        big = big[:-1] + b"!"
    stream = small + big + (small if how != "truncated" else b"")
    if how == "garbage after":
        stream += draw(st.binary(min_size=1, max_size=12))
    cuts = draw(st.lists(st.integers(0, len(stream)), max_size=8))
    cuts += [len(small) + k for k in draw(st.lists(st.integers(0, 12), max_size=5))]
    ops: list[Any] = []
    for chunk in split(stream, cuts):
        kind = draw(st.sampled_from(["feed", "buffer", "buffer-big"]))
        if kind == "feed":
            ops.append(Feed(chunk))
        elif kind == "buffer":
            ops.append(Buffer(chunk, len(chunk)))
        else:
            ops.append(Buffer(chunk, len(chunk) + draw(st.sampled_from([1, 4096, 2**20]))))
        if draw(st.integers(0, 9)) == 0:
            ops.append(draw(st.sampled_from([Eof(), Detach(), Misuse()])))
    return framer, ops


@compiled_only
@settings(max_examples=40)
@given(case=large_cases())
def test_twins_agree_on_large_frames(case: tuple[Any, list[Any]]) -> None:
    framer, ops = case
    lockstep(framer, ops, bound=16)


# -- encoding --------------------------------------------------------------------------


@compiled_only
@given(data=st.data())
def test_twins_encode_alike(data: st.DataObject) -> None:
    framer = data.draw(framers(), label="framer")
    items = data.draw(st.lists(payloads(framer), max_size=6), label="payloads")
    head = data.draw(st.one_of(heads(framer), st.binary(max_size=3)), label="head")
    kind = data.draw(st.sampled_from([bytes, bytearray, memoryview]))
    items = [kind(p) for p in items]
    for payload in items:
        assert encode_outcome(COMPILED, framer, "encode", payload, head) == encode_outcome(
            TWIN, framer, "encode", payload, head
        )
    assert encode_outcome(COMPILED, framer, "encode_many", items, head) == encode_outcome(
        TWIN, framer, "encode_many", items, head
    )
    # a generator is consumed alike (every payload is checked before any is encoded)
    assert encode_outcome(COMPILED, framer, "encode_many", iter(items), head) == encode_outcome(
        TWIN, framer, "encode_many", iter(items), head
    )


# -- on each implementation: the chunking never changes what is delivered ----------------------


@IMPL_SETTINGS
@given(data=st.data())
def test_any_split_gives_the_same_events(impl: Any, data: st.DataObject) -> None:
    framer = data.draw(framers(), label="framer")
    stream = data.draw(streams(framer), label="stream")
    whole = events(impl.decoder(framer), [Feed(stream)], bound=2 * len(stream) + 8)
    ops = data.draw(ops_for(stream), label="ops")
    assert events(impl.decoder(framer), ops, bound=2 * len(stream) + 8) == whole
    one_by_one = [Feed(stream[i : i + 1]) for i in range(len(stream))]
    assert events(impl.decoder(framer), one_by_one, bound=2 * len(stream) + 8) == whole
