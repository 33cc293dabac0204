"""Driving the code under test call by call: a decoder's calls as values (Feed,
Buffer, Eof, Detach), what each returned or raised, the events of a whole stream,
chunkings of a stream, and the encoders called with a head where the framing takes
one.  A decoder call that never returns fails its test (``deadline``) instead of
stopping the run.
"""

from __future__ import annotations

import contextlib
import faulthandler
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastframe as ff
from fastframe.errors import IncompleteFrame, ProtocolError

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


def F(frame: bytes) -> tuple:
    """A frame as an event, in the format of ``events``."""
    return ("frame", frame)


def E(exc: BaseException) -> tuple:
    """An exception as an event, in the format of ``events``."""
    return error_of(exc)


def raises(call: Any, *args: Any) -> BaseException:
    """The exception ``call(*args)`` raises (fails if it returns)."""
    with deadline():
        try:
            result = call(*args)
        except Exception as exc:  # noqa: BLE001
            return exc
    raise AssertionError(f"returned {result!r} instead of raising")


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


def splits(data: bytes) -> list[list[bytes]]:
    """every_split() of short data; of longer data, whole, byte by byte and in
    7-byte pieces."""
    if len(data) <= 200:
        return every_split(data)
    return [[data], [data[i : i + 1] for i in range(len(data))], split(data, range(0, len(data), 7))]


def feed_ops(chunks: list[bytes]) -> list[Feed]:
    return [Feed(c) for c in chunks]


# -- encoding ------------------------------------------------------------------------


def encode_with(codec: Any, framer: Any, payload: bytes, head: bytes = b"") -> bytes:
    if isinstance(framer, ff.LengthPrefixed):
        return codec.encode(payload, head)  # type: ignore[no-any-return]
    return codec.encode(payload)  # type: ignore[no-any-return]


def encode_many_with(codec: Any, framer: Any, payloads: list[bytes], head: bytes = b"") -> bytes:
    if isinstance(framer, ff.LengthPrefixed):
        return codec.encode_many(payloads, head)  # type: ignore[no-any-return]
    return codec.encode_many(payloads)  # type: ignore[no-any-return]


def encode_outcome(core: Any, framer: Any, method: str, arg: Any, head: Any) -> tuple:
    """("ok", the bytes) or ("error", type, args): what a core's codec makes of
    ``arg`` with ``method`` ("encode" or "encode_many")."""
    encode = encode_with if method == "encode" else encode_many_with
    try:
        return ("ok", encode(core.codec(framer), framer, arg, head))
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return ("error", type(exc), exc.args)
