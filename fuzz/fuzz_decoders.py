#!/usr/bin/env python3
"""Coverage-guided differential fuzzing of fastframe's decoders and encoders.

Every input is read as a *scenario*: a framer with its options, a byte stream made
of well-formed, oversize, truncated and garbage frames, and the calls that deliver
it (``feed`` or ``get_buffer``/``buffer_updated``, chunked anywhere, with an
occasional ``eof()``, ``detach()`` or API misuse in between), then ``eof()`` until
the decoder settles.  The scenario runs on the compiled core and on the
pure-Python twin; any difference in what a call returns or raises (type and
args), in ``buffered`` or in what ``detach()`` hands over is a finding, and so is
an exception that is not one the API documents.  On top of that the twin's run
is checked against the framing itself (DESIGN.md): frames never exceed
``max_size``; an error-free run's frames, re-encoded, are exactly the stream
bytes they came from; any chunking gives the events of one single ``feed``.
One input in eight fuzzes the encoders instead: both cores must give the same
bytes or the same exception, and what they emit must decode to the payload.
About one in five is a socket scenario: a stream (frames of one or more framers,
raw text) written chunk by chunk into one end of a socketpair, the other end a
non-blocking FramedSocket of each core (the compiled one on its object path for
a quarter of them), with receive calls after each chunk (recv, recv_many,
next, recv_exactly, recv_until, recv_until_eof, framer switches, detach; odd
arguments too), then the peer's shutdown and calls until the stream ends.  Each
call's result or exception, ``buffered`` and what ``detach()`` hands over must
agree; the twin's run is checked against docs/sockets.md (class Ledger).

Usage (libFuzzer flags pass through atheris)::

    mkdir /tmp/corpus && cp fuzz/corpus/*/* /tmp/corpus
    python fuzz/fuzz_decoders.py /tmp/corpus -max_total_time=60
    python fuzz/fuzz_decoders.py --show CRASH_FILE     # the scenario, then replay it

The corpus has two parts: ``fuzz/corpus/decoders``, the seeds ``fuzz/make_corpus.py``
writes, and ``fuzz/corpus/grown``, the inputs long runs found that reach what the
seeds do not.  Keep a long run's gains with libFuzzer's merge, which copies over
only inputs that add coverage::

    mkdir /tmp/merged && cp fuzz/corpus/*/* /tmp/merged
    python fuzz/fuzz_decoders.py -merge=1 /tmp/merged /tmp/corpus
    # then copy the files that are new in /tmp/merged into fuzz/corpus/grown

tests/test_fuzz.py replays the whole corpus, and (marked slow, with atheris) fuzzes
from a copy of it for FASTFRAME_FUZZ_SECONDS.

Only the twin's Python is instrumented for coverage; the compiled core is
exercised by the comparison.  Without atheris (or when imported, as the tests
do) ``one_input(data)`` replays any input: the bytes are read by ``Choices``
below, not by atheris, so a corpus file means the same scenario everywhere.
With ``FASTFRAME_PURE_PYTHON=1`` there is no compiled core to compare: only the
twin runs, with every invariant check.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

try:
    import atheris
except ImportError:  # replaying inputs needs no atheris
    atheris = None

# Instrument fastframe's Python (the twin, the framers) only when fuzzing: the
# tests import this module to replay the corpus and want the plain modules.
_instrumenting = atheris is not None and __name__ == "__main__"
with atheris.instrument_imports(include=["fastframe"]) if _instrumenting else contextlib.nullcontext():
    import fastframe as ff
    from fastframe import _messages, _purepython
    from fastframe._switch import pure_python_requested
    from fastframe.errors import ConnectionClosed, FrameTooLarge, IncompleteFrame, ProtocolError

if pure_python_requested():
    CORES: tuple[ModuleType, ...] = (_purepython,)
else:
    from fastframe import _speedups

    # the twin last: its run is the reference the compiled one is compared with
    CORES = (_speedups, _purepython)

DIFFERENTIAL = len(CORES) == 2


class Finding(AssertionError):
    """What the fuzzer reports: the cores disagree, or one breaks the contract."""


# -- reading choices off the input ---------------------------------------------------------


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


# -- framers --------------------------------------------------------------------------------

# limits where arithmetic changes: byte and field boundaries, LARGE_FRAME, 32/64 bits
EDGE_SIZES = (1, 2, 255, 256, 65535, 65536, 2**31 - 1, 2**32, ff.DEFAULT_MAX_SIZE, sys.maxsize)
EDGE_ADJUSTMENTS = (2**31, -(2**31), 2**32, 2**63 - 1, -(2**63 - 1))


def max_size(c: Choices) -> int:
    # mostly tiny, so that FrameTooLarge and the skip after it are reached
    return c.int(1, 24) if c.int(0, 3) else c.pick(EDGE_SIZES)


def make_framer(c: Choices) -> Any:
    kind = c.int(0, 5)
    if kind == 0:
        width = c.pick((1, 2, 4, 8))
        offset = c.int(0, 3)
        header = offset + width
        how = c.int(0, 3)
        if how <= 1:
            adjustment = c.int(-6, 6)
        elif how == 2:
            adjustment = c.pick((-header, -width, -header - 1, header))  # PostgreSQL-like and off by one
        else:
            adjustment = c.pick(EDGE_ADJUSTMENTS)
        strip = None if c.bool() else c.int(0, header)
        return ff.LengthPrefixed(
            width,
            byteorder=c.pick(("big", "little")),
            offset=offset,
            adjustment=adjustment,
            strip=strip,
            max_size=max_size(c),
        )
    if kind == 1:
        n = c.int(1, 3)
        how = c.int(0, 2)
        if how == 0:
            delimiter = c.text(b"ab\r\n\x00", n)
        elif how == 1:  # periodic: a frame's tail can overlap the delimiter's start
            delimiter = c.text(b"ab\n", 1) * n
        else:
            delimiter = c.bytes(n)
        return ff.Delimited(delimiter, max_size=max_size(c), keep=c.bool())
    if kind == 2:
        return ff.Lines(max_size=max_size(c))
    if kind == 3:
        return ff.FixedSize(c.int(1, 16) if c.int(0, 7) else c.pick((255, 256, 65535, 65536)))
    if kind == 4:
        return ff.Netstring(max_size=max_size(c))
    return ff.VarintPrefixed(max_size=max_size(c))


def delimiter_of(framer: Any) -> bytes:
    return b"\n" if isinstance(framer, ff.Lines) else framer.delimiter


def alphabet_of(framer: Any) -> bytes:
    """Bytes that make garbage interesting for this framing."""
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        return bytes(sorted(set(delimiter_of(framer) + b"x\r")))
    if isinstance(framer, ff.Netstring):
        return b"0123456789:,x"
    if isinstance(framer, ff.VarintPrefixed):
        return b"\x00\x01\x02\x7f\x80\x81\xff"
    return b"\x00\x01\x02\x7f\x80\xff"


# -- the wire, built from DESIGN.md (never by the encoders under test) ------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def lp_field(framer: ff.LengthPrefixed, body: int) -> bytes:
    """The length field announcing ``body`` bytes, clamped into what the field holds."""
    value = min(max(body - framer.adjustment, 0), 256**framer.width - 1)
    return value.to_bytes(framer.width, framer.byteorder)


def wire_frame(c: Choices, framer: Any, payload: bytes) -> bytes:
    """``payload`` framed the way a well-behaved peer would."""
    n = len(payload)
    if isinstance(framer, ff.LengthPrefixed):
        return c.bytes(framer.offset) + lp_field(framer, n) + payload
    if isinstance(framer, ff.Lines):
        return payload + c.pick((b"\n", b"\r\n"))
    if isinstance(framer, ff.Delimited):
        return payload + framer.delimiter
    if isinstance(framer, ff.FixedSize):
        return payload
    if isinstance(framer, ff.Netstring):
        return b"%d:%s," % (n, payload)
    head = varint(n)
    if c.one_in(4):  # non-minimal, still valid up to ten bytes
        head = bytes(b | 0x80 for b in head) + b"\x80" * c.int(0, 8) + b"\x00"
    return head + payload


def oversize_frame(c: Choices, framer: Any) -> bytes:
    """A frame announcing more than max_size, with only some of its body when that is big."""
    extra = c.int(1, 16)
    size = framer.max_size + extra
    body = min(size, c.int(0, 40)) if size > 4096 else size
    if isinstance(framer, ff.LengthPrefixed):
        announced = size - (framer.offset + framer.width - framer.strip)
        return c.bytes(framer.offset) + lp_field(framer, announced) + c.text(b"xy", body)
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        return b"x" * min(size, 4096 + extra) + delimiter_of(framer)
    if isinstance(framer, ff.Netstring):
        return b"%d:" % size + b"x" * body + (b"," if body == size else b"")
    if isinstance(framer, ff.VarintPrefixed):
        return varint(size) + b"x" * body
    return c.bytes(framer.size)


def payload(c: Choices, framer: Any, longest: int = 24) -> bytes:
    if isinstance(framer, ff.FixedSize):
        return c.bytes(framer.size)
    if c.one_in(64):  # beyond LARGE_FRAME: the compiled core fills such frames in place
        return b"L" * c.pick((65535, 65536, 65537, 70000))
    n = c.int(0, longest)
    if isinstance(framer, (ff.Delimited, ff.Lines)) or c.bool():
        return c.text(alphabet_of(framer) + b"x", n)
    return c.bytes(n)


def make_stream(c: Choices, framer: Any) -> bytes:
    parts = []
    for _ in range(c.int(0, 8)):
        kind = c.int(0, 7)
        if kind <= 3:
            parts.append(wire_frame(c, framer, payload(c, framer)))
        elif kind == 4:
            parts.append(oversize_frame(c, framer))
        elif kind == 5:  # cut short: truncated at the end of the stream, misread inside it
            whole = wire_frame(c, framer, payload(c, framer))
            parts.append(whole[: c.int(0, len(whole))])
        elif kind == 6:
            parts.append(c.text(alphabet_of(framer), c.int(0, 16)))
        else:
            parts.append(c.bytes(c.int(0, 16)))
    return b"".join(parts)


# -- calls -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One call on a decoder.

    kind: "feed" (data as ``as_type``), "buffer" (get_buffer(sizehint), data written
    at the view's start and junk after it, buffer_updated(len(data))), "eof",
    "detach", "unasked" (buffer_updated without get_buffer) or "overrun"
    (buffer_updated(nbytes) outside the view just handed out).
    """

    kind: str
    data: bytes = b""
    as_type: type = bytes
    sizehint: int = -1
    nbytes: int = 0

    def __repr__(self) -> str:
        data = short(self.data)
        if self.kind == "feed":
            return f"feed({self.as_type.__name__}({data}))"
        if self.kind == "buffer":
            return f"get_buffer({self.sizehint}) <- {data}; buffer_updated({len(self.data)})"
        if self.kind == "overrun":
            return f"get_buffer({self.sizehint}); buffer_updated({'len(view) + 1' if self.nbytes > 0 else -1})"
        if self.kind == "unasked":
            return "buffer_updated(1) (no get_buffer before it)"
        return f"{self.kind}()"


DATA_CALLS = ("feed", "buffer")
MISUSE = ("unasked", "overrun")


def make_calls(c: Choices, stream: bytes) -> list[Call]:
    calls: list[Call] = []
    pos = 0
    while pos < len(stream) or (not calls and c.one_in(4)):
        left = len(stream) - pos
        how = c.int(0, 7)
        if c.spent or how == 0:
            n = left
        elif how == 1:
            n = min(1, left)
        else:
            n = c.int(0, left)
        chunk = stream[pos : pos + n]
        pos += n
        api = c.int(0, 3)
        if api <= 1:
            calls.append(Call("feed", chunk, as_type=c.pick((bytes, bytearray, memoryview))))
        else:
            # the view must hold the chunk in one go, so both cores see one call
            hints = (n, n + c.int(1, 100), n + 65536) if n > 1 else (-1, 0, 1, n + 3)
            calls.append(Call("buffer", chunk, sizehint=c.pick(hints)))
        extra = c.int(0, 15)
        if extra == 0:
            calls.append(Call("eof"))
        elif extra == 1:
            calls.append(Call("detach"))
        elif extra == 2:
            calls.append(Call("unasked"))
        elif extra == 3:
            # nbytes: -1, or (when positive) one more than the view just handed out
            calls.append(Call("overrun", sizehint=c.pick((-1, 0, 5, 70000)), nbytes=c.pick((-1, 1))))
    return calls


# -- running a scenario ------------------------------------------------------------------------

FASTFRAME_ERRORS = (FrameTooLarge, ProtocolError, IncompleteFrame)
# what each call may raise; anything else is a finding even when both cores agree
ALLOWED = {
    "feed": FASTFRAME_ERRORS,
    "buffer": FASTFRAME_ERRORS,
    "eof": FASTFRAME_ERRORS,
    "detach": (),
    "unasked": (RuntimeError, *FASTFRAME_ERRORS),
    "overrun": (ValueError, *FASTFRAME_ERRORS),
}


def outcome_of(dec: Any, call: Call) -> tuple:
    """("frames", [...]), ("detached", bytes) or ("error", type, args)."""
    try:
        if call.kind == "feed":
            result = dec.feed(call.as_type(call.data))
        elif call.kind == "buffer":
            view = dec.get_buffer(call.sizehint)
            n = len(call.data)
            if view.readonly or len(view) < max(call.sizehint, n, 1):
                return ("bad view", view.readonly, len(view))
            view[:n] = call.data
            junk = min(len(view) - n, 3)  # must not become part of the stream
            view[n : n + junk] = b"\xee" * junk
            view.release()
            result = dec.buffer_updated(n)
        elif call.kind == "eof":
            result = dec.eof()
        elif call.kind == "detach":
            held = dec.detach()
            return ("detached", held) if type(held) is bytes else ("not bytes", type(held))
        elif call.kind == "unasked":
            result = dec.buffer_updated(1)
        else:
            view = dec.get_buffer(call.sizehint)
            window = len(view)
            view.release()
            nbytes = window + 1 if call.nbytes > 0 else -1
            try:
                result = dec.buffer_updated(nbytes)
            except ValueError as exc:
                # the view's size is each core's own business (the contract says
                # ">= sizehint"), so the message is checked against it here, not compared
                if exc.args == _messages.nbytes_out_of_range(window, nbytes).args:
                    return ("error", ValueError, ("nbytes out of range",))
                raise
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return ("error", type(exc), exc.args)
    if type(result) is not list or any(type(frame) is not bytes for frame in result):
        return ("not a list of bytes", repr(result)[:200])
    return ("frames", result)


def settled(outcome: tuple) -> bool:
    """eof() has nothing more to say: [] or an error that stays."""
    return outcome == ("frames", []) or (outcome[0] == "error" and outcome[1] in (ProtocolError, IncompleteFrame))


@dataclass
class Step:
    call: Call
    outcome: tuple
    buffered: int


def run(core: ModuleType, framer: Any, calls: Sequence[Call]) -> list[Step]:
    """Every call, then eof() until it settles (each pending error is raised once,
    so the number of eof() calls needed is bounded by the frames in the stream)."""
    dec = framer._codec_in(core).decoder()
    steps = [Step(call, outcome_of(dec, call), dec.buffered) for call in calls]
    bound = sum(len(call.data) for call in calls) + 8
    for _ in range(bound):
        steps.append(Step(Call("eof"), outcome_of(dec, Call("eof")), dec.buffered))
        if settled(steps[-1].outcome):
            return steps
    raise Finding(f"{core.IMPLEMENTATION}: eof() still not settled after {bound} calls: {steps[-3:]}")


def show(outcome: tuple) -> str:
    if outcome[0] == "error":
        return f"raised {outcome[1].__name__}{outcome[2]!r}"[:600]
    return repr(outcome)[:600]


def trail(steps: Sequence[Any], i: int) -> str:
    """The calls up to step i (of a decoder or a socket scenario), that one marked."""
    lines = ["calls:"]
    for k, step in enumerate(steps[: i + 1]):
        mark = ">>" if k == i else "  "
        lines.append(f" {mark} {k}: {step.call!r} -> {show(step.outcome)}; buffered={step.buffered}")
    return "\n".join(lines)


def disagreement(compiled: Any, twin: Any) -> str:
    """How the cores' steps differ ("" when they agree)."""
    if compiled.outcome == twin.outcome and compiled.buffered == twin.buffered:
        return ""
    return (
        f"compiled: {show(compiled.outcome)}; buffered={compiled.buffered}\n"
        f"twin:     {show(twin.outcome)}; buffered={twin.buffered}"
    )


def where(framer: Any, stream: bytes, steps: Sequence[Step], i: int) -> str:
    return f"framer: {framer!r}\nstream ({len(stream)} bytes): {stream[:300]!r}\n{trail(steps, i)}"


def compare(framer: Any, stream: bytes, compiled: list[Step], twin: list[Step]) -> None:
    for i, (a, b) in enumerate(zip(compiled, twin)):
        differ = disagreement(a, b)
        if differ:
            raise Finding(f"the cores disagree at call {i}\n{where(framer, stream, twin, i)}\n{differ}")
    if len(compiled) != len(twin):
        raise Finding(
            f"eof() settles after {len(compiled)} calls on the compiled core, {len(twin)} on the twin\n"
            f"{where(framer, stream, twin, len(twin) - 1)}"
        )


def check_steps(framer: Any, stream: bytes, steps: list[Step]) -> None:
    """What holds for any run: documented exception types, frames within max_size,
    FrameTooLarge and IncompleteFrame carrying what DESIGN.md says."""
    for i, step in enumerate(steps):
        kind, *rest = step.outcome
        problem = None
        if kind == "frames":
            sizes = [len(frame) for frame in rest[0]]
            if isinstance(framer, ff.FixedSize) and any(n != framer.size for n in sizes):
                problem = f"a frame that is not {framer.size} bytes"
            elif any(n > framer.max_size for n in sizes):
                problem = f"a frame over max_size={framer.max_size}"
        elif kind == "error":
            etype, args = rest
            if etype not in ALLOWED[step.call.kind]:  # exact types: a subclass is news too
                problem = f"{step.call.kind} may not raise {etype.__name__}"
            elif etype is FrameTooLarge and not (args[1] == framer.max_size < args[0]):
                problem = f"FrameTooLarge{args} for max_size={framer.max_size}"
            elif etype is IncompleteFrame and not (
                args[0] and type(args[0]) is bytes and (args[1] is None or args[1] > len(args[0]))
            ):
                problem = "IncompleteFrame with empty partial or expected not beyond it"
        elif kind != "detached":
            problem = f"returned {rest}"
        if problem:
            raise Finding(f"{problem}\n{where(framer, stream, steps, i)}")


def flat_events(steps: list[Step]) -> list[tuple]:
    """Frames one by one and errors, as the application sees them; stops at the first
    ProtocolError (it only repeats after that) and at IncompleteFrame."""
    out: list[tuple] = []
    for step in steps:
        if step.outcome[0] == "frames":
            out += [("frame", frame) for frame in step.outcome[1]]
            continue
        out.append(step.outcome)
        if step.outcome[1] in (ProtocolError, IncompleteFrame):
            break
    return out


# -- re-encoding: an error-free run's frames are exactly the stream's bytes -------------------


def wire_at(core: ModuleType, framer: Any, stream: bytes, pos: int, frame: bytes) -> int:
    """The size of the wire frame at ``stream[pos:]`` that decoded to ``frame``.

    Checks it against the framing rules and against the core's own encoder
    (which must produce those very bytes wherever it accepts the frame)."""
    codec = framer._codec_in(core)
    if isinstance(framer, ff.LengthPrefixed):
        header = framer.offset + framer.width
        wire = stream[pos : pos + framer.strip] + frame
        field = wire[framer.offset : header]
        body = int.from_bytes(field, framer.byteorder) + framer.adjustment if len(field) == framer.width else None
        if body != len(wire) - header:
            raise Finding(f"{len(wire)}-byte wire frame, {body}-byte body announced")
        expect_same(stream, pos, wire, codec.encode(wire[header:], wire[: framer.offset]))
        return len(wire)
    if isinstance(framer, ff.Lines):
        end = stream.find(b"\n", pos)
        line = stream[pos:end] if end >= 0 else b"<no line end>"
        if frame != (line[:-1] if line.endswith(b"\r") else line):
            raise Finding(f"line {line!r} gave frame {frame!r}")
        if not frame.endswith(b"\r"):  # the encoder refuses those: the decoder would strip them
            expect_same(stream, pos, frame + b"\n", codec.encode(frame), optional_cr=True)
        return len(line) + 1
    if isinstance(framer, ff.Delimited):
        d = framer.delimiter
        if framer.keep and not frame.endswith(d):
            raise Finding(f"keep=True frame {frame!r} does not end with the delimiter")
        body = frame[: -len(d)] if framer.keep else frame
        if (body + d).find(d) != len(body):
            raise Finding(f"frame {frame!r} holds an earlier delimiter")
        return expect_same(stream, pos, body + d, codec.encode(body))
    if isinstance(framer, ff.FixedSize):
        return expect_same(stream, pos, frame, codec.encode(frame))
    if isinstance(framer, ff.Netstring):
        return expect_same(stream, pos, b"%d:%s," % (len(frame), frame), codec.encode(frame))
    value, size = 0, 0
    while True:  # a varint may be non-minimal on the wire; the encoder writes the minimal one
        byte = stream[pos + size] if pos + size < len(stream) else 0
        value |= (byte & 0x7F) << (7 * size)
        size += 1
        if byte < 0x80 or size == 10:
            break
    if value != len(frame) or stream[pos + size : pos + size + value] != frame:
        raise Finding(f"varint {stream[pos : pos + size]!r} then {frame!r}")
    encoded = codec.encode(frame)
    if size == len(varint(value)):
        expect_same(stream, pos, stream[pos : pos + size] + frame, encoded)
    elif encoded != varint(value) + frame:
        raise Finding(f"encode({frame!r}) gave {encoded!r}")
    return size + value


def expect_same(stream: bytes, pos: int, wire: bytes, encoded: bytes, optional_cr: bool = False) -> int:
    """``wire`` is at stream[pos:] and the encoder made it (Lines: up to one b"\\r")."""
    if optional_cr and stream.startswith(wire[:-1] + b"\r\n", pos):
        wire = wire[:-1] + b"\r\n"
        encoded = encoded[:-1] + b"\r\n"
    if not stream.startswith(wire, pos):
        raise Finding(f"frame's wire bytes {wire!r} are not at stream[{pos}:]: {stream[pos : pos + 60]!r}")
    if encoded != wire:
        raise Finding(f"encoder gives {encoded!r} for wire bytes {wire!r}")
    return len(wire)


def check_round_trip(core: ModuleType, framer: Any, stream: bytes, steps: list[Step]) -> None:
    """For a run of data calls with no error but IncompleteFrame at the end: the frames are
    the stream's bytes cut in order, what is left is buffered and is what
    IncompleteFrame carries."""
    pos = 0
    frames = [frame for step in steps if step.outcome[0] == "frames" for frame in step.outcome[1]]
    for k, frame in enumerate(frames):
        try:
            pos += wire_at(core, framer, stream, pos, frame)
        except Finding as finding:
            context = where(framer, stream, steps, len(steps) - 1)
            raise Finding(f"{core.IMPLEMENTATION}: frame {k}: {finding}\n{context}") from None
    left = stream[pos:]
    last = steps[-1].outcome
    data_steps = [step for step in steps if step.call.kind in DATA_CALLS]
    held = data_steps[-1].buffered if data_steps else 0
    problem = None
    if held != len(left):
        problem = f"buffered={held} with {len(left)} bytes left after the last frame"
    elif left and not (last[0] == "error" and last[1] is IncompleteFrame and last[2][0] == left):
        problem = f"eof() with {left!r} held"
    elif not left and last != ("frames", []):
        problem = "eof() with nothing held"
    if problem:
        raise Finding(f"{core.IMPLEMENTATION}: {problem}\n{where(framer, stream, steps, len(steps) - 1)}")


def decoder_setup(c: Choices) -> tuple[Any, bytes, list[Call]]:
    """The framer, the stream and the calls that deliver it, read off ``c``."""
    framer = make_framer(c)
    stream = make_stream(c, framer)
    return framer, stream, make_calls(c, stream)


def decoder_scenario(c: Choices) -> None:
    framer, stream, calls = decoder_setup(c)
    runs = [run(core, framer, calls) for core in CORES]
    twin = runs[-1]
    if DIFFERENTIAL:
        compare(framer, stream, runs[0], twin)
    check_steps(framer, stream, twin)
    if any(call.kind not in DATA_CALLS for call in calls):
        return  # eof/detach/misuse mid-stream: the stream is no longer one stream
    for core in CORES:
        whole = run(core, framer, [Call("feed", stream)])
        if flat_events(twin) != flat_events(whole):
            raise Finding(
                f"{core.IMPLEMENTATION}: one feed of the whole stream gives other events than these calls\n"
                f"{where(framer, stream, twin, len(twin) - 1)}\n"
                f"one feed: {[show(e) if e[0] == 'error' else e for e in flat_events(whole)]!r}"[:4000]
            )
    errors = [step.outcome[1] for step in twin if step.outcome[0] == "error"]
    if errors in ([], [IncompleteFrame]):
        for core in CORES:
            check_round_trip(core, framer, stream, twin)


# -- encoders ----------------------------------------------------------------------------------


def encoded(core: ModuleType, framer: Any, method: str, arg: Any, head: Any) -> tuple:
    codec = framer._codec_in(core)
    try:
        if isinstance(framer, ff.LengthPrefixed):
            return ("ok", getattr(codec, method)(arg, head))
        return ("ok", getattr(codec, method)(arg))
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return ("error", type(exc), exc.args)


def frame_of(framer: Any, body: bytes, wire: bytes) -> bytes:
    """The frame a decoder must return for ``wire``, the encoding of ``body``."""
    if isinstance(framer, ff.LengthPrefixed):
        return wire[framer.strip :]
    if isinstance(framer, ff.Delimited) and framer.keep:
        return body + framer.delimiter
    return body


def encoder_scenario(c: Choices) -> None:
    framer = make_framer(c)
    offset = getattr(framer, "offset", 0)
    head = c.bytes(offset if c.int(0, 7) else c.int(0, 4))
    bodies = []
    for _ in range(c.int(0, 4)):
        if c.one_in(4):  # right at and just over the limits
            n = c.pick((framer.max_size, framer.max_size + 1, 255, 256, 65535, 65536))
            bodies.append(b"x" * min(n, 70000))
        else:
            bodies.append(payload(c, framer))
    as_type = c.pick((bytes, bytearray, memoryview))
    what = f"{framer!r}, head={head!r}, payloads of {[len(b) for b in bodies]} bytes as {as_type.__name__}"
    singles = []
    for body in bodies:
        results = [encoded(core, framer, "encode", as_type(body), as_type(head)) for core in CORES]
        if results[0] != results[-1]:
            raise Finding(
                f"encode({body[:60]!r}) differs: {what}\ncompiled: {results[0]!r}\ntwin: {results[-1]!r}"[:4000]
            )
        result = results[-1]
        if result[0] == "error" and result[1] not in (ValueError, FrameTooLarge):
            raise Finding(f"encode({body[:60]!r}) raised {result[1].__name__}{result[2]}: {what}")
        if result[0] == "ok":
            dec = framer._codec_in(_purepython).decoder()
            got = (outcome_of(dec, Call("feed", result[1])), outcome_of(dec, Call("eof")))
            want = (("frames", [frame_of(framer, body, result[1])]), ("frames", []))
            if got != want:
                raise Finding(f"encode({body[:60]!r}) = {result[1][:80]!r} decodes as {got!r}: {what}"[:4000])
        singles.append(result)
    for make in (list, iter):
        results = [encoded(core, framer, "encode_many", make([as_type(b) for b in bodies]), head) for core in CORES]
        if results[0] != results[-1]:
            raise Finding(f"encode_many differs: {what}\ncompiled: {results[0]!r}\ntwin: {results[-1]!r}"[:4000])
        failed = [s for s in singles if s[0] == "error"]
        # all payloads checked before any is encoded: the first bad one's error, else the concatenation
        want = failed[0] if failed else ("ok", b"".join(s[1] for s in singles))
        if not bodies and isinstance(framer, ff.LengthPrefixed) and len(head) != offset:
            continue  # no payload to encode: whether a bad head alone is refused is not specified
        if results[-1] != want:
            raise Finding(f"encode_many gives {results[-1]!r:.300}, the encode calls {want!r:.300}: {what}")


# -- sockets -----------------------------------------------------------------------------------

# The whole stream fits in the socket's buffer, so the peer never waits for the reader
# (AF_UNIX socketpair buffers hold ~200 KiB here; 64 KiB is portable).  The peer is
# non-blocking all the same: poll() calls an AF_UNIX socket writable only while its
# buffer is under a quarter full, so a sendall() with a timeout would wait.
STREAM_LIMIT = 60 * 1024
MAX_WRITES = 32  # each write is one buffer in the kernel, with its own overhead
# arguments the calls refuse (ValueError, TypeError), and ints past a C Py_ssize_t
REFUSED_COUNTS = (-1, 2**63, 2.0, "3")
REFUSED_SIZES = (0, -1, 2**63, "8")
REFUSED_FRAME_COUNTS = (0, -1, 2**63, 2.0)
RAW_TEXT = b"ab\r\n\x00:,0123456789x"  # delimiters, netstring headers and filler


@dataclass(frozen=True)
class SockCall:
    """One step of a socket scenario.

    method: "write" (the peer sends args[0]), "shutdown" (the peer's SHUT_WR), "rest"
    (what the socket still holds after a detach(), read up to the end), or a
    FramedSocket call: a method name, "next" (next(fs)) or "framer" (fs.framer =
    args[0]).  recv_until's delimiter, when bytes, is passed as ``as_type``.
    """

    method: str
    args: tuple = ()
    kwargs: tuple = ()  # (name, value) pairs: a frozen dataclass holds no dict
    as_type: type = bytes

    def arguments(self) -> tuple[tuple, dict[str, Any]]:
        args = self.args
        if self.method == "recv_until" and isinstance(args[0], bytes):
            args = (self.as_type(args[0]),)
        return args, dict(self.kwargs)

    def __repr__(self) -> str:
        if self.method == "write":
            return f"peer.sendall({short(self.args[0])})"
        if self.method == "shutdown":
            return "peer.shutdown(SHUT_WR)"
        if self.method == "rest":
            return "the detached socket read up to the end"
        if self.method == "next":
            return "next(fs)"
        if self.method == "framer":
            return f"fs.framer = {self.args[0]!r}"
        shown = [f"{self.as_type.__name__}({a!r})" if isinstance(a, bytes) else repr(a) for a in self.args]
        shown += [f"{name}={value!r}" for name, value in self.kwargs]
        return f"fs.{self.method}({', '.join(shown)})"


@dataclass
class SocketScenario:
    framer: Any  # the FramedSocket's framer at the start
    stream: bytes
    calls: list[SockCall]  # the peer's writes with calls after each, its shutdown, more calls
    ending: str  # "detach" or "close", once the calls after the shutdown have run out the stream
    object_path: bool  # the compiled core calls the socket's methods instead of using its descriptor

    def __repr__(self) -> str:
        path = "object path" if self.object_path else "descriptor path"
        return f"framer: {self.framer!r}; {path}\nstream ({len(self.stream)} bytes): {short(self.stream, 300)}"


def short(data: bytes, most: int = 40) -> str:
    return repr(data) if len(data) <= most else f"<{len(data)} bytes {data[:most]!r}...>"


def count_arg(c: Choices) -> Any:
    how = c.int(0, 7)
    if how <= 4:
        return c.int(0, 8)
    if how == 5:
        return c.int(9, 300)
    if how == 6:  # past the stream's end; a compiled core fills 64 KiB and more in place
        return c.pick(EDGE_SIZES)
    return c.pick(REFUSED_COUNTS)


def limit_kwarg(c: Choices) -> tuple:
    """The max_size= of a raw read: left out (16 MiB), mostly tiny, at times refused."""
    how = c.int(0, 7)
    if how == 0:
        return ()
    if how <= 5:
        return (("max_size", c.int(1, 24)),)
    return (("max_size", c.pick(EDGE_SIZES if how == 6 else REFUSED_SIZES)),)


def max_frames_arg(c: Choices) -> tuple:
    how = c.int(0, 7)
    if how <= 3:
        return ()
    if how <= 5:
        return (c.int(1, 3),)
    return (c.pick(REFUSED_FRAME_COUNTS),)


def until_delimiter(c: Choices, stream: bytes, framers: Sequence[Any]) -> Any:
    n = c.int(1, 3)
    how = c.int(0, 7)
    if how <= 2 and len(stream) >= n:  # bytes the stream holds somewhere
        at = c.int(0, len(stream) - n)
        return stream[at : at + n]
    if how == 3:
        delimiters = [delimiter_of(f) for f in framers if isinstance(f, (ff.Delimited, ff.Lines))]
        return c.pick(delimiters or [b"\n"])
    if how == 4:
        return c.bytes(n)
    if how == 5:
        return c.pick((b"", "\n"))  # refused: empty, not bytes
    return c.text(RAW_TEXT, n)


def switch_target(c: Choices, framers: Sequence[Any]) -> Any:
    how = c.int(0, 7)
    if how <= 4:  # one whose frames are in the stream (or the one in force: no switch)
        return c.pick(framers)
    if how <= 6:
        return make_framer(c)
    return c.pick((None, b"\n"))  # not a framer: TypeError


def socket_call(c: Choices, stream: bytes, framers: Sequence[Any]) -> SockCall:
    kind = c.int(0, 31)
    if kind < 8:
        return SockCall("recv_many", max_frames_arg(c))
    if kind < 13:
        return SockCall("recv")
    if kind < 15:
        return SockCall("next")
    if kind < 20:
        return SockCall("recv_exactly", (count_arg(c),))
    if kind < 25:
        delimiter = until_delimiter(c, stream, framers)
        kwargs = (("keep", c.bool()), *limit_kwarg(c))
        return SockCall("recv_until", (delimiter,), kwargs, as_type=c.pick((bytes, bytearray, memoryview)))
    if kind < 27:
        return SockCall("recv_until_eof", (), limit_kwarg(c))
    if kind < 31:
        return SockCall("framer", (switch_target(c, framers),))
    return SockCall("detach")


def socket_stream(c: Choices, framer: Any) -> tuple[bytes, list[Any]]:
    """Parts framed for the first framer or for others, and raw text; those framers."""
    framers = [framer]
    parts = []
    for _ in range(c.int(1, 3)):
        how = c.int(0, 3)
        if how == 3:
            parts.append(c.text(RAW_TEXT, c.int(0, 32)))
            continue
        if how == 2:
            framers.append(make_framer(c))
        parts.append(make_stream(c, framers[-1]))
    return b"".join(parts)[:STREAM_LIMIT], framers


def socket_calls(c: Choices, stream: bytes, framers: Sequence[Any]) -> list[SockCall]:
    calls = [socket_call(c, stream, framers) for _ in range(c.int(0, 2))]
    pos = 0
    for writes in range(1, MAX_WRITES + 1):
        if pos >= len(stream):
            break
        left = len(stream) - pos
        how = c.int(0, 7)
        n = left if c.spent or how == 0 or writes == MAX_WRITES else 1 if how == 1 else c.int(1, left)
        calls.append(SockCall("write", (stream[pos : pos + n],)))
        pos += n
        calls += [socket_call(c, stream, framers) for _ in range(c.int(0, 4))]
    calls.append(SockCall("shutdown"))
    return calls + [socket_call(c, stream, framers) for _ in range(c.int(0, 8))]


def socket_setup(c: Choices) -> SocketScenario:
    framer = make_framer(c)
    stream, framers = socket_stream(c, framer)
    object_path = c.one_in(4)
    calls = socket_calls(c, stream, framers)
    return SocketScenario(framer, stream, calls, c.pick(("detach", "close")), object_path)


@dataclass
class SockStep:
    call: SockCall
    outcome: tuple
    buffered: int


def framed_socket(core: ModuleType, sock: socket.socket, framer: Any, object_path: bool) -> Any:
    if not object_path or core is _purepython:
        return core.FramedSocket(sock, framer)
    core._use_fd_path(False)
    try:
        return core.FramedSocket(sock, framer)
    finally:
        core._use_fd_path(True)  # the platform's default


def socket_outcome(fs: Any, peer: socket.socket, reader: socket.socket, call: SockCall) -> tuple:
    """("returned", value), ("detached", whether it is the socket given, held bytes),
    ("error", type, args), or what a step that is not a call gives."""
    if call.method == "write":
        peer.sendall(call.args[0])
        return ("written",)
    if call.method == "shutdown":
        peer.shutdown(socket.SHUT_WR)
        return ("shut",)
    if call.method == "rest":
        return ("rest", read_to_end(reader))
    try:
        if call.method == "next":
            result = next(fs)
        elif call.method == "framer":
            fs.framer = call.args[0]
            return ("switched",)
        elif call.method == "close":
            fs.close()
            return ("closed",)
        elif call.method == "detach":
            sock, held = fs.detach()
            return ("detached", sock is reader, held) if type(held) is bytes else ("not bytes", type(held))
        else:
            args, kwargs = call.arguments()
            result = getattr(fs, call.method)(*args, **kwargs)
    except StopIteration:
        return ("stopped",)
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return ("error", type(exc), exc.args)
    frames = result if call.method == "recv_many" and type(result) is list else [result]
    if any(type(frame) is not bytes for frame in frames):
        return ("not bytes", repr(result)[:200])
    return ("returned", result)


def read_to_end(sock: socket.socket) -> bytes:
    """What a non-blocking socket holds, up to the peer's shutdown (already there)."""
    chunks = []
    while chunk := sock.recv(STREAM_LIMIT):
        chunks.append(chunk)
    return b"".join(chunks)


def ended(outcome: tuple) -> bool:
    """The stream has nothing more for recv_many(): it ended, it is broken, or the
    FramedSocket is closed."""
    return outcome[0] == "error" and outcome[1] in (ConnectionClosed, IncompleteFrame, ProtocolError, OSError)


def run_socket(core: ModuleType, sc: SocketScenario) -> list[SockStep]:
    """The scenario's calls, then recv_many() until the stream has ended, then its
    ending (and, after a detach(), what the socket still held)."""
    peer, reader = socket.socketpair()
    fs = None
    try:
        peer.settimeout(0)
        reader.settimeout(0)
        fs = framed_socket(core, reader, sc.framer, sc.object_path)

        def step(call: SockCall) -> SockStep:
            return SockStep(call, socket_outcome(fs, peer, reader, call), fs.buffered)

        steps = [step(call) for call in sc.calls]
        bound = len(sc.stream) + 8  # each recv_many() returns a frame or raises
        while not ended(steps[-1].outcome):
            if bound == 0:
                raise Finding(f"{core.IMPLEMENTATION}: the stream does not end\n{socket_where(sc, steps, -1)}")
            bound -= 1
            steps.append(step(SockCall("recv_many")))
        steps.append(step(SockCall(sc.ending)))
        if any(s.outcome[0] == "detached" for s in steps):
            steps.append(step(SockCall("rest")))
        return steps
    finally:
        if fs is not None:
            fs.close()
        reader.close()
        peer.close()


def socket_where(sc: SocketScenario, steps: Sequence[SockStep], i: int) -> str:
    return f"{sc!r}\n{trail(steps, i % len(steps))}"


def compare_sockets(sc: SocketScenario, compiled: list[SockStep], twin: list[SockStep]) -> None:
    for i, (a, b) in enumerate(zip(compiled, twin)):
        differ = disagreement(a, b)
        if differ:
            raise Finding(f"the cores' FramedSockets disagree at step {i}\n{socket_where(sc, twin, i)}\n{differ}")
    if len(compiled) != len(twin):
        raise Finding(
            f"{len(compiled)} steps on the compiled core, {len(twin)} on the twin\n{socket_where(sc, twin, -1)}"
        )


RECEIVE_ERRORS = (BlockingIOError, ConnectionClosed, IncompleteFrame, FrameTooLarge, ProtocolError)
ARGUMENT_ERRORS = (ValueError, TypeError)
# what each call may raise; once the FramedSocket is detached or closed, OSError (EBADF)
SOCKET_ALLOWED = {
    "recv": RECEIVE_ERRORS,
    "next": (BlockingIOError, IncompleteFrame, FrameTooLarge, ProtocolError),  # ConnectionClosed ends it
    "recv_many": (ConnectionClosed, IncompleteFrame, FrameTooLarge, ProtocolError, *ARGUMENT_ERRORS),
    "recv_exactly": RECEIVE_ERRORS + ARGUMENT_ERRORS,
    "recv_until": RECEIVE_ERRORS + ARGUMENT_ERRORS,
    "recv_until_eof": RECEIVE_ERRORS + ARGUMENT_ERRORS,
    "framer": (TypeError,),
    "detach": (),
    "close": (),
}
FRAME_CALLS = ("recv", "next", "recv_many")


class Ledger:
    """What the twin's run must add up to, step by step (DESIGN.md, docs/sockets.md).

    Always: documented exceptions only; frames within the max_size of the framer in
    force; raw reads return what they promise; no call waits for more once the peer
    has shut down.  And until the first FrameTooLarge or ProtocolError (bytes are
    skipped or held back after those): every byte of the stream has been returned
    (a frame as its wire bytes), is buffered or is still in the socket; a call that
    found nothing complete has received all that was written.
    """

    def __init__(self, sc: SocketScenario) -> None:
        self.stream = sc.stream
        self.framer = sc.framer
        self.limits = {sc.framer.max_size}  # every max_size in play: a pending error may be an old one's
        self.pos = 0  # the stream's bytes returned so far
        self.written = 0
        self.shut = False
        self.closed = False
        self.exact = True  # no byte skipped or held back by an error yet
        # recv_many() returned frames: the error after them, if any, comes with the
        # next receiving call (and is lost by a detach() or close() before it)
        self.pending = False
        self.held = b""  # what detach() handed over

    def problem(self, step: SockStep) -> str | None:
        call, (kind, *rest) = step.call, step.outcome
        if call.method in ("recv_until", "recv_until_eof"):
            limit = dict(call.kwargs).get("max_size", ff.DEFAULT_MAX_SIZE)
            if type(limit) is int:
                self.limits.add(limit)
        if call.method in ("detach", "close") and self.pending:
            self.exact = False
        if self.received(step):
            self.pending = kind == "returned" and call.method == "recv_many" and bool(rest[0])
        if call.method == "write":
            self.written += len(call.args[0])
        elif call.method == "shutdown":
            self.shut = True
        elif call.method == "rest":
            return self.after_detach(rest[0])
        elif kind == "error":
            return self.raised(call, rest[0], rest[1], step.buffered)
        elif kind == "returned" and not self.closed:
            return self.returned(call, rest[0], step.buffered)
        elif kind == "switched":
            self.framer = call.args[0]
            self.limits.add(self.framer.max_size)
        elif kind == "detached" and not self.closed:
            return self.detached(*rest)
        elif kind == "closed":
            self.closed = True
        elif kind == "stopped" and call.method == "next":
            return self.at_end(step.buffered)
        else:
            return f"{call.method} gave {show(step.outcome)}" + (" after detach() or close()" if self.closed else "")
        return None

    @staticmethod
    def received(step: SockStep) -> bool:
        """Whether the call went as far as receiving (not refused for its arguments or
        for a closed socket; recv_exactly(0) needs nothing)."""
        call, outcome = step.call, step.outcome
        if call.method not in SOCKET_ALLOWED or call.method in ("framer", "detach", "close"):
            return False
        refused = outcome[0] == "error" and outcome[1] in (OSError, *ARGUMENT_ERRORS)
        return not refused and call.args[:1] != (0,)

    def raised(self, call: SockCall, etype: type, args: tuple, buffered: int) -> str | None:
        allowed = (OSError, *ARGUMENT_ERRORS) if self.closed else SOCKET_ALLOWED[call.method]
        if etype not in allowed:  # exact types: a subclass is news too
            return f"{call.method} may not raise {etype.__name__}"
        if etype in (FrameTooLarge, ProtocolError):
            self.exact = False
        if etype is FrameTooLarge and not (args[1] in self.limits and args[0] > args[1]):
            return f"FrameTooLarge{args} with max_size in play {sorted(self.limits)}"
        if etype is IncompleteFrame:
            if not (args[0] and type(args[0]) is bytes and (args[1] is None or args[1] > len(args[0]))):
                return "IncompleteFrame with empty partial or expected not beyond it"
            if not self.shut:
                return "IncompleteFrame before the peer's shutdown"
            if self.exact and args[0] != self.stream[self.pos :]:
                return f"IncompleteFrame.partial is not the {len(self.stream) - self.pos} bytes left"
        if etype is ConnectionClosed:
            return self.at_end(buffered)
        if etype is BlockingIOError:
            return self.drained(buffered)
        return None

    def returned(self, call: SockCall, value: Any, buffered: int) -> str | None:
        if call.method in FRAME_CALLS:
            frames = value if call.method == "recv_many" else [value]
            if not frames:
                return self.drained(buffered)
            problem = self.frames(frames)
        elif call.method == "recv_exactly":
            problem = self.raw(value, value, len(value) == call.args[0], f"not {call.args[0]} bytes")
        elif call.method == "recv_until":
            problem = self.until(value, bytes(call.args[0]), dict(call.kwargs))
        else:  # recv_until_eof
            limit = dict(call.kwargs).get("max_size", ff.DEFAULT_MAX_SIZE)
            problem = self.raw(value, value, len(value) <= limit, f"over max_size={limit}")
            if not problem and self.exact and self.pos != len(self.stream):
                problem = f"recv_until_eof() left {len(self.stream) - self.pos} bytes of the stream"
        if problem or not self.exact or buffered <= self.written - self.pos:
            return problem
        return f"buffered={buffered}, but {self.written - self.pos} bytes were written and not returned"

    def frames(self, frames: list[bytes]) -> str | None:
        framer = self.framer
        for frame in frames:
            if isinstance(framer, ff.FixedSize) and len(frame) != framer.size:
                return f"a frame that is not {framer.size} bytes"
            if len(frame) > framer.max_size:
                return f"a frame over max_size={framer.max_size}"
            if self.exact:
                try:
                    self.pos += wire_at(_purepython, framer, self.stream, self.pos, frame)
                except Finding as finding:
                    return str(finding)
        return None

    def until(self, value: bytes, delimiter: bytes, kwargs: dict[str, Any]) -> str | None:
        limit = kwargs.get("max_size", ff.DEFAULT_MAX_SIZE)
        wire = value if kwargs["keep"] else value + delimiter
        # the bytes up to the delimiter's first occurrence, and that occurrence
        if not wire.endswith(delimiter) or wire.find(delimiter) != len(wire) - len(delimiter):
            return f"{value!r} is not the bytes up to {delimiter!r}"
        return self.raw(value, wire, len(value) <= limit, f"over max_size={limit}")

    def raw(self, value: bytes, wire: bytes, promised: bool, otherwise: str) -> str | None:
        """A raw read returned value, which was wire on the stream."""
        if not promised:
            return f"{len(value)} bytes: {otherwise}"
        if self.exact:
            if not self.stream.startswith(wire, self.pos):
                return f"{short(wire)} is not the stream's next bytes, {short(self.stream[self.pos :])}"
            self.pos += len(wire)
        return None

    def drained(self, buffered: int) -> str | None:
        """Nothing was complete: the socket was read until it had nothing more."""
        if self.shut:
            return "no frame yet, after the peer's shutdown"
        if self.exact and buffered != self.written - self.pos:
            return f"buffered={buffered}, but {self.written - self.pos} bytes were written and not returned"
        return None

    def at_end(self, buffered: int) -> str | None:
        if not self.shut:
            return "the end of the stream before the peer's shutdown"
        if buffered or (self.exact and self.pos != len(self.stream)):
            return f"the end of the stream, with buffered={buffered} and {len(self.stream) - self.pos} bytes left"
        return None

    def detached(self, is_given: bool, held: bytes) -> str | None:
        self.closed = True
        self.held = held
        if not is_given:
            return "detach() handed over another socket"
        if self.exact and not self.stream.startswith(held, self.pos):
            return f"detach() handed over {short(held)}, not the stream's next bytes"
        return None

    def after_detach(self, rest: bytes) -> str | None:
        if self.exact and self.held + rest != self.stream[self.pos :]:
            return f"detach() handed over {short(self.held)}, the socket had {short(rest)} after it"
        return None


def check_sockets(sc: SocketScenario, steps: list[SockStep]) -> None:
    ledger = Ledger(sc)
    for i, step in enumerate(steps):
        problem = ledger.problem(step)
        if problem:
            raise Finding(f"{problem}\n{socket_where(sc, steps, i)}")


def socket_scenario(c: Choices) -> None:
    sc = socket_setup(c)
    runs = [run_socket(core, sc) for core in CORES]
    if DIFFERENTIAL:
        compare_sockets(sc, runs[0], runs[-1])
    check_sockets(sc, runs[-1])


# -- entry points ------------------------------------------------------------------------------


def scenario_kind(c: Choices) -> str:
    """The first decision: "encoder" (4 in 32), "socket" (7 in 32) or "decoder".

    Its low three bits alone chose between encoder and decoder before the socket
    scenarios came, so that most older inputs still mean what they meant."""
    first = c.int(0, 31)
    if first % 8 == 0:
        return "encoder"
    return "socket" if first > 24 else "decoder"


SCENARIOS = {"encoder": encoder_scenario, "decoder": decoder_scenario, "socket": socket_scenario}


def one_input(data: bytes) -> None:
    """Run the scenario ``data`` stands for; raise Finding if anything is off."""
    c = Choices(data)
    SCENARIOS[scenario_kind(c)](c)


def describe(data: bytes) -> str:
    """The scenario ``data`` stands for, in words (the --show option)."""
    c = Choices(data)
    kind = scenario_kind(c)
    if kind == "encoder":
        return f"encoder scenario: {make_framer(c)!r}"
    if kind == "socket":
        return describe_sockets(socket_setup(c))
    framer, stream, calls = decoder_setup(c)
    lines = [f"framer: {framer!r}", f"stream: {stream!r}", *(f"  {call!r}" for call in calls)]
    for core in CORES:
        lines.append(f"{core.IMPLEMENTATION}:")
        for step in run(core, framer, calls):
            lines.append(f"  {step.call!r} -> {show(step.outcome)}; buffered={step.buffered}")
    return "\n".join(lines)


def describe_sockets(sc: SocketScenario) -> str:
    lines = [f"socket scenario, {sc.ending} at the end", repr(sc)]
    for core in CORES:
        lines.append(f"{core.IMPLEMENTATION}:")
        try:
            steps = run_socket(core, sc)
        except Finding as finding:  # one_input reports it after this
            lines.append(f"  {str(finding).splitlines()[0]}")
            continue
        lines += [f"  {step.call!r} -> {show(step.outcome)}; buffered={step.buffered}" for step in steps]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "--show":
        with open(argv[2], "rb") as f:
            data = f.read()
        print(f"input: {data!r}\n{describe(data)}")
        one_input(data)
        print("no finding")
        return
    if atheris is None:
        sys.exit("atheris is not installed: pip install 'fastframe[fuzz]' (or replay inputs with --show FILE)")
    print(
        f"fastframe fuzz: {'compiled core vs twin' if DIFFERENTIAL else 'twin only (FASTFRAME_PURE_PYTHON)'}",
        file=sys.stderr,
    )
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
