#!/usr/bin/env python3
"""Write the seed corpus of fuzz_decoders.py: a few inputs for each kind of scenario.

An input is the list of decisions ``scenarios.choices.Choices`` reads, so this draws
decisions at random (a fixed seed: the corpus is reproducible), records the bytes
that read back as them, and keeps, for every class below, the first input whose
scenario falls in it: each framing's valid streams, oversize frames,
malformed headers, truncated frames, delivery through ``get_buffer`` and misuse,
``max_size=sys.maxsize``, encoder scenarios, and FramedSocket scenarios (each raw
read, framer switches, detach(), the compiled core's object path, TLS).  A few inputs
are spelled out decision by decision instead (SCRIPTED).  Every input kept is
replayed through ``one_input`` before it is written: the seed corpus holds no
finding.  A drawn input with a finding is not seeded but reported, and the
script then exits with status 1 (after writing the corpus).

    python fuzz/make_corpus.py [DIR]     # default: fuzz/corpus/decoders, emptied first;
                                         # another DIR must be empty or absent
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenarios.choices import Choices
from scenarios.cores import TWIN
from scenarios.decoder import DATA_CALLS, Call, decoder_setup, run
from scenarios.encoder import encoder_scenario
from scenarios.findings import Finding
from scenarios.framing import EDGE_ADJUSTMENTS, EDGE_SIZES, alphabet_of, make_framer
from scenarios.inputs import one_input, scenario_kind
from scenarios.sockets import FRAME_CALLS, SOCKET_ALLOWED, SocketScenario, SockStep, run_socket, socket_setup

import fastframe as ff
from fastframe.errors import FrameTooLarge, IncompleteFrame, ProtocolError

SEED = 20261121
TRIES = 200_000  # per class, at most; every class fills long before that
PER_CLASS = 1


class Recorder(Choices):
    """Decisions drawn from ``rng``, written down as the bytes Choices reads them from.

    The first decisions can be given (``script``: an int for each ``int()``, in
    range, a bytes for each ``bytes()``, in the order the harness asks for them)."""

    def __init__(self, rng: random.Random, script: Sequence[int | bytes] = ()) -> None:
        super().__init__(b"")
        self.rng = rng
        self.script = list(script)
        self.out = bytearray()

    @property
    def spent(self) -> bool:
        return False

    def int(self, lo: int, hi: int) -> int:
        span = hi - lo
        if span <= 0:
            return lo
        value = self.script.pop(0) - lo if self.script else self.rng.randint(0, span)
        assert isinstance(value, int) and 0 <= value <= span, (lo, hi, value + lo)
        self.out += value.to_bytes((span.bit_length() + 7) // 8, "little")
        return lo + value

    def bytes(self, n: int) -> bytes:
        raw = self.script.pop(0) if self.script else self.rng.randbytes(n)
        assert isinstance(raw, bytes) and len(raw) == n, (n, raw)
        self.out += raw
        return raw


@dataclass
class Decoding:
    """A decoder scenario as the twin runs it."""

    framer: Any
    stream: bytes
    calls: list[Call]
    errors: list[type]  # what the calls and the closing eof() calls raised, in order
    frames: int

    def kind(self, *types: type) -> bool:
        return type(self.framer) in types

    @property
    def data_only(self) -> bool:
        return all(call.kind in DATA_CALLS for call in self.calls)


def decoding(data: bytes) -> Decoding | None:
    c = Choices(data)
    if scenario_kind(c) != "decoder":
        return None
    framer, stream, calls = decoder_setup(c)
    steps = run(TWIN, framer, calls)
    errors = [step.outcome[1] for step in steps if step.outcome[0] == "error"]
    frames = sum(len(step.outcome[1]) for step in steps if step.outcome[0] == "frames")
    return Decoding(framer, stream, calls, errors, frames)


def encoder_framer(data: bytes) -> Any:
    c = Choices(data)
    return make_framer(c) if scenario_kind(c) == "encoder" else None


@dataclass
class SocketRun:
    """A socket scenario as the twin runs it."""

    scenario: SocketScenario
    steps: list[SockStep]

    def returned(self, *methods: str) -> list[Any]:
        """The non-empty values the calls of these methods returned."""
        return [
            step.outcome[1]
            for step in self.steps
            if step.call.method in methods and step.outcome[0] == "returned" and step.outcome[1]
        ]

    def raised(self, *methods: str) -> set[type]:
        return {s.outcome[1] for s in self.steps if s.call.method in methods and s.outcome[0] == "error"}

    def frames_after_switch(self) -> bool:
        """Frames returned after the framer became one of another type."""
        framer, switched = self.scenario.framer, False
        for step in self.steps:
            if step.outcome == ("switched",):
                switched |= type(step.call.args[0]) is not type(framer)
                framer = step.call.args[0]
            elif switched and step.call.method in FRAME_CALLS and step.outcome[0] == "returned":
                return bool(step.outcome[1])
        return False

    def detached_before_shutdown(self) -> bool:
        methods = [s.call.method for s in self.steps if s.outcome[0] in ("detached", "shut")]
        return methods[:1] == ["detach"]


def socket_run(data: bytes) -> SocketRun | None:
    c = Choices(data)
    if scenario_kind(c) != "socket":
        return None
    scenario = socket_setup(c)
    return SocketRun(scenario, run_socket(TWIN, scenario))


FRAMINGS = {
    "lp": ff.LengthPrefixed,
    "delimited": ff.Delimited,
    "lines": ff.Lines,
    "fixed": ff.FixedSize,
    "netstring": ff.Netstring,
    "varint": ff.VarintPrefixed,
}
FTL, PE, INC = FrameTooLarge, ProtocolError, IncompleteFrame
HUGE = sys.maxsize


def classes() -> dict[str, Callable[[bytes], bool]]:
    """Class name -> whether an input belongs to it."""
    out: dict[str, Callable[[bytes], bool]] = {}

    def decoder_class(name: str, test: Callable[[Decoding], bool]) -> None:
        def member(data: bytes) -> bool:
            d = decoding(data)
            return d is not None and test(d)

        out[name] = member

    for name, framing in FRAMINGS.items():
        decoder_class(f"{name}-valid", lambda d, f=framing: d.kind(f) and not d.errors and d.frames >= 2)
        decoder_class(
            f"{name}-truncated",
            lambda d, f=framing: d.kind(f) and d.errors == [INC] and d.frames >= 1 and d.data_only,
        )
        decoder_class(
            f"{name}-buffer",
            lambda d, f=framing: (
                d.kind(f) and d.frames >= 2 and all(call.kind == "buffer" for call in d.calls) and len(d.calls) >= 2
            ),
        )
        decoder_class(
            f"{name}-misuse",
            lambda d, f=framing: d.kind(f) and {"detach", "unasked", "overrun"} & {c.kind for c in d.calls},
        )
        out[f"{name}-encode"] = lambda data, f=framing: type(encoder_framer(data)) is f
        if framing is not ff.FixedSize:
            decoder_class(f"{name}-oversize", lambda d, f=framing: d.kind(f) and FTL in d.errors and d.frames >= 1)
            # max_size=sys.maxsize: sizes on the wire past what a C Py_ssize_t holds
            decoder_class(
                f"{name}-huge-truncated",
                lambda d, f=framing: d.kind(f) and d.framer.max_size == HUGE and INC in d.errors,
            )
    for name in ("lp", "netstring", "varint"):
        decoder_class(
            f"{name}-huge-oversize",
            lambda d, f=FRAMINGS[name]: d.kind(f) and d.framer.max_size == HUGE and FTL in d.errors,
        )
        decoder_class(f"{name}-malformed", lambda d, f=FRAMINGS[name]: d.kind(f) and PE in d.errors and d.frames >= 1)
    decoder_class("lp-edge-adjustment", lambda d: d.kind(ff.LengthPrefixed) and abs(d.framer.adjustment) >= 2**31)
    decoder_class(
        "lp-huge-width8", lambda d: d.kind(ff.LengthPrefixed) and d.framer.width == 8 and d.framer.max_size == HUGE
    )
    for width in (3, 5, 6, 7):  # the widths struct has no format for
        decoder_class(
            f"lp-width{width}",
            lambda d, w=width: d.kind(ff.LengthPrefixed) and d.framer.width == w and d.frames >= 2 and not d.errors,
        )
    decoder_class("large-frame", lambda d: any(len(call.data) > 65536 for call in d.calls) and not d.errors)
    decoder_class("empty", lambda d: not d.stream)
    out.update(socket_classes())
    return out


RAW_READS = ("recv_exactly", "recv_until", "recv_until_eof")
BROKEN = {FTL, PE}


def socket_classes() -> dict[str, Callable[[bytes], bool]]:
    tests: dict[str, Callable[[SocketRun], bool]] = {
        "frames": lambda r: (
            len(r.returned("recv", "next")) + sum(map(len, r.returned("recv_many"))) >= 2
            and not BROKEN & r.raised(*FRAME_CALLS)
        ),
        "iteration": lambda r: bool(r.returned("next")) and any(s.outcome == ("stopped",) for s in r.steps),
        "oversize": lambda r: FTL in r.raised(*FRAME_CALLS) and bool(r.returned(*FRAME_CALLS)),
        "malformed": lambda r: PE in r.raised(*FRAME_CALLS) and bool(r.returned(*FRAME_CALLS)),
        "incomplete": lambda r: INC in r.raised(*FRAME_CALLS) and bool(r.returned(*FRAME_CALLS)),
        "exactly": lambda r: len(r.returned("recv_exactly")) >= 2,
        "exactly-incomplete": lambda r: INC in r.raised("recv_exactly"),
        "exactly-large": lambda r: any(
            s.call.method == "recv_exactly" and s.call.args[0] in (65536, 2**31 - 1) and s.buffered for s in r.steps
        ),
        "until": lambda r: any(dict(s.call.kwargs)["keep"] is False for s in returning(r, "recv_until")),
        "until-keep": lambda r: any(dict(s.call.kwargs)["keep"] for s in returning(r, "recv_until")),
        "until-oversize": lambda r: FTL in r.raised("recv_until"),
        "until-eof": lambda r: bool(r.returned("recv_until_eof")),
        "until-eof-oversize": lambda r: FTL in r.raised("recv_until_eof"),
        "switch": SocketRun.frames_after_switch,
        "detach-held": lambda r: any(s.outcome[0] == "detached" and s.outcome[2] for s in r.steps),
        "detach-mid": SocketRun.detached_before_shutdown,
        "object-path": lambda r: (
            r.scenario.object_path and bool(r.returned(*FRAME_CALLS)) and bool(r.returned(*RAW_READS))
        ),
        "refused": lambda r: bool({ValueError, TypeError} & r.raised(*SOCKET_ALLOWED)),
        "tls-frames": lambda r: (
            r.scenario.tls == "close_notify"
            and len(r.returned("recv", "next")) + sum(map(len, r.returned("recv_many"))) >= 2
        ),
        "tls-fin-incomplete": lambda r: r.scenario.tls == "fin" and INC in r.raised(*FRAME_CALLS, *RAW_READS),
        "tls-raw-reads": lambda r: bool(r.scenario.tls) and len(r.returned(*RAW_READS)) >= 2,
        "tls-large": lambda r: bool(r.scenario.tls) and len(r.scenario.stream) > 20_000,
    }

    def member(test: Callable[[SocketRun], bool]) -> Callable[[bytes], bool]:
        def belongs(data: bytes) -> bool:
            run = socket_run(data)
            return run is not None and test(run)

        return belongs

    return {f"socket-{name}": member(test) for name, test in tests.items()}


def returning(run: SocketRun, method: str) -> list[SockStep]:
    return [s for s in run.steps if s.call.method == method and s.outcome[0] == "returned"]


# Scenarios spelled out decision by decision: the sizes past a C Py_ssize_t that the
# compiled core once got wrong (an endless eof() on a netstring header, a negative
# IncompleteFrame.expected).  Each is checked against what it is meant to be.
DECODER, FEED_ALL_AS_BYTES = 1, (0, 0, 0, 4)  # make_calls: all of it, feed(), bytes, no extra call
HUGE_MAX_SIZE = (0, EDGE_SIZES.index(HUGE))
NETSTRING_ALPHABET = alphabet_of(ff.Netstring())


def text_parts(*parts: bytes) -> list[int]:
    """make_stream decisions: each part a run of the netstring alphabet."""
    out = [len(parts)]
    for part in parts:
        out += [6, len(part), *(NETSTRING_ALPHABET.index(byte) for byte in part)]
    return out


def raw_parts(*parts: bytes) -> list[int | bytes]:
    """make_stream decisions: each part raw bytes."""
    out: list[int | bytes] = [len(parts)]
    for part in parts:
        out += [7, len(part), part]
    return out


SCRIPTED: dict[str, tuple[list[int | bytes], str, bytes]] = {
    # name: (decisions, the framer's repr, the stream)
    "netstring-huge-header-eof": (
        [DECODER, 4, *HUGE_MAX_SIZE, *text_parts(b"9223372036854775", b"807:"), *FEED_ALL_AS_BYTES],
        f"Netstring(max_size={HUGE})",
        b"%d:" % HUGE,
    ),
    "netstring-huge-body-eof": (
        [DECODER, 4, *HUGE_MAX_SIZE, *text_parts(b"9223372036854775", b"806:x"), *FEED_ALL_AS_BYTES],
        f"Netstring(max_size={HUGE})",
        b"%d:x" % (HUGE - 1),
    ),
    "lp-huge-field-eof": (
        # width 8, offset 0, adjustment 0, strip None, big-endian
        [DECODER, 0, 8, 0, 0, 0, 1, 0, *HUGE_MAX_SIZE, *raw_parts(HUGE.to_bytes(8, "big"), b"x")]
        + [*FEED_ALL_AS_BYTES],
        f"LengthPrefixed(width=8, byteorder='big', offset=0, adjustment=0, strip=8, max_size={HUGE})",
        HUGE.to_bytes(8, "big") + b"x",
    ),
    "lp-huge-adjustment-eof": (
        # width 1, offset 0, adjustment 2**63 - 1, strip None, big-endian
        [DECODER, 0, 1, 0, 3, EDGE_ADJUSTMENTS.index(2**63 - 1), 1, 0, *HUGE_MAX_SIZE]
        + [*raw_parts(b"\x00"), *FEED_ALL_AS_BYTES],
        f"LengthPrefixed(width=1, byteorder='big', offset=0, adjustment={2**63 - 1}, strip=1, max_size={HUGE})",
        b"\x00",
    ),
    "varint-huge-eof": (
        [DECODER, 5, *HUGE_MAX_SIZE, *raw_parts(b"\xff" * 8 + b"\x7f" + b"x"), *FEED_ALL_AS_BYTES],
        f"VarintPrefixed(max_size={HUGE})",
        b"\xff" * 8 + b"\x7fx",
    ),
}


def scripted(name: str, rng: random.Random) -> bytes:
    script, framer, stream = SCRIPTED[name]
    c = Recorder(rng, script)
    if scenario_kind(c) == "decoder":
        decoder_setup(c)
    data = bytes(c.out)
    d = decoding(data)
    if c.script or d is None or (repr(d.framer), d.stream, d.errors[-1:]) != (framer, stream, [INC]):
        got = d and (repr(d.framer), d.stream, d.errors)
        sys.exit(f"{name}: the script no longer gives {framer} over {stream!r} ending in IncompleteFrame: {got}")
    return data


def draw(rng: random.Random) -> bytes:
    c = Recorder(rng)
    kind = scenario_kind(c)
    if kind == "encoder":
        encoder_scenario(c)
    elif kind == "socket":
        socket_setup(c)
    else:
        decoder_setup(c)
    return bytes(c.out)


DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "corpus" / "decoders"


def finding_in(data: bytes) -> Finding | None:
    try:
        one_input(data)
    except Finding as finding:
        return finding
    return None


def make(directory: Path) -> tuple[list[Path], list[tuple[bytes, Finding]]]:
    """The inputs written, and the drawn inputs left out for a finding."""
    rng = random.Random(SEED)
    written = []
    findings = []
    directory.mkdir(parents=True, exist_ok=True)
    if directory.resolve() == DEFAULT_DIRECTORY:
        for old in directory.iterdir():
            old.unlink()
    elif any(directory.iterdir()):
        sys.exit(f"{directory} is not empty")
    for name in SCRIPTED:
        data = scripted(name, rng)
        one_input(data)
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    for name, member in classes().items():
        kept = 0
        for _ in range(TRIES):
            data = draw(rng)
            if len(data) > 2048 or not member(data):
                continue
            finding = finding_in(data)
            if finding:  # reported, not seeded
                findings.append((data, finding))
                continue
            path = directory / f"{name}-{kept}"
            path.write_bytes(data)
            written.append(path)
            kept += 1
            if kept == PER_CLASS:
                break
        else:
            sys.exit(f"class {name}: only {kept} inputs in {TRIES} tries")
    return written, findings


def main(argv: list[str]) -> None:
    directory = Path(argv[1]) if len(argv) > 1 else DEFAULT_DIRECTORY
    written, findings = make(directory)
    total = sum(path.stat().st_size for path in written)
    print(f"{len(written)} inputs, {total} bytes, in {directory}")
    if findings:
        data, finding = findings[0]
        sys.exit(
            f"{len(findings)} drawn inputs had a finding and were left out; the first, {data!r}:\n{finding}"[:6000]
        )


if __name__ == "__main__":
    main(sys.argv)
