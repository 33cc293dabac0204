"""The decoder scenario: a framer, a stream, and the calls that deliver it
(``feed`` or ``get_buffer``/``buffer_updated``, chunked anywhere, with an
occasional ``eof()``, ``detach()`` or API misuse in between), then ``eof()`` until
the decoder settles.

Each core runs the calls; any difference in what a call returns or raises (type
and args), in ``buffered`` or in what ``detach()`` hands over is a finding, and so
is an exception the API does not document.  The twin's run is also checked against
the framing rules (docs/framers/, docs/errors.md): frames never exceed
``max_size``; an error-free run's frames, re-encoded, are exactly the stream bytes
they came from; any chunking gives the events of one single ``feed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fastframe as ff
from fastframe import _messages
from fastframe._cores import Core
from fastframe.errors import FrameTooLarge, IncompleteFrame, ProtocolError

from .choices import Choices
from .cores import CORES, DIFFERENTIAL
from .findings import Finding, disagreement, short, show, trail
from .framing import make_framer, make_stream
from .reencoding import wire_at

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


def run(core: Core, framer: Any, calls: Sequence[Call]) -> list[Step]:
    """Every call, then eof() until it settles (each pending error is raised once,
    so the number of eof() calls needed is bounded by the frames in the stream)."""
    dec = core.decoder(framer)
    steps = [Step(call, outcome_of(dec, call), dec.buffered) for call in calls]
    bound = sum(len(call.data) for call in calls) + 8
    for _ in range(bound):
        steps.append(Step(Call("eof"), outcome_of(dec, Call("eof")), dec.buffered))
        if settled(steps[-1].outcome):
            return steps
    raise Finding(f"{core.name}: eof() still not settled after {bound} calls: {steps[-3:]}")


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
    FrameTooLarge and IncompleteFrame carrying what docs/errors.md says."""
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


def check_round_trip(core: Core, framer: Any, stream: bytes, steps: list[Step]) -> None:
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
            raise Finding(f"{core.name}: frame {k}: {finding}\n{context}") from None
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
        raise Finding(f"{core.name}: {problem}\n{where(framer, stream, steps, len(steps) - 1)}")


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
                f"{core.name}: one feed of the whole stream gives other events than these calls\n"
                f"{where(framer, stream, twin, len(twin) - 1)}\n"
                f"one feed: {[show(e) if e[0] == 'error' else e for e in flat_events(whole)]!r}"[:4000]
            )
    errors = [step.outcome[1] for step in twin if step.outcome[0] == "error"]
    if errors in ([], [IncompleteFrame]):
        for core in CORES:
            check_round_trip(core, framer, stream, twin)
