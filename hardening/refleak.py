"""Prove that no public call leaks a reference or memory, on its error paths too.

    python hardening/refleak.py [--core cython|python|both] [--iterations N | GROUP=N ...]
                                [--only PATTERN] [--self-check]

Each core runs in its own child process (``FASTFRAME_PURE_PYTHON`` set for it, so that
``fastframe``'s own entry points, ``connect()`` and ``fastframe.aio``, use that core
too); the decoders, encoders and ``FramedSocket`` are reached through the framers
(``framer._codec_in(core)``, ``framer._bound_to(core)``) and ``core.FramedSocket``.
The compiled core runs its FramedSocket cases twice: on the descriptor and through
the socket object's methods (``socket-object/...``, ``lifecycle-object/...``).

Every case is one call, or a few calls that belong together, repeated: a warm-up of
10% of the iterations, ``gc.collect()``, then the iterations measured:

- blocks: growth of ``sys.getallocatedblocks()`` (a leaked object per iteration adds
  at least one block per iteration);
- refs: ``sys.getrefcount`` of every object the case passes in (framer, codec, decoder,
  payloads, sockets, the FramedSocket) and of the exception classes and singletons,
  before and after: any change is a leaked (or stolen) reference;
- rss: growth of the resident set (``/proc/self/statm``): memory taken outside
  Python's allocators (a receive buffer malloc'd and never freed);
- traced: growth of ``tracemalloc``'s traced memory over a second, shorter run of a
  tenth of the iterations (tracemalloc makes every allocation several times slower);
- cycles: objects the cycle collector freed during the measured run (information
  only: garbage cycles are freed, not leaked, but they cost time and memory peaks).

Limits: blocks over ``iterations // 100 + 500``; any change in the reference count
of a case's objects and the exception classes (None and the other singletons are
held by objects that come and go: there a change over the blocks limit); RSS over
16 MiB; traced memory over ``traced iterations * 4 + 16 KiB`` bytes.  A leak of one
object per iteration exceeds the blocks limit about a hundredfold at a million
iterations, sixteenfold at 10 000, nearly fourfold at 2 000; the noise measured
here stays under a tenth of each limit.

``--iterations`` sets every case's count (default 100 000), or one group's with
GROUP=N (groups: framer, encode, decode, socket, lifecycle, aio); ``--only`` runs
the cases whose name matches a glob.  ``--self-check`` runs cases with leaks of each
kind injected (at 20 000 iterations unless more are asked) and fails unless every
measure that should report one does.  Exits 1 when a leak is found, or an injected
one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fnmatch
import gc
import importlib
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

CORES = ("cython", "python")
DEFAULT_ITERATIONS = 100_000
SELF_CHECK_ITERATIONS = 20_000  # the fewest at which each injected leak passes every limit it should
GROUPS = ("framer", "encode", "decode", "socket", "lifecycle", "aio")
TRACED_SHARE = 10  # the tracemalloc run has iterations // TRACED_SHARE
RSS_LIMIT = 16 * 1024 * 1024
SINGLETONS: dict[str, object] = {"None": None, "True": True, "False": False, "b''": b"", "()": ()}

Step = Callable[[], object]
Setup = contextlib.AbstractContextManager["Probe"]


def blocks_limit(iterations: int) -> int:
    return iterations // 100 + 500


def traced_limit(iterations: int) -> int:
    return iterations * 4 + 16 * 1024


# -- what one case is and how it is measured ----------------------------------------


@dataclass
class Probe:
    """What a case's setup gives: the call to repeat and the objects it uses."""

    step: Step
    tracked: dict[str, object]


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    setup: Callable[[], Setup]


@dataclass
class Result:
    case: str
    iterations: int
    blocks: int
    rss: int | None
    refs: dict[str, int]
    traced: int
    traced_iterations: int
    cycles: int
    seconds: float = 0.0
    leaks: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "LEAK(" + ",".join(self.leaks) + ")" if self.leaks else "ok"


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE
    except OSError:  # not Linux: not measured
        return None


class CycleCount:
    """Objects freed by the cycle collector while it is installed."""

    def __init__(self) -> None:
        self.collected = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            self.collected += info["collected"]


def repeat(step: Step, n: int) -> None:
    for _ in itertools.repeat(None, n):
        step()


def measure(case: Case, iterations: int, shared: dict[str, object]) -> Result:
    start = time.monotonic()
    warmup = max(iterations // 10, 1)
    with case.setup() as probe:
        tracked = {**shared, **probe.tracked}
        repeat(probe.step, warmup)
        cycles = CycleCount()
        gc.collect()
        refs_before = {name: sys.getrefcount(obj) for name, obj in tracked.items()}
        refs_after = dict.fromkeys(refs_before, 0)  # allocated now: not counted as growth
        rss_before = rss()
        blocks_before = sys.getallocatedblocks()
        gc.callbacks.append(cycles)
        repeat(probe.step, iterations)
        gc.collect()
        gc.callbacks.remove(cycles)
        blocks = sys.getallocatedblocks() - blocks_before
        rss_after = rss()
        for name, obj in tracked.items():
            refs_after[name] = sys.getrefcount(obj)
    traced_iterations = max(iterations // TRACED_SHARE, 1)
    with case.setup() as probe:
        tracemalloc.start()
        try:
            repeat(probe.step, max(traced_iterations // 10, 1))
            gc.collect()
            traced_before = tracemalloc.get_traced_memory()[0]
            repeat(probe.step, traced_iterations)
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] - traced_before
        finally:
            tracemalloc.stop()
    grown = None if rss_before is None or rss_after is None else rss_after - rss_before
    changed = {name: refs_after[name] - before for name, before in refs_before.items() if refs_after[name] != before}
    seconds = time.monotonic() - start
    result = Result(case.name, iterations, blocks, grown, changed, traced, traced_iterations, cycles.collected, seconds)
    if blocks > blocks_limit(iterations):
        result.leaks.append("blocks")
    # None and the other singletons are held by objects that come and go: only a
    # change that grows with the iterations is a leak
    if any(abs(delta) > (blocks_limit(iterations) if name in SINGLETONS else 0) for name, delta in changed.items()):
        result.leaks.append("refs")
    if grown is not None and grown > RSS_LIMIT:
        result.leaks.append("rss")
    if traced > traced_limit(traced_iterations):
        result.leaks.append("traced")
    return result


HEADER = (
    f"{'case':<45} {'iterations':>10} {'blocks':>7} {'rss KiB':>7} {'traced B (iters)':>18} {'cycles':>6} {'s':>6}"
    "  refs verdict"
)


def row(result: Result) -> str:
    rss_kib = "n/a" if result.rss is None else f"{result.rss // 1024:+d}"
    traced = f"{result.traced:+d} ({result.traced_iterations})"
    refs = ",".join(f"{name}{delta:+d}" for name, delta in result.refs.items()) or "="
    return (
        f"{result.case:<45} {result.iterations:>10} {result.blocks:>+7d} {rss_kib:>7} {traced:>18} "
        f"{result.cycles:>6} {result.seconds:>6.1f}  {refs} {result.verdict}"
    )


# -- small helpers for the cases ------------------------------------------------------


class Unexpected(AssertionError):
    """A case's call did not take the path the case is about."""


Raisable = type[BaseException] | tuple[type[BaseException], ...]


def raises(kind: Raisable, call: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except kind:
        return
    raise Unexpected(f"{call!r}{args!r} did not raise {kind!r}")


def equal(got: object, expected: object) -> None:
    if got != expected:
        raise Unexpected(f"got {got!r}, expected {expected!r}")


def drain(sock: socket.socket, nbytes: int, buffer: bytearray) -> None:
    """Read and drop exactly ``nbytes`` from a blocking raw socket."""
    while nbytes:
        got = sock.recv_into(buffer, min(nbytes, len(buffer)))
        if not got:
            raise Unexpected("the peer closed early")
        nbytes -= got


def sink(sock: socket.socket) -> None:
    """Read and drop everything until the peer closes."""
    buffer = bytearray(1 << 20)
    while sock.recv_into(buffer):
        pass


@contextlib.contextmanager
def closing_all(*socks: socket.socket) -> Iterator[None]:
    try:
        yield
    finally:
        for sock in socks:
            sock.close()


@contextlib.contextmanager
def plain(step: Step, **tracked: object) -> Iterator[Probe]:
    yield Probe(step, tracked)


# -- the framings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Framing:
    """One framing under test, with max_size=MAX so that oversize frames stay cheap."""

    label: str
    framer: Any
    payload: bytes
    head: bytes = b""
    # encode calls this framing refuses with ValueError: (payload, head)
    refused: tuple[tuple[bytes, bytes], ...] = ()
    # malformed streams: (label, bytes) that raise ProtocolError
    malformed: tuple[tuple[str, bytes], ...] = ()
    # constructor arguments it refuses: ValueError, then TypeError
    invalid: tuple[dict[str, Any], ...] = ()
    wrong_types: tuple[dict[str, Any], ...] = ()


MAX = 64


def framings(ff: ModuleType) -> list[Framing]:
    lp_invalid = (
        {"width": 3},
        {"byteorder": "middle"},
        {"offset": -1},
        {"strip": 9},
        {"adjustment": 2**63},
        {"max_size": 0},
    )
    lp_types = ({"width": "4"}, {"width": True}, {"max_size": 1.5})
    delimited_invalid = ({"delimiter": b""}, {"max_size": 0})
    return [
        Framing("lp4", ff.LengthPrefixed(4, max_size=MAX), b"hello world", invalid=lp_invalid, wrong_types=lp_types),
        # PostgreSQL's messages: a tag, a length that counts itself, the frame keeps both
        Framing(
            "lp-pg",
            ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0, max_size=MAX),
            b"select 1",
            head=b"Q",
            refused=((b"x", b""), (b"x", b"QQ")),
            malformed=(("negative-length", b"Q\x00\x00\x00\x02"),),
        ),
        Framing(
            "lp2-le",
            ff.LengthPrefixed(2, byteorder="little", offset=2, adjustment=2, strip=3, max_size=MAX),
            b"hello world",
            head=b"HH",
            refused=((b"x", b"HH"),),  # shorter than the adjustment
        ),
        Framing(
            "delimited",
            ff.Delimited(b"\r\n", max_size=MAX),
            b"hello world",
            refused=((b"hello\r\nworld", b""),),
            invalid=delimited_invalid,
            wrong_types=({"delimiter": "\n"}, {"max_size": "1"}),
        ),
        Framing(
            "delimited-keep",
            ff.Delimited(b"END", keep=True, max_size=MAX),
            b"hello world",
            refused=((b"the END", b""),),
        ),
        Framing(
            "lines",
            ff.Lines(max_size=MAX),
            b"hello world",
            refused=((b"two\nlines", b""), (b"cr\r", b"")),
            invalid=({"max_size": -1},),
        ),
        Framing(
            "fixed",
            ff.FixedSize(8),
            b"8 bytes!",
            refused=((b"short", b""), (b"much too long", b"")),
            invalid=({"size": 0},),
            wrong_types=({"size": None},),
        ),
        Framing(
            "netstring",
            ff.Netstring(max_size=MAX),
            b"hello world",
            malformed=(
                ("no-comma", b"5:hello!"),
                ("non-digit", b"1x:"),
                ("leading-zero", b"05:hello,"),
                ("empty-length", b":"),
                ("long-length", b"1" * 21),
            ),
            invalid=({"max_size": 0},),
        ),
        Framing(
            "varint",
            ff.VarintPrefixed(max_size=MAX),
            b"hello world",
            malformed=(("too-long", b"\x80" * 11), ("overflow", b"\xff" * 9 + b"\x7f")),
            invalid=({"max_size": 0},),
        ),
    ]


def unlimited(framer: Any) -> Any:
    """The same framing without max_size: it writes the frames too large for ``framer``."""
    options = framer._options()
    if "max_size" in options:
        del options["max_size"]
    return type(framer)(**options)


def heads(framing: Framing) -> dict[str, bytes]:
    return {"head": framing.head} if framing.head else {}


# -- framer, encoder and decoder cases ----------------------------------------------------


def framer_cases(ff: ModuleType, core: ModuleType, framing: Framing) -> Iterator[Case]:
    framer = framing.framer
    cls, options = type(framer), framer._options()
    bound = framer._bound_to(core)
    name = framing.label

    def construct() -> None:
        cls(**options)

    yield Case(f"framer/{name}/construct", "framer", lambda: plain(construct, framer=framer))
    if framing.invalid or framing.wrong_types:

        def construct_invalid() -> None:
            for bad in framing.invalid:
                raises(ValueError, cls, **{**options, **bad})
            for bad in framing.wrong_types:
                raises(TypeError, cls, **{**options, **bad})

        yield Case(f"framer/{name}/construct-invalid", "framer", lambda: plain(construct_invalid, framer=framer))
    yield Case(f"framer/{name}/decoder", "framer", lambda: plain(bound.decoder, framer=bound))


def encode_cases(ff: ModuleType, core: ModuleType, framing: Framing) -> Iterator[Case]:
    bound = framing.framer._bound_to(core)
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


def decode_cases(ff: ModuleType, core: ModuleType, framing: Framing) -> Iterator[Case]:
    framer = framing.framer
    codec = framer._codec_in(core)
    bound = framer._bound_to(core)
    wire = bound.encode(framing.payload, **heads(framing))
    (frame,) = codec.decoder().feed(wire)
    partial = wire[:-1]
    name = f"decode/{framing.label}"

    def with_decoder(make_step: Callable[[Any], Step], **tracked: object) -> Callable[[], Setup]:
        def setup() -> Setup:
            dec = codec.decoder()
            return plain(make_step(dec), decoder=dec, codec=codec, wire=wire, **tracked)

        return setup

    def feed_whole(dec: Any) -> Step:
        return lambda: equal(dec.feed(wire), [frame])

    def feed_partial(dec: Any) -> Step:
        cut = len(wire) // 2
        first, second = wire[:cut], wire[cut:]

        def step() -> None:
            equal(dec.feed(first), [])
            equal(dec.feed(second), [frame])

        return step

    many = wire * 32

    def feed_many(dec: Any) -> Step:
        return lambda: equal(len(dec.feed(many)), 32)

    as_bytearray, as_view = bytearray(wire), memoryview(wire)

    def feed_buffers(dec: Any) -> Step:
        def step() -> None:
            equal(dec.feed(as_bytearray), [frame])
            equal(dec.feed(as_view), [frame])

        return step

    def get_buffer(dec: Any) -> Step:
        def step() -> None:
            view = dec.get_buffer(-1)
            view[: len(wire)] = wire
            equal(dec.buffer_updated(len(wire)), [frame])

        return step

    def misuse(dec: Any) -> Step:
        def step() -> None:
            raises(RuntimeError, dec.buffer_updated, 1)
            view = dec.get_buffer(16)
            raises(ValueError, dec.buffer_updated, len(view) + 1)
            raises(ValueError, dec.buffer_updated, -1)
            equal(dec.buffer_updated(0), [])

        return step

    def buffered(dec: Any) -> Step:
        dec.feed(partial)
        return lambda: equal(dec.buffered, len(partial))

    def eof_clean(dec: Any) -> Step:
        def step() -> None:
            equal(dec.feed(wire), [frame])
            equal(dec.eof(), [])

        return step

    def eof_incomplete(dec: Any) -> Step:
        def step() -> None:
            dec.feed(partial)
            raises(ff.IncompleteFrame, dec.eof)
            equal(dec.detach(), partial)

        return step

    def detach(dec: Any) -> Step:
        def step() -> None:
            dec.feed(partial)
            equal(dec.detach(), partial)

        return step

    yield Case(f"{name}/feed-whole", "decode", with_decoder(feed_whole))
    yield Case(f"{name}/feed-partial", "decode", with_decoder(feed_partial))
    yield Case(f"{name}/feed-many", "decode", with_decoder(feed_many, many=many))
    yield Case(f"{name}/feed-buffers", "decode", with_decoder(feed_buffers, ba=as_bytearray, mv=as_view))
    yield Case(f"{name}/get_buffer", "decode", with_decoder(get_buffer))
    yield Case(f"{name}/buffer_updated-misuse", "decode", with_decoder(misuse))
    yield Case(f"{name}/buffered", "decode", with_decoder(buffered))
    yield Case(f"{name}/eof-clean", "decode", with_decoder(eof_clean))
    yield Case(f"{name}/eof-incomplete", "decode", with_decoder(eof_incomplete, partial=partial))
    yield Case(f"{name}/detach", "decode", with_decoder(detach, partial=partial))

    if not isinstance(framer, ff.FixedSize):  # (its max_size is its size: never too large)
        big = unlimited(bound).encode(b"x" * (3 * MAX), **heads(framing))
        stream = big + wire
        cut = len(big) // 2  # past the point where the frame is known to be too large

        def too_large(dec: Any) -> Step:
            def step() -> None:
                raises(ff.FrameTooLarge, dec.feed, stream)
                equal(dec.feed(b""), [frame])

            return step

        def too_large_split(dec: Any) -> Step:
            first, rest = stream[:cut], stream[cut:]

            def step() -> None:
                raises(ff.FrameTooLarge, dec.feed, first)
                equal(dec.feed(rest), [frame])

            return step

        def too_large_buffer(dec: Any) -> Step:
            def step() -> None:
                view = dec.get_buffer(len(stream))
                view[: len(stream)] = stream
                raises(ff.FrameTooLarge, dec.buffer_updated, len(stream))
                equal(dec.feed(b""), [frame])

            return step

        yield Case(f"{name}/feed-too-large", "decode", with_decoder(too_large, stream=stream))
        yield Case(f"{name}/feed-too-large-split", "decode", with_decoder(too_large_split, stream=stream))
        yield Case(f"{name}/get_buffer-too-large", "decode", with_decoder(too_large_buffer, stream=stream))

    if not isinstance(framer, ff.FixedSize):
        big_framer = unlimited(bound)
        if isinstance(framer, ff.LengthPrefixed) and framer.width < 4:  # the largest its field says
            large_size = 2 ** (8 * framer.width) - 1 + framer.adjustment
        else:
            large_size = 200_000
        large_wire = big_framer.encode(bytes(large_size), **heads(framing))
        large_frame = big_framer.decoder().feed(large_wire)[0]

        def get_buffer_large(dec: Any) -> Step:
            # frames of LARGE_FRAME bytes or more are written straight into their bytes object
            def step() -> None:
                pos = 0
                frames: list[bytes] = []
                while pos < len(large_wire):
                    view = dec.get_buffer(-1)
                    n = min(len(view), len(large_wire) - pos)
                    view[:n] = large_wire[pos : pos + n]
                    del view
                    frames += dec.buffer_updated(n)
                    pos += n
                equal(frames, [large_frame])

            return step

        def setup_large() -> Setup:
            dec = big_framer._codec.decoder()
            return plain(get_buffer_large(dec), decoder=dec, framer=big_framer, wire=large_wire)

        yield Case(f"{name}/get_buffer-large", "decode", setup_large)

    for label, bad in framing.malformed:

        def protocol_error(dec: Any, bad: bytes = bad) -> Step:
            def step() -> None:
                equal(dec.feed(wire + bad), [frame])  # the error comes with the next call
                raises(ff.ProtocolError, dec.feed, b"")
                raises(ff.ProtocolError, dec.feed, wire)  # and stays
                dec.detach()

            return step

        yield Case(f"{name}/protocol-error-{label}", "decode", with_decoder(protocol_error, bad=bad))


# -- FramedSocket -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sockets:
    """How a case makes FramedSockets: the core's class, on the descriptor or not."""

    ff: ModuleType
    core: ModuleType
    fd_path: bool

    @property
    def suffix(self) -> str:
        return "" if self.fd_path else "-object"

    def framed(self, sock: socket.socket, framer: Any) -> Any:
        if self.fd_path:
            return self.core.FramedSocket(sock, framer)
        self.core._use_fd_path(False)
        try:
            return self.core.FramedSocket(sock, framer)
        finally:
            self.core._use_fd_path(True)


def socket_cases(s: Sockets) -> Iterator[Case]:
    ff = s.ff
    framer = ff.LengthPrefixed(4, max_size=1 << 20)._bound_to(s.core)
    small = ff.LengthPrefixed(4, max_size=MAX)._bound_to(s.core)
    lines = ff.Lines()._bound_to(s.core)
    netstring = ff.Netstring()._bound_to(s.core)
    payload = b"hello world"
    wire = framer.encode(payload)
    buffer = bytearray(256 * 1024)
    name = f"socket{s.suffix}"

    @contextlib.contextmanager
    def connected(
        make_step: Callable[[Any, socket.socket, socket.socket], Step], fs_framer: Any = framer, **tracked: object
    ) -> Iterator[Probe]:
        a, b = socket.socketpair()
        with closing_all(a, b):
            fs = s.framed(a, fs_framer)
            objects = {"fs": fs, "a": a, "b": b, "framer": fs_framer, "payload": payload, **tracked}
            yield Probe(make_step(fs, a, b), objects)
            fs.close()

    def case(label: str, make_step: Callable[[Any, socket.socket, socket.socket], Step], **kwargs: Any) -> Case:
        return Case(f"{name}/{label}", "socket", lambda: connected(make_step, **kwargs))

    def construct(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        return lambda: s.framed(a, framer)

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def construct_invalid(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            raises(TypeError, s.framed, object(), framer)
            raises(TypeError, s.framed, a, object())
            raises(ValueError, s.framed, udp, framer)

        return step

    def send(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            fs.send(payload)
            drain(b, len(wire), buffer)

        return step

    pg = ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0)._bound_to(s.core)
    pg_wire = pg.encode(payload, head=b"Q")

    def send_head(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            fs.send(payload, head=b"Q")
            fs.send_many([payload, payload], head=b"Q")
            drain(b, 3 * len(pg_wire), buffer)

        return step

    several = [payload] * 8

    def send_many(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            fs.send_many(several)
            drain(b, 8 * len(wire), buffer)

        return step

    large = bytes(100_000)  # over LARGE_FRAME: sent from the caller's buffer
    mixed = [payload, large, payload]

    @contextlib.contextmanager
    def send_large() -> Iterator[Probe]:
        a, b = socket.socketpair()
        # the peer reads in a thread: more than the socket buffer holds is sent at once
        reader = threading.Thread(target=sink, args=(b,))
        with closing_all(a, b):
            fs = s.framed(a, framer)
            reader.start()

            def step() -> None:
                fs.send(large)
                fs.send_many(mixed)

            yield Probe(step, {"fs": fs, "a": a, "b": b, "framer": framer, "large": large, "mixed": mixed})
            fs.close()
            reader.join()

    view = memoryview(wire)

    def sendall(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            fs.sendall(wire)
            fs.sendall(view)
            drain(b, 2 * len(wire), buffer)

        return step

    too_large = b"x" * (MAX + 1)

    def send_errors(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            raises(TypeError, fs.send, "text")
            raises(ff.FrameTooLarge, fs.send, too_large)
            raises(ValueError, fs.send, payload, head=b"Q")  # offset 0: no head
            raises(TypeError, fs.send_many, [payload, 42])
            raises(TypeError, fs.sendall, "text")

        return step

    def recv(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            b.sendall(wire)
            equal(fs.recv(), payload)

        return step

    def recv_many(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        burst = wire * 8

        def step() -> None:
            b.sendall(burst)
            got = 0
            while got < 8:
                got += len(fs.recv_many())
            b.sendall(burst)
            equal(len(fs.recv_many(max_frames=5)), 5)
            equal(len(fs.recv_many(3)), 3)
            raises(ValueError, fs.recv_many, 0)

        return step

    def iterate(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        burst = wire * 4

        def step() -> None:
            b.sendall(burst)
            for _, frame in zip(range(4), fs):
                equal(frame, payload)

        return step

    def raw_reads(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        data = b"TYPE" + b"key: value\r\n\r\n" + b"x" * 10 + b"\n" + b"rest\n"

        def step() -> None:
            b.sendall(data)
            equal(fs.recv_exactly(4), b"TYPE")
            equal(fs.recv_until(b"\r\n\r\n"), b"key: value")
            raises(ff.FrameTooLarge, fs.recv_until, b"\n", max_size=4)  # skips to the b"\n"
            equal(fs.recv_until(b"\n", keep=True), b"rest\n")
            raises(ValueError, fs.recv_exactly, -1)
            raises(ValueError, fs.recv_until, b"")

        return step

    line = b"a line\n"

    def framer_switch(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            b.sendall(wire + line)
            equal(fs.recv(), payload)
            fs.framer = lines
            equal(fs.recv(), b"a line")
            fs.framer = framer
            raises(TypeError, setattr, fs, "framer", "not a framer")

        return step

    stream = ff.LengthPrefixed(4).encode(b"x" * (3 * MAX)) + wire

    def recv_too_large(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        def step() -> None:
            b.sendall(stream)
            raises(ff.FrameTooLarge, fs.recv)
            equal(fs.recv(), payload)

        return step

    def recv_protocol_error(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        fs.detach()

        def step() -> None:
            framed = s.framed(a, netstring)
            b.sendall(b"5:hello,5:hello!")
            equal(framed.recv(), b"hello")
            raises(ff.ProtocolError, framed.recv)
            raises(ff.ProtocolError, framed.recv_many)
            framed.detach()

        return step

    half = wire[:2]

    def would_block(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        a.setblocking(False)
        b.sendall(half)  # half a header: nothing complete

        def step() -> None:
            raises(BlockingIOError, fs.recv)
            equal(fs.recv_many(), [])
            raises(BlockingIOError, fs.recv_exactly, 100)
            raises(BlockingIOError, fs.recv_until, b"\n")

        return step

    def timeout(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        # a deadline that has passed before the first system call returns
        def step() -> None:
            a.settimeout(1e-9)
            raises(TimeoutError, fs.recv)
            raises(TimeoutError, fs.recv_many)
            raises(TimeoutError, fs.recv_until, b"\n")
            b.sendall(half)
            raises(TimeoutError, fs.recv)  # half a frame: kept for the next call
            b.sendall(wire[2:])
            a.settimeout(None)
            equal(fs.recv(), payload)

        return step

    def closed(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        fs.close()

        def step() -> None:
            raises(OSError, fs.recv)
            raises(OSError, fs.recv_many)
            raises(OSError, fs.recv_exactly, 1)
            raises(OSError, fs.send, payload)
            raises(OSError, fs.send_many, several)
            raises(OSError, fs.sendall, wire)
            raises(OSError, fs.flush)
            raises(OSError, fs.fileno)
            fs.close()

        return step

    def detach(fs: Any, a: socket.socket, b: socket.socket) -> Step:
        fs.detach()

        def step() -> None:
            framed = s.framed(a, framer)
            b.sendall(wire + half)
            equal(framed.recv(), payload)
            sock, rest = framed.detach()
            equal(rest, half)

        return step

    yield case("construct", construct)
    yield case("construct-invalid", construct_invalid, udp=udp)
    yield case("send", send)
    yield case("send-head", send_head, fs_framer=pg, pg_wire=pg_wire)
    yield case("send_many", send_many, payloads=several)
    yield Case(f"{name}/send-large", "socket", send_large)
    yield case("sendall", sendall, wire=wire, view=view)
    yield case("send-errors", send_errors, fs_framer=small, big=too_large)
    yield case("recv", recv)
    yield case("recv_many", recv_many)
    yield case("iterate", iterate)
    yield case("recv_exactly-recv_until", raw_reads)
    yield case("framer-switch", framer_switch, lines=lines)
    yield case("recv-too-large", recv_too_large, fs_framer=small, stream=stream)
    yield case("recv-protocol-error", recv_protocol_error, netstring=netstring)
    yield case("recv-would-block", would_block)
    yield case("recv-timeout", timeout)
    yield case("closed", closed)
    yield case("detach", detach)
    yield Case(f"{name}/flush-full-buffer", "socket", lambda: full_buffer(s, framer, timeout=0.0))
    yield Case(f"{name}/send-timeout", "socket", lambda: full_buffer(s, framer, timeout=1e-9))


@contextlib.contextmanager
def full_buffer(s: Sockets, framer: Any, timeout: float) -> Iterator[Probe]:
    """Sends into a full socket buffer, non-blocking or with a deadline already
    past: output queues, and flush() sends it, non-blocking, as the peer reads."""
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    payload = bytes(20_000)
    size = len(framer.encode(payload))
    buffer = bytearray(64 * 1024)
    failure = TimeoutError if timeout else BlockingIOError
    with closing_all(a, b):
        b.setblocking(False)
        fs = s.framed(a, framer)

        def step() -> None:
            a.settimeout(timeout)
            if timeout:
                raises(TimeoutError, fs.send, payload)
            else:
                fs.send(payload)
            if not (fs.wants_write and fs.pending_output > 0):
                raise Unexpected("nothing queued")
            raises(failure, fs.detach)  # both flush first
            raises(failure, fs.shutdown_write)
            a.settimeout(0.0)
            received = 0
            while received < size:
                fs.flush()
                try:
                    received += b.recv_into(buffer)
                except BlockingIOError:
                    pass
            equal((fs.wants_write, fs.pending_output, fs.flush()), (False, 0, True))

        yield Probe(step, {"fs": fs, "a": a, "b": b, "framer": framer, "payload": payload})
        fs.close()


def lifecycle_cases(s: Sockets) -> Iterator[Case]:
    """A new connection each iteration: its end (EOF, errors at EOF, close) is the case."""
    ff = s.ff
    framer = ff.LengthPrefixed(4)._bound_to(s.core)
    payload = b"hello world"
    wire = framer.encode(payload)
    name = f"lifecycle{s.suffix}"

    def with_pair(run: Callable[[Any, socket.socket], None]) -> Step:
        def step() -> None:
            a, b = socket.socketpair()
            with closing_all(a, b):
                fs = s.framed(a, framer)
                run(fs, b)
                fs.close()

        return step

    def connection_closed(fs: Any, b: socket.socket) -> None:
        b.close()
        raises(ff.ConnectionClosed, fs.recv)
        raises(ff.ConnectionClosed, fs.recv_many)
        raises(ff.ConnectionClosed, fs.recv_exactly, 1)

    def incomplete(fs: Any, b: socket.socket) -> None:
        b.sendall(wire + wire[:-1])
        b.close()
        equal(fs.recv(), payload)
        raises(ff.IncompleteFrame, fs.recv)

    def iterate_to_eof(fs: Any, b: socket.socket) -> None:
        b.sendall(wire * 3)
        b.close()
        equal(list(fs), [payload] * 3)

    def until_eof(fs: Any, b: socket.socket) -> None:
        b.sendall(wire)
        b.shutdown(socket.SHUT_WR)
        equal(fs.recv_until_eof(), wire)

    def until_eof_too_large(fs: Any, b: socket.socket) -> None:
        b.sendall(wire)
        b.close()
        raises(ff.FrameTooLarge, fs.recv_until_eof, max_size=4)

    def shutdown_close(fs: Any, b: socket.socket) -> None:
        fs.send(payload)
        fs.shutdown_write()
        equal(b.recv(100), wire)
        equal(b.recv(100), b"")
        with fs:
            pass
        fs.close()

    for label, run in [
        ("connection-closed", connection_closed),
        ("incomplete-frame", incomplete),
        ("iterate-to-eof", iterate_to_eof),
        ("recv_until_eof", until_eof),
        ("recv_until_eof-too-large", until_eof_too_large),
        ("shutdown-close", shutdown_close),
    ]:
        step = with_pair(run)
        yield Case(f"{name}/{label}", "lifecycle", lambda step=step: plain(step, framer=framer, payload=payload))
    if s.fd_path:  # ff.connect makes the default FramedSocket (the core's own)
        yield Case(f"{name}/connect", "lifecycle", lambda: connecting(ff, framer))
        yield Case(f"{name}/connect-refused", "lifecycle", lambda: refused(ff, framer))


@contextlib.contextmanager
def connecting(ff: ModuleType, framer: Any) -> Iterator[Probe]:
    server = socket.create_server(("127.0.0.1", 0))
    address = server.getsockname()
    with closing_all(server):

        def step() -> None:
            fs = ff.connect(address, framer, timeout=30)
            conn, _ = server.accept()
            fs.send(b"hi")
            equal(conn.recv(100), b"\x00\x00\x00\x02hi")
            conn.close()
            fs.close()

        yield Probe(step, {"framer": framer, "server": server})


@contextlib.contextmanager
def refused(ff: ModuleType, framer: Any) -> Iterator[Probe]:
    # bound, not listening: the port stays ours, and connecting to it is refused
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    address = holder.getsockname()
    missing = f"/nonexistent-{os.getpid()}/socket"
    with closing_all(holder):

        def step() -> None:
            raises(ConnectionRefusedError, ff.connect, address, framer, timeout=30)
            raises(FileNotFoundError, ff.connect, missing, framer)

        yield Probe(step, {"framer": framer, "holder": holder})


# -- asyncio -------------------------------------------------------------------------------


class FakeTransport:
    """What FramedProtocol asks of a transport, without an event loop."""

    def __init__(self) -> None:
        self.aborted = 0
        self.closing = False

    def abort(self) -> None:
        self.aborted += 1

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def aio_cases(ff: ModuleType, core: ModuleType) -> Iterator[Case]:
    aio = ff.aio
    framer = ff.LengthPrefixed(4, max_size=MAX)._bound_to(core)
    netstring = ff.Netstring()._bound_to(core)
    payload = b"hello world"
    wire = framer.encode(payload)
    stream = ff.LengthPrefixed(4).encode(b"x" * (3 * MAX)) + wire

    class Collector(aio.FramedProtocol):  # type: ignore[name-defined,misc]
        """Counts frames and errors; keeps going after FrameTooLarge."""

        def __init__(self, framer: Any) -> None:
            super().__init__(framer)
            self.frames = 0
            self.errors = 0

        def frame_received(self, frame: bytes) -> None:
            self.frames += 1

        def framing_error(self, exc: Exception) -> None:
            self.errors += 1
            if not isinstance(exc, ff.FrameTooLarge):
                super().framing_error(exc)

    def deliver(protocol: Any, data: bytes) -> None:
        view = protocol.get_buffer(len(data))
        view[: len(data)] = data
        protocol.buffer_updated(len(data))

    @contextlib.contextmanager
    def protocol(run: Callable[[Any, FakeTransport], None], fresh: bool, with_framer: Any = framer) -> Iterator[Probe]:
        transport = FakeTransport()
        kept = Collector(with_framer)
        kept.connection_made(transport)

        def step() -> None:
            proto = Collector(with_framer) if fresh else kept
            if fresh:
                proto.connection_made(transport)
            run(proto, transport)
            if fresh:
                proto.connection_lost(None)

        yield Probe(step, {"transport": transport, "framer": with_framer, "protocol": kept, "wire": wire})

    def frames(proto: Any, transport: FakeTransport) -> None:
        before = proto.frames
        deliver(proto, wire * 4)
        equal(proto.frames - before, 4)

    def lifecycle(proto: Any, transport: FakeTransport) -> None:
        deliver(proto, wire)
        equal(proto.eof_received(), None)
        equal(proto.frames, 1)

    def too_large(proto: Any, transport: FakeTransport) -> None:
        before = proto.frames, proto.errors
        deliver(proto, stream)
        equal((proto.frames, proto.errors), (before[0] + 1, before[1] + 1))

    def protocol_error(proto: Any, transport: FakeTransport) -> None:
        aborted = transport.aborted
        deliver(proto, b"5:hello,5:hello!")
        equal((proto.frames, proto.errors, transport.aborted), (1, 1, aborted + 1))

    def incomplete(proto: Any, transport: FakeTransport) -> None:
        aborted = transport.aborted
        deliver(proto, wire[:-1])
        proto.eof_received()
        equal((proto.errors, transport.aborted), (1, aborted + 1))

    yield Case("aio/protocol-frames", "aio", lambda: protocol(frames, fresh=False))
    yield Case("aio/protocol-lifecycle", "aio", lambda: protocol(lifecycle, fresh=True))
    yield Case("aio/protocol-too-large", "aio", lambda: protocol(too_large, fresh=False))
    yield Case("aio/protocol-error", "aio", lambda: protocol(protocol_error, fresh=True, with_framer=netstring))
    yield Case("aio/protocol-incomplete", "aio", lambda: protocol(incomplete, fresh=True))
    yield Case("aio/stream-roundtrip", "aio", lambda: streams(ff, framer, payload, stream))
    yield Case("aio/stream-connection", "aio", lambda: stream_connections(ff, framer, payload))


@contextlib.contextmanager
def streams(ff: ModuleType, framer: Any, payload: bytes, stream: bytes) -> Iterator[Probe]:
    """One loop, one connection: each iteration sends frames one way, an oversize
    frame among them, and reads them at the other end."""
    aio = ff.aio
    loop = asyncio.new_event_loop()
    a, b = socket.socketpair()
    reader, writer = loop.run_until_complete(aio.open_connection(sock=a, framer=framer))
    peer_reader, peer_writer = loop.run_until_complete(aio.open_connection(sock=b, framer=framer))
    several = [payload] * 4

    async def roundtrip() -> None:
        writer.send(payload)
        writer.send_many(several)
        writer.sendall(stream)
        await writer.drain()
        equal(await peer_reader.recv(), payload)
        got = 0
        while got < 4:
            got += len(await peer_reader.recv_many())
        try:
            await peer_reader.recv()
        except ff.FrameTooLarge:
            pass
        else:
            raise Unexpected("no FrameTooLarge")
        equal(await peer_reader.recv(), payload)

    try:
        yield Probe(
            lambda: loop.run_until_complete(roundtrip()),
            {"reader": peer_reader, "writer": writer, "framer": framer, "payload": payload, "loop": loop},
        )
    finally:
        for w in (writer, peer_writer):
            w.close()
            loop.run_until_complete(w.wait_closed())
        loop.close()


@contextlib.contextmanager
def stream_connections(ff: ModuleType, framer: Any, payload: bytes) -> Iterator[Probe]:
    """One loop; each iteration a new connection, ended by a frame cut short
    (IncompleteFrame), a clean EOF (ConnectionClosed) and a closed writer."""
    aio = ff.aio
    loop = asyncio.new_event_loop()
    wire = framer.encode(payload)

    async def once() -> None:
        a, b = socket.socketpair()
        reader, writer = await aio.open_connection(sock=a, framer=framer)
        peer_reader, peer_writer = await aio.open_connection(sock=b, framer=framer)
        writer.send(payload)
        writer.sendall(wire[:-1])
        writer.write_eof()
        equal(await peer_reader.recv(), payload)
        try:
            await peer_reader.recv()
        except ff.IncompleteFrame:
            pass
        else:
            raise Unexpected("no IncompleteFrame")
        peer_writer.send(payload)
        peer_writer.write_eof()
        equal([frame async for frame in reader], [payload])
        try:
            await reader.recv()
        except ff.ConnectionClosed:
            pass
        else:
            raise Unexpected("no ConnectionClosed")
        for w in (writer, peer_writer):
            w.close()
            await w.wait_closed()
        raises(RuntimeError, writer.send, payload)

    try:
        yield Probe(lambda: loop.run_until_complete(once()), {"framer": framer, "payload": payload, "loop": loop})
    finally:
        loop.close()


# -- the whole table ----------------------------------------------------------------------


def all_cases(ff: ModuleType, core: ModuleType) -> list[Case]:
    cases: list[Case] = []
    for framing in framings(ff):
        cases += framer_cases(ff, core, framing)
        cases += encode_cases(ff, core, framing)
        cases += decode_cases(ff, core, framing)
    paths = [True, False] if core.IMPLEMENTATION == "cython" else [True]
    for fd_path in paths:
        cases += socket_cases(Sockets(ff, core, fd_path))
    for fd_path in paths:
        cases += lifecycle_cases(Sockets(ff, core, fd_path))
    cases += aio_cases(ff, core)
    return cases


def shared_objects(ff: ModuleType) -> dict[str, object]:
    """Objects every case could leak references to: the exception classes, the singletons."""
    classes = [
        ff.FastframeError,
        ff.FrameTooLarge,
        ff.ProtocolError,
        ff.ConnectionClosed,
        ff.IncompleteFrame,
        TimeoutError,
        BlockingIOError,
        OSError,
        TypeError,
        ValueError,
        RuntimeError,
        ConnectionRefusedError,
        FileNotFoundError,
        Unexpected,
    ]
    return {cls.__name__: cls for cls in classes} | SINGLETONS


# -- proving that the checker fails -----------------------------------------------------

_kept: list[object] = []  # where the twin's injected leak puts the frames


def injected_cases(ff: ModuleType, core: ModuleType) -> list[tuple[Case, tuple[str, ...]]]:
    """Cases with a leak injected, and the measures that must report it."""
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    framer = ff.LengthPrefixed(4)
    codec = framer._codec_in(core)
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
    if core.IMPLEMENTATION == "python":

        @contextlib.contextmanager
        def twin_keeps_frames() -> Iterator[Probe]:
            feed = core.Decoder.feed

            def keeping_feed(self: Any, data: Any) -> list[bytes]:
                frames: list[bytes] = feed(self, data)
                _kept.extend(frames)
                return frames

            core.Decoder.feed = keeping_feed
            try:
                dec = codec.decoder()
                yield Probe(lambda: dec.feed(wire), {"decoder": dec, "wire": wire})
            finally:
                core.Decoder.feed = feed
                _kept.clear()

        cases.append((Case("inject/twin-feed-keeps-frames", "decode", twin_keeps_frames), ("blocks", "traced")))
    return cases


# -- running ------------------------------------------------------------------------------


def parse_iterations(values: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(GROUPS, DEFAULT_ITERATIONS)
    for value in values:
        group, _, number = value.rpartition("=")
        if group and group not in GROUPS:
            raise SystemExit(f"unknown group {group!r}: one of {', '.join(GROUPS)}")
        for name in [group] if group else GROUPS:
            counts[name] = int(number)
    return counts


def run_core(core_name: str, counts: dict[str, int], only: str | None, self_check: bool) -> int:
    ff = importlib.import_module("fastframe")
    if core_name != ff.IMPLEMENTATION:
        sys.exit(f"fastframe.IMPLEMENTATION is {ff.IMPLEMENTATION!r}, expected {core_name!r}")
    core = importlib.import_module("fastframe._speedups" if core_name == "cython" else "fastframe._purepython")
    shared = shared_objects(ff)
    if self_check:
        planned = injected_cases(ff, core)
    else:
        planned = [(case, ()) for case in all_cases(ff, core)]
    if only:
        planned = [(case, expected) for case, expected in planned if fnmatch.fnmatch(case.name, only)]
    print(f"core {core_name}: {core.__file__}; blocks limit iterations//100+500, RSS limit {RSS_LIMIT // 1024} KiB,")
    print(f"traced limit traced iterations*4 B + 16 KiB; traced with tracemalloc on iterations//{TRACED_SHARE}")
    print(HEADER, flush=True)
    failures = 0
    start = time.monotonic()
    for case, expected in planned:
        result = measure(case, counts[case.group], shared)
        if self_check:
            missed = [measure for measure in expected if measure not in result.leaks]
            failures += bool(missed)
            print(row(result), f"(MISSED by {','.join(missed)})" if missed else "(injected leak reported)", flush=True)
        else:
            failures += bool(result.leaks)
            print(row(result), flush=True)
    print(f"core {core_name}: {len(planned)} cases, {failures} failing, {time.monotonic() - start:.1f} s", flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--core", choices=[*CORES, "both"], default="both")
    parser.add_argument(
        "--iterations",
        action="append",
        default=[],
        metavar="N|GROUP=N",
        help=f"iterations per case (default {DEFAULT_ITERATIONS}), or for one group of {', '.join(GROUPS)}",
    )
    parser.add_argument("--only", metavar="PATTERN", help="only the cases whose name matches this glob")
    parser.add_argument("--self-check", action="store_true", help="inject leaks; fail unless each is reported")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # run here, in this process
    args = parser.parse_args(argv)
    counts = parse_iterations(args.iterations)
    if args.self_check:  # enough for each injected leak to pass its limits, and no more unless asked
        floor = SELF_CHECK_ITERATIONS
        counts = {group: max(n, floor) if args.iterations else floor for group, n in counts.items()}
    if args.worker:
        return run_core(args.core, counts, args.only, args.self_check)
    status = 0
    for core_name in CORES if args.core == "both" else [args.core]:
        env = dict(os.environ, FASTFRAME_PURE_PYTHON="1" if core_name == "python" else "0")
        command = [sys.executable, __file__, "--worker", "--core", core_name]
        command += [f"--iterations={value}" for value in args.iterations]
        command += [f"--only={args.only}"] if args.only else []
        command += ["--self-check"] if args.self_check else []
        status = max(status, subprocess.run(command, env=env).returncode)
    return status


if __name__ == "__main__":
    sys.exit(main())
