"""The fault-injection matrix: faults x framers x receive styles x cores, over TCP
loopback and AF_UNIX.

Faults, each after a few complete frames (the table is CASES, in tests/support/faults.py): a peer reset
mid-frame (TCP only; the RST already queued, or arriving while the receiver waits),
a stall mid-frame (the receiver's wait times out, then the peer resumes), a
half-close inside a header, a body or a delimiter, and between frames, garbage
headers (malformed lengths, oversize frames), one-byte writes; reset, stall and
half-close also inside a 160 KiB frame (the compiled core's large-frame path).
Framers: every kind, LengthPrefixed also with an offset and a negative adjustment,
Delimited with a multi-byte delimiter, Lines with \\r\\n.  Receive styles:
FramedSocket ``recv()``, ``recv_many()``, ``for``, a non-blocking selectors loop on
``recv_many()``, and a fastframe.aio reader (``recv_many()``, ``async for``) on
asyncio and uvloop.  Each case checks the exact exception and its args, every
complete frame before it delivered once and in order, what comes after it (decoding
going on past an oversize frame, a sticky ProtocolError, a second IncompleteFrame),
that a side whose peer half-closed can still send, and no hang (watchdogs; bounded
waits).

The last part runs receivers in child processes whose address space is capped
(RLIMIT_AS, ``ulimit -v``) at 256 MiB above what they use at start, against hostile
length headers: each ends in FrameTooLarge or IncompleteFrame, never MemoryError,
also when many such streams come one after another.

Cells that other modules also cover: reset mid-frame (sockets/test_errors
test_peer_reset_mid_frame, aio/test_eof test_peer_reset), stall (sockets/test_timeouts
test_timeout_mid_frame_loses_nothing, aio/test_cancellation
test_cancelled_wait_loses_nothing), half-close (sockets/test_errors and aio/test_eof
test_eof_inside_a_frame, sockets/test_errors test_eof_between_frames, aio/test_eof
test_half_close), garbage (sockets/test_errors test_oversize_frame_skipped_then_decoding_goes_on,
test_protocol_error_is_sticky, test_negative_length_is_a_protocol_error, aio/test_errors
test_protocol_error_is_sticky, test_oversize_frames_skipped_in_one_read), one-byte
writes (sockets/test_recv test_peer_sending_one_byte_at_a_time), capped headers
(sockets/test_errors test_huge_headers_reserve_nothing_under_an_address_space_cap,
framers/test_memory).  Here they come from one table, for every framer and style.

The matrix sits with the FramedSocket tests although two of its six receive styles
are fastframe.aio readers: every fault is a raw socket's doing (a queued RST, a
half-close, a stall, one byte per segment), and the table states what a FramedSocket
holds after each (Stall.held is ``fs.buffered``).  Unlike the other modules here it
runs the compiled core on its descriptor path only (see conftest), as it always has.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import fastframe as ff
from tests.support.children import child_env, memory_capped_child
from tests.support.faults import CASES, FRAMERS, LARGE_FRAMERS, AioReceiver, Case, SocketReceiver, cells, play_case
from tests.support.sockets import MiB, framed, fresh_pair
from tests.support.wire import varint

CELLS = cells(tls=True)
AIO_CELLS = cells(tls=False)  # (the aio front end's TLS runs in tests/aio)


def test_the_table_covers_every_fault_and_framer() -> None:
    """Every framer kind meets every fault (FixedSize has no header to garble); the
    large ones, every fault inside a frame."""
    faults = {"reset", "stall", "half-close", "garbage", "one-byte writes"}
    for name, framer in FRAMERS.items():
        met = {case.fault for case in CASES if case.name == name}
        assert met == faults - ({"garbage"} if isinstance(framer, ff.FixedSize) else set()), name
    for name in LARGE_FRAMERS:
        assert {case.fault for case in CASES if case.name == name} == {"reset", "stall", "half-close"}, name
    kinds = {type(framer) for framer in FRAMERS.values()}
    assert kinds == {ff.LengthPrefixed, ff.Delimited, ff.Lines, ff.FixedSize, ff.Netstring, ff.VarintPrefixed}
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("style", ["recv", "recv_many", "iter", "selectors"])
@pytest.mark.parametrize(("case", "kind"), CELLS)
def test_framed_socket_meets_the_fault(impl: Any, case: Case, kind: str, style: str, tmp_path: Path) -> None:
    """A FramedSocket meets the case's fault: its phases, exactly, and the reply."""
    with fresh_pair(kind, tmp_path) as (a, b):

        def receiver(on_frames: Any) -> SocketReceiver:
            return SocketReceiver(framed(impl, a, case.framer), a, style, on_frames)

        play_case(case, style, a, b, receiver)


@pytest.mark.parametrize("style", ["aio-recv_many", "aio-iter"])
@pytest.mark.parametrize(("case", "kind"), AIO_CELLS)
def test_aio_reader_meets_the_fault(
    impl: Any, loop_kind: str, case: Case, kind: str, style: str, tmp_path: Path
) -> None:
    """A fastframe.aio reader meets the case's fault: its phases, exactly, and the reply."""
    with fresh_pair(kind, tmp_path) as (a, b):

        def receiver(on_frames: Any) -> AioReceiver:
            return AioReceiver(impl.bind(case.framer), a, loop_kind, style, on_frames)

        play_case(case, style, a, b, receiver)


# -- hostile length headers under an address-space cap ------------------------------------------

CAP = 256 * MiB
BODY = 8 * MiB  # what arrives of a frame announced far larger: then EOF
TRICKLE = 64  # one-KiB writes, each after a short pause, before the body comes in bulk
D = ff.DEFAULT_MAX_SIZE

# (framer, header, bytes after it, the receiver's events) - a frame within max_size is
# received as its bytes arrive and ends in IncompleteFrame; one over it is refused at its
# header (FrameTooLarge), skipped, and the EOF is clean
HOSTILE = [
    (ff.LengthPrefixed(4, max_size=2**32), (2**31).to_bytes(4, "big"), BODY, [("IncompleteFrame", 4 + 2**31)]),
    (ff.LengthPrefixed(8, max_size=2**62), (2**62).to_bytes(8, "big"), BODY, [("IncompleteFrame", 8 + 2**62)]),
    (ff.LengthPrefixed(4), (2**31).to_bytes(4, "big"), BODY, [("FrameTooLarge", 2**31, D), ("ConnectionClosed",)]),
    (ff.LengthPrefixed(8), (2**62).to_bytes(8, "big"), BODY, [("FrameTooLarge", 2**62, D), ("ConnectionClosed",)]),
    (ff.Netstring(max_size=2**62), b"%d:" % 2**62, BODY, [("IncompleteFrame", 20 + 2**62 + 1)]),
    (ff.Netstring(), b"%d:" % (10**20 - 1), BODY, [("FrameTooLarge", 10**20 - 1, D), ("ConnectionClosed",)]),
    (ff.VarintPrefixed(max_size=2**62), varint(2**62), BODY, [("IncompleteFrame", len(varint(2**62)) + 2**62)]),
    (ff.VarintPrefixed(), varint(2**64 - 1), BODY, [("FrameTooLarge", 2**64 - 1, D), ("ConnectionClosed",)]),
    # an endless line: held as it arrives up to max_size, then skipped
    (ff.Lines(max_size=2**62), b"", BODY, [("IncompleteFrame", None)]),
    (ff.Delimited(b"<END>", max_size=2**62), b"", BODY, [("IncompleteFrame", None)]),
    (ff.Lines(), b"", D + BODY, [("FrameTooLarge", D + 1, D), ("ConnectionClosed",)]),
]

# A receiver per hostile stream, in a child whose address space is capped at CAP above
# its own use once fastframe is imported; argv: core, style, then one "fd:framer repr"
# per stream.  Prints one JSON line per stream: its events, as HOSTILE writes them, with
# IncompleteFrame's length and first bytes of .partial.
CAPPED_CHILD = memory_capped_child(CAP // MiB) + textwrap.dedent(
    """
    import asyncio, json, socket

    from fastframe import aio

    style = sys.argv[2]

    def event(exc):
        if isinstance(exc, ff.IncompleteFrame):
            return ["IncompleteFrame", exc.expected, len(exc.partial), exc.partial[:24].hex()]
        if isinstance(exc, ff.FrameTooLarge):
            return ["FrameTooLarge", exc.size, exc.max_size]
        if type(exc) is ff.ConnectionClosed:
            return ["ConnectionClosed"]
        return [type(exc).__name__, str(exc)[:300]]

    def ends(exc):
        return not isinstance(exc, ff.FrameTooLarge)

    def blocking(sock, framer):
        fs = core.FramedSocket(sock, framer)
        events = []
        while len(events) < 8:
            try:
                frames = [fs.recv()] if style == "recv" else fs.recv_many()
                events.append(["frames", len(frames)])
            except BaseException as exc:
                events.append(event(exc))
                if ends(exc):
                    break
        fs.close()
        return events

    async def streamed(sock, framer):
        reader, writer = await aio.open_connection(sock=sock, framer=core.bind(framer))
        events = []
        while len(events) < 8:
            try:
                events.append(["frames", len(await reader.recv_many())])
            except BaseException as exc:
                events.append(event(exc))
                if ends(exc):
                    break
        writer.close()
        await writer.wait_closed()
        return events

    for arg in sys.argv[3:]:
        fd, spec = arg.split(":", 1)
        sock = socket.socket(fileno=int(fd))
        framer = eval(spec, vars(ff))
        if style == "aio":
            events = asyncio.run(streamed(sock, framer))
        else:
            events = blocking(sock, framer)
        print(json.dumps({"events": events, "grew_mib": (vm("VmPeak") - start) // MiB}), flush=True)
    """
)


def send_hostile(sock: socket.socket, header: bytes, body: int) -> None:
    """``header``, a trickle of one-KiB writes, the rest of ``body`` bytes in bulk, EOF;
    less if the receiver closes the stream first (what it said then tells why)."""
    sock.settimeout(60)
    filler = b"y" * 1024
    bulk = filler * 64
    try:
        sock.sendall(header)
        for _ in range(TRICKLE):
            sock.sendall(filler)
            time.sleep(0.001)
        left = body - TRICKLE * len(filler)
        while left > 0:
            sock.sendall(bulk[:left])
            left -= len(bulk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()


def expected_events(header: bytes, body: int, outcome: list[tuple]) -> list[list]:
    out = []
    for name, *rest in outcome:
        if name == "IncompleteFrame":
            partial = header + b"y" * body
            out.append([name, rest[0], len(partial), partial[:24].hex()])
        else:
            out.append([name, *rest])
    return out


def run_capped(impl: Any, style: str, streams: list[tuple]) -> list[dict[str, Any]]:
    """Each of ``streams`` (as HOSTILE's rows) sent to its own receiver of ``style`` in a
    capped child, one after another; what the child says of each."""
    pairs = [socket.socketpair() for _ in streams]
    args = [f"{theirs.fileno()}:{framer!r}" for (framer, *_), (_, theirs) in zip(streams, pairs)]
    proc = subprocess.Popen(
        [sys.executable, "-c", CAPPED_CHILD, impl.module.__name__, style, *args],
        env=child_env(),
        pass_fds=[theirs.fileno() for _, theirs in pairs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _, theirs in pairs:
            theirs.close()
        for (_, header, body, _), (ours, _) in zip(streams, pairs):
            send_hostile(ours, header, body)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for ours, _ in pairs:
            ours.close()
    assert proc.returncode == 0, err[-3000:]
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(streams), (out, err[-3000:])
    return results


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")


@pytest.mark.slow
@linux_only
@pytest.mark.parametrize("style", ["recv", "recv_many", "aio"])
def test_hostile_headers_under_an_address_space_cap(impl: Any, style: str) -> None:
    """Headers announcing 2**31, 2**62, 10**20 - 1 and 2**64 - 1 bytes, netstring and
    varint lengths as large, endless lines: within max_size the frame is received as it
    arrives (8 MiB, trickled then in bulk) and the EOF raises IncompleteFrame with every
    byte; over it FrameTooLarge at the header, the body skipped, a clean EOF.  Never a
    MemoryError, never a crash, in a child capped at 256 MiB above its start."""
    results = run_capped(impl, style, HOSTILE)
    for (framer, header, body, outcome), result in zip(HOSTILE, results):
        assert result["events"] == expected_events(header, body, outcome), (framer, result)


# twenty streams, each 24 MiB of a frame announced as 2 GiB, then EOF: 480 MiB in all,
# 24 MiB of it (and its IncompleteFrame's copy) live at a time
ONE_AFTER_ANOTHER = [(ff.LengthPrefixed(4, max_size=2**32), (2**31).to_bytes(4, "big"), 24 * MiB, None)] * 20


@pytest.mark.slow
@linux_only
@pytest.mark.parametrize("style", ["recv", "aio"])
def test_hostile_streams_one_after_another_under_the_cap(impl: Any, style: str) -> None:
    """Streams that each end inside a 24 MiB frame, one after another in one capped
    child: every one ends in IncompleteFrame with its 24 MiB, never MemoryError, since
    what a closed connection held is freed.  A fastframe.aio connection used to be
    freed only by the cyclic garbage collector (its reader, writer and protocol
    referred to each other): from the 4th or 5th stream on, every one ended in
    MemoryError."""
    header = ONE_AFTER_ANOTHER[0][1]
    expected = expected_events(header, 24 * MiB, [("IncompleteFrame", 4 + 2**31)])
    results = run_capped(impl, style, ONE_AFTER_ANOTHER)
    assert [result["events"] for result in results] == [expected] * len(ONE_AFTER_ANOTHER), [
        [event[:3] for event in result["events"]] for result in results
    ]
