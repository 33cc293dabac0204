"""One behaviour, every front end: the same scripted conversation, read through
FramedSocket, through fastframe.aio's reader (on asyncio and uvloop) and through
fastframe.anyio's FramedStream (on anyio's asyncio and trio backends), gives the
same result or error at every call, on each core.

A conversation is drawn at random: stretches of frames of one framer or another
(the reader switches framer between them), raw reads (``recv_exactly``,
``recv_until`` with and without ``keep``, a line over its ``max_size``), and an
ending (a clean end, bytes to the end, or a frame cut short).  The peer sends
its bytes in random chunks and closes; each front end makes the same calls.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.abc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastframe as ff
from fastframe import aio
from fastframe.anyio import FramedStream
from tests.aio.running import run
from tests.conftest import UVLOOP_MISSING
from tests.support.calls import split

TIMEOUT = 10.0
FRAMERS = [
    ff.LengthPrefixed(4),
    ff.LengthPrefixed(3, byteorder="little", adjustment=1, strip=3),  # MySQL packets
    ff.LengthPrefixed(2, offset=1, strip=0),
    ff.Lines(),
    ff.Netstring(),
    ff.FixedSize(5),
    ff.VarintPrefixed(),
]
ALPHABET = b"ab;x"  # no \n nor \r (Lines), and ; is a raw read's delimiter

# A call: (name, args, kwargs) in FramedSocket's words; FramedStream's are its anyio names.
Call = tuple[str, tuple[Any, ...], dict[str, Any]]
ANYIO_NAMES = {
    "recv": "receive",
    "recv_exactly": "receive_exactly",
    "recv_until": "receive_until",
    "recv_until_eof": "receive_until_eof",
}


def encoded(framer: ff.Framer, payloads: list[bytes]) -> bytes:
    if getattr(framer, "offset", 0):
        return b"".join(framer.encode(p, head=b"T" * framer.offset) for p in payloads)
    return framer.encode_many(payloads)


def fits(framer: ff.Framer, payload: bytes) -> bytes:
    if isinstance(framer, ff.FixedSize):
        return payload[:5].ljust(5, b"a")
    if isinstance(framer, ff.LengthPrefixed) and framer.adjustment > 0:
        return payload.rjust(framer.adjustment, b"a")  # the body holds what the field leaves out
    return payload


@st.composite
def conversations(draw: st.DrawFn) -> tuple[bytes, list[Call]]:
    """The bytes a peer sends, and the calls that read them."""
    wire = bytearray()
    calls: list[Call] = []
    framer = FRAMERS[0]
    text = st.binary(max_size=12).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b))
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["frames", "exactly", "until", "too long"]))
        if kind == "frames":
            new = draw(st.sampled_from(FRAMERS))
            if new is not framer:
                calls.append(("framer", (new,), {}))
                framer = new
            payloads = [fits(framer, p) for p in draw(st.lists(text.map(lambda t: t.replace(b";", b"")), max_size=4))]
            wire += encoded(framer, payloads)
            calls += [("recv", (), {})] * len(payloads)
        elif kind == "exactly":
            data = draw(text)
            wire += data
            calls.append(("recv_exactly", (len(data),), {}))
        elif kind == "until":
            data = draw(text).replace(b";", b"")
            wire += data + b";"
            calls.append(("recv_until", (b";",), {"keep": draw(st.booleans())}))
        else:  # over max_size: FrameTooLarge, and the line is skipped to its delimiter
            wire += b"abcdefgh;"
            calls.append(("recv_until", (b";",), {"max_size": 4}))
    ending = draw(st.sampled_from(["clean", "to the end", "cut short"]))
    if ending == "to the end":
        wire += draw(text)
        calls.append(("recv_until_eof", (), {}))
    elif ending == "cut short":
        wire += encoded(framer, [fits(framer, b"abcdef")])[:-1]
    calls.append(("recv", (), {}))  # at the end: EOF, or the frame cut short
    return bytes(wire), calls


def described(exc: Exception) -> tuple[Any, ...]:
    """An error in words every front end shares: a clean end is "eof"."""
    if isinstance(exc, ff.IncompleteFrame):
        return ("IncompleteFrame", exc.partial, exc.expected)
    if isinstance(exc, (ff.ConnectionClosed, anyio.EndOfStream)):
        return ("eof",)
    if isinstance(exc, ff.FastframeError):
        return (type(exc).__name__, *exc.args)
    raise exc


def peer(sock: socket.socket, chunks: Sequence[bytes]) -> threading.Thread:
    def send() -> None:
        with sock:
            for chunk in chunks:
                sock.sendall(chunk)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def through_socket(impl: Any, chunks: Sequence[bytes], calls: list[Call]) -> list[tuple[Any, ...]]:
    a, b = socket.socketpair()
    sender = peer(a, chunks)
    b.settimeout(TIMEOUT)
    results = []
    with impl.FramedSocket(b, impl.bind(FRAMERS[0])) as fs:
        for name, args, kwargs in calls:
            if name == "framer":
                fs.framer = impl.bind(args[0])
                continue
            try:
                results.append(("ok", getattr(fs, name)(*args, **kwargs)))
            except Exception as exc:  # noqa: BLE001 - put in the shared words
                results.append(described(exc))
    sender.join(TIMEOUT)
    return results


def through_anyio(impl: Any, backend: str, chunks: Sequence[bytes], calls: list[Call]) -> list[tuple[Any, ...]]:
    a, b = socket.socketpair()
    sender = peer(a, chunks)
    results: list[tuple[Any, ...]] = []

    async def read() -> None:
        with anyio.fail_after(TIMEOUT):
            stream = FramedStream(await anyio.abc.SocketStream.from_socket(b), impl.bind(FRAMERS[0]))
            async with stream:
                for name, args, kwargs in calls:
                    if name == "framer":
                        stream.framer = impl.bind(args[0])
                        continue
                    method = getattr(stream, ANYIO_NAMES[name])
                    try:
                        results.append(("ok", await method(*args, **kwargs)))
                    except Exception as exc:  # noqa: BLE001 - put in the shared words
                        results.append(described(exc))

    anyio.run(read, backend=backend)
    sender.join(TIMEOUT)
    return results


def through_aio(impl: Any, loop_kind: str, chunks: Sequence[bytes], calls: list[Call]) -> list[tuple[Any, ...]]:
    a, b = socket.socketpair()
    sender = peer(a, chunks)
    results: list[tuple[Any, ...]] = []

    async def read() -> None:
        reader, writer = await aio.open_connection(sock=b, framer=impl.bind(FRAMERS[0]))
        try:
            for name, args, kwargs in calls:
                if name == "framer":
                    reader.framer = impl.bind(args[0])
                    continue
                try:
                    results.append(("ok", await asyncio.wait_for(getattr(reader, name)(*args, **kwargs), TIMEOUT)))
                except Exception as exc:  # noqa: BLE001 - put in the shared words
                    results.append(described(exc))
        finally:
            writer.close()

    run(loop_kind, read)
    sender.join(TIMEOUT)
    return results


FRONT_ENDS = [
    pytest.param(through_anyio, "asyncio", id="anyio-asyncio"),
    pytest.param(through_anyio, "trio", id="anyio-trio"),
    pytest.param(through_aio, "asyncio", id="aio-asyncio"),
    pytest.param(
        through_aio, "uvloop", id="aio-uvloop", marks=pytest.mark.skipif(UVLOOP_MISSING is not None, reason=str(UVLOOP_MISSING))
    ),
]


@pytest.mark.parametrize(("through", "loop"), FRONT_ENDS)
@settings(max_examples=60)
@given(conversation=conversations(), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_front_ends_agree(
    impl: Any, through: Any, loop: str, conversation: tuple[bytes, list[Call]], cuts: list[int]
) -> None:
    wire, calls = conversation
    chunks = split(wire, cuts)
    expected = through_socket(impl, chunks, calls)
    assert expected[-1][0] in ("eof", "IncompleteFrame")  # the script reads to the end
    assert through(impl, loop, chunks, calls) == expected


@pytest.mark.parametrize(("through", "loop"), FRONT_ENDS)
@pytest.mark.parametrize("size", [70_000, 300_000, 1_048_576])
def test_large_frames_back_to_back(impl: Any, through: Any, loop: str, size: int) -> None:
    """Frames large enough to be received into their own bytes objects, one
    right after another (a read holds one's end and the next one's start),
    each read whole by every front end."""
    framer = FRAMERS[0]
    payloads = [bytes([i]) * size for i in range(4)]
    wire = framer.encode_many(payloads)
    chunks = split(wire, range(0, len(wire), 100_003))
    calls: list[Call] = [("recv", (), {})] * (len(payloads) + 1)
    expected = [("ok", p) for p in payloads] + [("eof",)]
    assert through_socket(impl, chunks, calls) == expected
    assert through(impl, loop, chunks, calls) == expected
