"""Shared by the test modules: driving a decoder call by call, recording what it
returns or raises, expected wire bytes computed independently of fastframe, and
hypothesis strategies for framers, payloads and streams.

Nothing here calls the encoders under test: the wire bytes a test expects are built
from DESIGN.md's description of each framing.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import fastframe as ff
from fastframe import _messages
from fastframe.errors import FrameTooLarge, IncompleteFrame, ProtocolError

# The ``impl`` fixture is function-scoped but immutable, so sharing it between
# hypothesis examples is safe.
IMPL_SETTINGS = settings(
    suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.function_scoped_fixture]
)


# -- guarding against decoders that never return -------------------------------------


class Hang(AssertionError):
    """A decoder call did not return: an infinite loop is a test failure, not a stuck run."""


@contextlib.contextmanager
def deadline(seconds: float = 2.0) -> Iterator[None]:
    if not hasattr(signal, "setitimer"):  # Windows: nothing can interrupt the call
        # A hang ends the test run (with every thread's traceback) instead of
        # failing one test; the margin keeps a slow runner from tripping it.
        faulthandler.dump_traceback_later(max(30 * seconds, 60), exit=True)
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang(f"a decoder call did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- calls and what they did --------------------------------------------------------


def _short(data: bytes) -> str:
    if len(data) <= 48:
        return repr(data)
    return f"<{len(data)} bytes {data[:24]!r}...{data[-8:]!r}>"


@dataclass(frozen=True)
class Feed:
    data: bytes

    def __repr__(self) -> str:
        return f"Feed({_short(self.data)})"


@dataclass(frozen=True)
class Buffer:
    """get_buffer(sizehint), write ``data`` at the view's start (and junk after it,
    which must be ignored), buffer_updated(len(data)).  ``sizehint`` is always large
    enough for ``data`` so both implementations make exactly one call."""

    data: bytes
    sizehint: int

    def __repr__(self) -> str:
        return f"Buffer({_short(self.data)}, sizehint={self.sizehint})"


@dataclass(frozen=True)
class Eof:
    pass


@dataclass(frozen=True)
class Detach:
    pass


Op = Feed | Buffer | Eof | Detach


def error_of(exc: BaseException) -> tuple[str, type, tuple]:
    return ("error", type(exc), exc.args)


def call(dec: Any, op: Op) -> tuple:
    """Run one call; return ("frames", [...]), ("detached", b"...") or ("error", type, args)."""
    try:
        if isinstance(op, Feed):
            result = dec.feed(op.data)
        elif isinstance(op, Buffer):
            view = dec.get_buffer(op.sizehint)
            n = len(op.data)
            assert not view.readonly
            assert len(view) >= max(op.sizehint, 1), (len(view), op.sizehint)
            view[:n] = op.data
            junk = min(len(view) - n, 3)
            view[n : n + junk] = b"\xee" * junk
            view.release()
            result = dec.buffer_updated(n)
        elif isinstance(op, Eof):
            result = dec.eof()
        else:
            detached = dec.detach()
            assert type(detached) is bytes
            return ("detached", detached)
    except Hang:
        raise
    except Exception as exc:  # noqa: BLE001 - the exception *is* the result
        return error_of(exc)
    assert type(result) is list, type(result)
    assert all(type(frame) is bytes for frame in result)
    return ("frames", result)


def events(dec: Any, ops: Sequence[Op], *, bound: int = 64) -> list[tuple]:
    """Everything a decoder delivers for ``ops`` then end of stream, one frame per event.

    Stops at the first ProtocolError (it repeats on every later call) and at an
    IncompleteFrame from eof().  The end of stream is drained with eof() until it
    returns [] without raising; more than ``bound`` eof() calls is a failure.
    """
    out: list[tuple] = []
    with deadline():
        for op in ops:
            result = call(dec, op)
            if result[0] == "frames":
                out += [("frame", frame) for frame in result[1]]
            else:
                out.append(result)
                if result[1] is ProtocolError:
                    return out
        for _ in range(bound):
            result = call(dec, Eof())
            if result == ("frames", []):
                return out
            if result[0] == "frames":
                out += [("frame", frame) for frame in result[1]]
                continue
            out.append(result)
            if result[1] in (ProtocolError, IncompleteFrame):
                return out
    raise AssertionError(f"eof() still not settled after {bound} calls: {out[-5:]}")


# one framer of each kind and a spread of LengthPrefixed options, for the tests
# that run every framing end to end
FRAMERS = [
    ff.LengthPrefixed(4),
    ff.LengthPrefixed(8, byteorder="little"),
    ff.LengthPrefixed(1, adjustment=2, strip=0),
    ff.LengthPrefixed(2, byteorder="little", offset=2, adjustment=-3, strip=1),
    ff.LengthPrefixed(4, offset=1, adjustment=-4, strip=0),  # PostgreSQL
    ff.Lines(),
    ff.Delimited(b"<END>"),
    ff.Delimited(b"\r\n\r\n", keep=True),
    ff.FixedSize(7),
    ff.Netstring(),
    ff.VarintPrefixed(),
]


SRC = Path(__file__).resolve().parents[1] / "src"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python that imports the fastframe this process
    imports: the source tree's is put on PYTHONPATH when it is not installed."""
    env = {**os.environ, **extra}
    if Path(ff.__file__).resolve().is_relative_to(SRC):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def frames_of(dec: Any, chunks: Sequence[bytes]) -> list[bytes]:
    """Feed ``chunks`` (which must decode without error) and return all frames."""
    frames: list[bytes] = []
    with deadline():
        for chunk in chunks:
            frames += dec.feed(chunk)
            assert all(type(frame) is bytes for frame in frames)
        assert dec.eof() == []
    return frames


def frames_via_buffer(dec: Any, chunks: Sequence[bytes], sizehint: int = -1) -> list[bytes]:
    """Like frames_of but through get_buffer/buffer_updated, honouring whatever
    view size the decoder hands out."""
    frames: list[bytes] = []
    with deadline():
        for chunk in chunks:
            while True:
                view = dec.get_buffer(sizehint)
                assert not view.readonly and len(view) >= max(sizehint, 1)
                n = min(len(view), len(chunk))
                view[:n] = chunk[:n]
                view.release()
                frames += dec.buffer_updated(n)
                chunk = chunk[n:]
                if not chunk:
                    break
        assert dec.eof() == []
    return frames


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (any order, duplicates give empty chunks)."""
    points = [0, *sorted(min(max(c, 0), len(data)) for c in cuts), len(data)]
    return [data[a:b] for a, b in zip(points, points[1:])]


def every_split(data: bytes) -> list[list[bytes]]:
    """A few deterministic splits: whole, byte by byte, and every two-piece split."""
    splits = [[data], [data[i : i + 1] for i in range(len(data))]]
    splits += [[data[:i], data[i:]] for i in range(1, len(data))]
    return splits


# -- the wire, computed from DESIGN.md (never by fastframe's encoders) ----------------


def varint(n: int) -> bytes:
    """Protobuf base-128: 7 bits per byte, least significant group first."""
    out = []
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


def length_field(framer: ff.LengthPrefixed, n: int) -> int:
    """The field value announcing an n-byte body."""
    return n - framer.adjustment


def field_bytes(framer: ff.LengthPrefixed, value: int) -> bytes:
    return value.to_bytes(framer.width, framer.byteorder)


def lp_frame_size(framer: ff.LengthPrefixed, body: int) -> int:
    return body + framer.offset + framer.width - framer.strip


def delimiter_of(framer: Any) -> bytes:
    return b"\n" if isinstance(framer, ff.Lines) else framer.delimiter


@dataclass(frozen=True)
class Expect:
    """What encoding one payload must give: its wire bytes and decoded frame, or an error.

    ``errors`` lists the acceptable (type, args) pairs; several only where DESIGN.md
    does not say which of two simultaneous faults wins.  ``size_only`` marks a
    FrameTooLarge whose max_size argument is not pinned (the length field, not
    max_size, is the limit there).
    """

    wire: bytes | None = None
    frame: bytes | None = None
    errors: tuple[tuple[type, tuple], ...] = ()
    size_only: bool = False

    @property
    def ok(self) -> bool:
        return self.wire is not None

    def check_error(self, exc: BaseException) -> None:
        assert not self.ok, f"unexpected {exc!r}"
        if self.size_only:
            assert type(exc) is FrameTooLarge and exc.size == self.errors[0][1][0], repr(exc)
            assert exc.max_size <= self.errors[0][1][1]
            return
        assert (type(exc), exc.args) in self.errors, f"{exc!r} not in {self.errors}"


def expect(framer: Any, payload: bytes, head: bytes = b"") -> Expect:
    """The outcome DESIGN.md prescribes for encoding ``payload`` with ``framer``."""
    n = len(payload)
    if isinstance(framer, ff.LengthPrefixed):
        if len(head) != framer.offset:
            return Expect(errors=((ValueError, _messages.head_size(framer.offset, len(head)).args),))
        value = length_field(framer, n)
        size = lp_frame_size(framer, n)
        errors = []
        if value > 2 ** (8 * framer.width) - 1:
            return Expect(errors=((FrameTooLarge, (size, framer.max_size)),), size_only=True)
        if size > framer.max_size:
            errors.append((FrameTooLarge, (size, framer.max_size)))
        if value < 0:
            errors.append((ValueError, _messages.body_below_adjustment(n, framer.adjustment).args))
        if errors:
            return Expect(errors=tuple(errors))
        wire = head + field_bytes(framer, value) + payload
        return Expect(wire=wire, frame=wire[framer.strip :])
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        delim = delimiter_of(framer)
        keep = getattr(framer, "keep", False)
        errors = []
        # the decoder ends the frame at the first delimiter of payload + delimiter
        if (payload + delim).find(delim) != n:
            errors.append((ValueError, _messages.contains_delimiter(delim).args))
        elif isinstance(framer, ff.Lines) and payload.endswith(b"\r"):
            errors.append((ValueError, _messages.line_ends_with_cr().args))
        size = n + len(delim) * keep
        if size > framer.max_size:
            errors.append((FrameTooLarge, (size, framer.max_size)))
        if errors:
            return Expect(errors=tuple(errors))
        return Expect(wire=payload + delim, frame=payload + delim if keep else payload)
    if isinstance(framer, ff.FixedSize):
        if n != framer.size:
            return Expect(errors=((ValueError, _messages.wrong_fixed_size(framer.size, n).args),))
        return Expect(wire=payload, frame=payload)
    if n > framer.max_size:
        return Expect(errors=((FrameTooLarge, (n, framer.max_size)),))
    if isinstance(framer, ff.Netstring):
        return Expect(wire=netstring(payload), frame=payload)
    assert isinstance(framer, ff.VarintPrefixed)
    return Expect(wire=varint(n) + payload, frame=payload)


def encode_with(codec: Any, framer: Any, payload: bytes, head: bytes = b"") -> bytes:
    if isinstance(framer, ff.LengthPrefixed):
        return codec.encode(payload, head)  # type: ignore[no-any-return]
    return codec.encode(payload)  # type: ignore[no-any-return]


def encode_many_with(codec: Any, framer: Any, payloads: list[bytes], head: bytes = b"") -> bytes:
    if isinstance(framer, ff.LengthPrefixed):
        return codec.encode_many(payloads, head)  # type: ignore[no-any-return]
    return codec.encode_many(payloads)  # type: ignore[no-any-return]


def oversize_frame(framer: Any, n: int, body: int | None = None, fill: int = 0x78) -> bytes:
    """A wire frame announcing an n-byte body, built without the encoder's checks;
    only its first ``body`` body bytes when given (length-announcing framings)."""
    body_bytes = bytes([fill]) * (n if body is None else body)
    if isinstance(framer, ff.LengthPrefixed):
        value = min(max(length_field(framer, n), 0), 2 ** (8 * framer.width) - 1)
        return b"H" * framer.offset + field_bytes(framer, value) + body_bytes
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        return bytes([fill]) * n + delimiter_of(framer)
    if isinstance(framer, ff.Netstring):
        return str(n).encode() + b":" + body_bytes + (b"," if body is None else b"")
    if isinstance(framer, ff.VarintPrefixed):
        return varint(n) + body_bytes
    return bytes([fill]) * framer.size


# -- strategies ---------------------------------------------------------------------

DELIMITER_ALPHABET = b"ab\r\n"


def max_sizes(low: int = 1, high: int = 40) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, high), st.just(ff.DEFAULT_MAX_SIZE))


@st.composite
def length_prefixed(draw: st.DrawFn, max_size: st.SearchStrategy[int] | None = None) -> Any:
    width = draw(st.sampled_from([1, 2, 4, 8]))
    offset = draw(st.integers(0, 3))
    header = offset + width
    return ff.LengthPrefixed(
        width,
        byteorder=draw(st.sampled_from(["big", "little"])),
        offset=offset,
        adjustment=draw(st.one_of(st.integers(-3, 3), st.sampled_from([-header, -width]))),
        strip=draw(st.one_of(st.none(), st.integers(0, header))),
        max_size=draw(max_sizes() if max_size is None else max_size),
    )


@st.composite
def delimited(draw: st.DrawFn, max_size: st.SearchStrategy[int] | None = None) -> Any:
    delimiter = draw(
        st.one_of(
            st.lists(st.sampled_from(DELIMITER_ALPHABET), min_size=1, max_size=4).map(bytes),
            st.binary(min_size=1, max_size=3),
            # periodic delimiters: where a payload's tail can straddle into them
            st.tuples(
                st.lists(st.sampled_from(b"ab"), min_size=1, max_size=2).map(bytes), st.integers(2, 3)
            ).map(lambda t: t[0] * t[1]),
        )
    )
    return ff.Delimited(
        delimiter,
        max_size=draw(max_sizes() if max_size is None else max_size),
        keep=draw(st.booleans()),
    )


def framers(max_size: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Any]:
    sizes = max_sizes() if max_size is None else max_size
    return st.one_of(
        length_prefixed(sizes),
        delimited(sizes),
        sizes.map(lambda m: ff.Lines(max_size=m)),
        st.integers(1, 12).map(ff.FixedSize),
        sizes.map(lambda m: ff.Netstring(max_size=m)),
        st.one_of(sizes, st.integers(100, 300)).map(lambda m: ff.VarintPrefixed(max_size=m)),
    )


def payloads(framer: Any, extra: int = 3) -> st.SearchStrategy[bytes]:
    """Payloads for ``framer``: mostly valid, a few bytes over max_size at times."""
    if isinstance(framer, ff.FixedSize):
        return st.binary(min_size=framer.size, max_size=framer.size)
    longest = min(framer.max_size, 300 if isinstance(framer, ff.VarintPrefixed) else 40) + extra
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        delim = delimiter_of(framer)
        alphabet = sorted(set(delim + b"x\r"))
        body = st.lists(st.sampled_from(alphabet), max_size=longest).map(bytes)
        # often end with a proper prefix of the delimiter: the straddling case
        return st.one_of(
            body,
            st.tuples(body, st.integers(1, max(len(delim) - 1, 1))).map(lambda t: t[0] + delim[: t[1]]),
            # pieces of the delimiter itself
            st.tuples(st.integers(0, len(delim)), st.integers(0, len(delim))).map(lambda t: delim[t[0] : t[1]]),
        )
    return st.binary(max_size=longest)


def heads(framer: Any) -> st.SearchStrategy[bytes]:
    offset = framer.offset if isinstance(framer, ff.LengthPrefixed) else 0
    return st.binary(min_size=offset, max_size=offset)


@st.composite
def segments(draw: st.DrawFn, framer: Any) -> bytes:
    """One piece of a stream: a well-formed frame, an oversize one, or garbage."""
    kind = draw(st.sampled_from(["frame", "frame", "frame", "oversize", "garbage"]))
    if kind == "frame":
        payload = draw(payloads(framer, extra=0))
        outcome = expect(framer, payload, draw(heads(framer)))
        if outcome.ok:
            return outcome.wire  # type: ignore[return-value]
        return b""
    if kind == "oversize":
        n = framer.max_size + draw(st.integers(1, 20))
        if framer.max_size < 1000:
            return oversize_frame(framer, n)
        if not isinstance(framer, (ff.Delimited, ff.Lines, ff.FixedSize)):
            # a header announcing too much, then a few of its bytes
            return oversize_frame(framer, n, body=draw(st.integers(0, 30)))
    if isinstance(framer, (ff.Delimited, ff.Lines)):
        alphabet = sorted(set(delimiter_of(framer) + b"x\r"))
        return bytes(draw(st.lists(st.sampled_from(alphabet), max_size=12)))
    if isinstance(framer, ff.Netstring):
        return bytes(draw(st.lists(st.sampled_from(b"0123456789:,x"), max_size=8)))
    if isinstance(framer, ff.VarintPrefixed):
        return bytes(draw(st.lists(st.sampled_from([0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xFF]), max_size=12)))
    return draw(st.binary(max_size=12))


@st.composite
def streams(draw: st.DrawFn, framer: Any) -> bytes:
    return b"".join(draw(st.lists(segments(framer), max_size=8)))


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at random points: anything from one chunk to one byte per chunk."""
    if data and draw(st.integers(0, 7)) == 0:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=12))
    return split(data, cuts)


@st.composite
def ops_for(draw: st.DrawFn, data: bytes, *, extra: bool = False) -> list[Op]:
    """``data`` as a sequence of feed / get_buffer+buffer_updated calls (and, with
    ``extra``, an occasional eof() or detach() in between)."""
    out: list[Op] = []
    for chunk in draw(chunkings(data)):
        if draw(st.booleans()):
            out.append(Feed(chunk))
        else:
            hints = [len(chunk), len(chunk) + draw(st.integers(1, 100))]
            if len(chunk) <= 1:
                hints += [-1, 0]
            out.append(Buffer(chunk, draw(st.sampled_from(hints))))
        if extra and draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from([Eof(), Detach()])))
    return out


def memory_capped_child(cap_mib: int) -> str:
    """The start of a child process whose address space is capped at ``cap_mib``
    MiB more than it uses once fastframe and the core named by argv[1] are imported
    (Linux): big allocations fail, so a test sees what a core reserves.  Defines
    ``ff``, ``core``, ``MiB`` and ``vm(field)``; exits at once if the cap does not
    bite."""
    return textwrap.dedent(
        f"""
        import importlib, resource, sys

        import fastframe as ff

        core = importlib.import_module(sys.argv[1])
        MiB = 1024 * 1024

        def vm(field):
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
            raise LookupError(field)

        start = vm("VmSize")
        limit = start + {cap_mib} * MiB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:  # the cap really bites
            bytearray({cap_mib + 512} * MiB)
        except MemoryError:
            pass
        else:
            sys.exit("RLIMIT_AS is not enforced")
        """
    )


MEMORY_CAPPED_CHILD = memory_capped_child(1024)
