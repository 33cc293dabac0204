"""Hostile TLS peers (tests/support/hostile_tls.py) and what a FramedSocket does with
them.

First the peer itself, against the standard library's ``ssl.SSLSocket``: each
behaviour really happens on the wire (record boundaries where the script put them, a
FIN with or without close_notify, a real encrypted alert, silence).

Then the matrix: every behaviour through ``recv``, ``recv_many``, iteration, a
selectors loop over a non-blocking FramedSocket, and a fastframe.aio reader, on each
core: bare FIN or close_notify between frames is ``ConnectionClosed`` (iteration
ends), inside a frame ``IncompleteFrame`` with every byte of it received; an alert or
what is no record raises the ``ssl.SSLError`` the standard library raises for the
same bytes, after every frame before it; silence with a timeout is ``TimeoutError``
after about the timeout (a deadline for the whole call, also against a peer that
trickles); a handshake that cannot finish ends in the exception the standard library
gives, or ``TimeoutError``; and thousands of small frames packed in 16 KiB records
reach a selectors loop without it waiting for readiness that never comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed, FastframeError, IncompleteFrame
from tests.aio.running import run
from tests.support import certs
from tests.support import hostile_tls as h
from tests.support.sockets import IO_TIMEOUT, connected_pair

VERSIONS = [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2]
VERSION_IDS = ["TLSv1.3", "TLSv1.2"]

#: the timeout of a client waiting on a silent peer
STALL = 0.3

EOF = "EOF"


@pytest.fixture(params=VERSIONS, ids=VERSION_IDS)
def version(request: pytest.FixtureRequest) -> ssl.TLSVersion:
    """TLS 1.3 and TLS 1.2, each pinned on both sides."""
    return request.param  # type: ignore[no-any-return]


# -- the standard library's client against each behaviour ---------------------------------


def stdlib_client(
    address: Any, version: ssl.TLSVersion, *, timeout: float = IO_TIMEOUT, ragged: bool = True
) -> tuple[list[bytes], Any, float]:
    """An ``ssl.SSLSocket`` client: what each ``recv()`` returned (one record's
    plaintext each), then how it ended (EOF or the exception, handshake included),
    and the seconds the last call took."""
    chunks: list[bytes] = []
    sock = socket.create_connection(address, IO_TIMEOUT)
    sock.settimeout(timeout)
    context = certs.client_context(version=version)
    start = time.monotonic()
    try:
        tls = context.wrap_socket(sock, server_hostname=certs.SERVER_NAME, suppress_ragged_eofs=ragged)
    except OSError as exc:
        sock.close()
        return chunks, exc, time.monotonic() - start
    with tls:
        try:
            while True:
                start = time.monotonic()
                data = tls.recv(1 << 17)
                if not data:
                    return chunks, EOF, time.monotonic() - start
                chunks.append(data)
        except OSError as exc:
            return chunks, exc, time.monotonic() - start


def against_stdlib(
    script: h.Script, version: ssl.TLSVersion, **client_args: Any
) -> tuple[list[bytes], Any, float, h.TLSPeer]:
    """``script`` served to ``stdlib_client``; also the peer, after its script ended."""
    box: list[h.TLSPeer] = []

    def run(p: h.TLSPeer) -> None:
        box.append(p)
        script(p)

    with h.serve(run, context=certs.server_context(version=version)) as server:
        chunks, ending, elapsed = stdlib_client(server.address, version, **client_args)
    return chunks, ending, elapsed, box[0]


#: behaviour -> what the stdlib client's recv() calls return, one record each
STDLIB_CHUNKS: dict[str, list[bytes]] = {
    "fin-between": h.WIRES,
    "fin-between/one-record": [b"".join(h.WIRES)],
    "fin-between/split": h.split_each(h.WIRES),
    "fin-inside-body": [*h.WIRES, h.PARTIAL],
    "fin-inside-header": [b"".join(h.WIRES), h.HEADER_PART],
    "fin-inside-record": h.WIRES,
    "close-notify-between": h.WIRES,
    "close-notify-between/open": h.WIRES,
    "close-notify-inside": [*h.WIRES, h.PARTIAL],
    "close-notify-inside/open": [*h.split_each(h.WIRES), h.PARTIAL],
}


@pytest.mark.parametrize("name", sorted(STDLIB_CHUNKS))
def test_stdlib_sees_each_end_of_stream(name: str, version: ssl.TLSVersion) -> None:
    """Record boundaries fall where the script put them; a FIN without close_notify
    is a ragged EOF (b"" with ``suppress_ragged_eofs``, ``SSLEOFError`` without); a
    close_notify is b"" either way, also when no FIN follows it."""
    script = h.AFTER_HANDSHAKE[name]
    chunks, ending, _, _ = against_stdlib(script, version)
    assert (chunks, ending) == (STDLIB_CHUNKS[name], EOF)
    chunks, ending, _, _ = against_stdlib(script, version, ragged=False)
    assert chunks == STDLIB_CHUNKS[name]
    if name.startswith("close-notify"):
        assert ending == EOF
    else:
        assert type(ending) is ssl.SSLEOFError, repr(ending)


@pytest.mark.parametrize("where", ["alert-between", "alert-inside"])
def test_stdlib_sees_a_real_encrypted_alert(where: str, version: ssl.TLSVersion) -> None:
    """The peer's OpenSSL, fed a record that does not decrypt, answers bad_record_mac
    (20) as a fatal alert, encrypted: in TLS 1.3 an application_data record (RFC 8446
    5.2), in TLS 1.2 an alert record whose body is longer than a plaintext alert's 2
    bytes.  The client raises ``ssl.SSLError`` naming the alert, after the frames."""
    chunks, ending, _, p = against_stdlib(h.AFTER_HANDSHAKE[where], version)
    assert chunks == (h.WIRES if where == "alert-between" else [*h.WIRES, h.PARTIAL])
    assert type(ending) is ssl.SSLError, repr(ending)
    assert ending.reason == "SSLV3_ALERT_BAD_RECORD_MAC", ending
    assert p.alert_cause is not None and p.alert_cause.reason == "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"
    [record] = p.alert_records
    outer = h.APPLICATION_DATA if version == ssl.TLSVersion.TLSv1_3 else h.ALERT
    assert record[0] == outer
    assert len(record) > 5 + 2


@pytest.mark.parametrize("name", ["plaintext-alert", "garbage", "http-request"])
def test_stdlib_sees_what_is_no_record(name: str, version: ssl.TLSVersion) -> None:
    """Bytes that are no record of the session: ``ssl.SSLError`` after the frames.  A
    hand-written plaintext alert (fatal handshake_failure) is not read as that alert
    once the session is encrypted: TLS 1.3 refuses its record type (BAD_RECORD_TYPE),
    TLS 1.2 fails to decrypt it; OpenSSL never reports it as the alert it claims."""
    chunks, ending, _, _ = against_stdlib(h.AFTER_HANDSHAKE[name], version)
    assert chunks == h.WIRES
    assert type(ending) is ssl.SSLError, repr(ending)
    assert ending.reason is None or "HANDSHAKE_FAILURE" not in ending.reason


@pytest.mark.parametrize(
    ("name", "chunks"),
    [
        ("stall-after-handshake", []),
        ("stall-inside-frame", [*h.WIRES, h.PARTIAL]),
        ("trickle-inside-frame", h.WIRES),
    ],
)
def test_stdlib_times_out_on_silence(name: str, chunks: list[bytes], version: ssl.TLSVersion) -> None:
    """Silence after the handshake: ``TimeoutError`` after the socket's timeout.  A
    record trickled one byte per 50 ms times out all the same: ``SSLSocket.recv``'s
    timeout is a deadline for the whole call (_ssl.c), not for each system call."""
    got, ending, elapsed, _ = against_stdlib(h.AFTER_HANDSHAKE[name], version, timeout=STALL)
    assert got == chunks
    assert type(ending) is TimeoutError, repr(ending)
    assert STALL * 0.9 <= elapsed < STALL + 1.0


@pytest.mark.parametrize(
    ("name", "ending"),
    [
        ("handshake-stalled", TimeoutError),
        ("handshake-first-record/stall", TimeoutError),
        ("handshake-first-record/fin", ssl.SSLEOFError),
        ("handshake-hello-read/fin", ssl.SSLEOFError),
        ("handshake-trickled", TimeoutError),
    ],
)
def test_stdlib_handshake_that_cannot_finish(name: str, ending: type[BaseException], version: ssl.TLSVersion) -> None:
    """A handshake stalled (TCP accepted, nothing said; only the ServerHello; the flight
    trickled one byte per 50 ms: the timeout is a deadline for the whole handshake)
    times out; one the peer ends with a FIN is ``SSLEOFError``."""
    chunks, got, elapsed, _ = against_stdlib(h.BROKEN_HANDSHAKES[name], version, timeout=STALL)
    assert chunks == []
    assert type(got) is ending, repr(got)
    if ending is TimeoutError:
        assert STALL * 0.9 <= elapsed < STALL + 1.0


def test_stdlib_whole_flight_then_silence(version: ssl.TLSVersion) -> None:
    """The server's whole first flight, then silence: in TLS 1.3 that flight ends the
    client's handshake (it then waits for data); in TLS 1.2 the server's Finished is
    still due, so the handshake itself stalls."""
    script = h.script(h.first_flight(), h.hold)
    chunks, got, _, _ = against_stdlib(script, version, timeout=STALL)
    assert chunks == []
    assert type(got) is TimeoutError, repr(got)
    if version == ssl.TLSVersion.TLSv1_3:
        assert str(got) == "The read operation timed out"
    else:
        assert "handshake" in str(got)


def test_stdlib_many_small_frames_in_16_kib_records() -> None:
    """Thousands of 64-byte frames arrive in records of 16 KiB, every byte in order;
    then the peer holds the connection open (no FIN): the client times out."""
    payloads, script = h.many_small_frames()
    wire = h.frames_wire(payloads)
    chunks, ending, _, _ = against_stdlib(script, ssl.TLSVersion.TLSv1_3, timeout=STALL)
    assert type(ending) is TimeoutError, repr(ending)
    assert b"".join(chunks) == wire
    assert [len(c) for c in chunks] == [len(piece) for piece in h.cut(wire, h.RECORD_MAX)]
    assert len(chunks) == -(-len(wire) // h.RECORD_MAX) < 20 < len(payloads) // 100


def test_peer_as_client_against_a_stdlib_server(version: ssl.TLSVersion) -> None:
    """The peer as the TLS client: its frames, close_notify inside a frame, a FIN."""
    a, b = connected_pair("tcp4")
    script = h.script(h.handshake, h.frames(), h.records(h.PARTIAL), h.close_notify, h.fin, h.hold)
    p = h.run(script, a, context=certs.client_context(version=version), server_side=False)
    server = certs.server_context(version=version).wrap_socket(b, server_side=True, suppress_ragged_eofs=False)
    server.settimeout(IO_TIMEOUT)
    with server:
        chunks = []
        while data := server.recv(1 << 17):
            chunks.append(data)
        assert chunks == [*h.WIRES, h.PARTIAL]
    p.finish()


def test_peer_as_client_sends_an_alert(version: ssl.TLSVersion) -> None:
    a, b = connected_pair("tcp4")
    p = h.run(
        h.script(h.handshake, h.frames(), h.alert, h.hold),
        a,
        context=certs.client_context(version=version),
        server_side=False,
    )
    server = certs.server_context(version=version).wrap_socket(b, server_side=True)
    server.settimeout(IO_TIMEOUT)
    with server:
        chunks = []
        with pytest.raises(ssl.SSLError) as info:
            while data := server.recv(1 << 17):
                chunks.append(data)
        assert type(info.value) is ssl.SSLError
        assert info.value.reason == "SSLV3_ALERT_BAD_RECORD_MAC"
        assert chunks == h.WIRES
    p.finish()


def test_peer_as_client_stops_after_its_hello() -> None:
    """The peer as a client: its ClientHello, then silence; the server's handshake
    times out; with a FIN instead, ``SSLEOFError``."""
    for then, ending in [(h.hold, TimeoutError), (h.fin, ssl.SSLEOFError)]:
        a, b = connected_pair("tcp4")
        p = h.run(h.script(h.first_flight(), then, h.hold), a, server_side=False)
        b.settimeout(STALL)
        with pytest.raises(OSError) as info:
            certs.server_context().wrap_socket(b, server_side=True)
        assert type(info.value) is ending, repr(info.value)
        b.close()
        p.finish()


# == FramedSocket against each behaviour =====================================================

LP4 = ff.LengthPrefixed(4)
STYLES = ["recv", "recv_many", "iter", "selectors"]
STALLED = "stalled"  # TimeoutError after about the timeout; a selectors loop: select() idle
IDLE = "select() idle"  # select() timed out, and recv_many() then returned []
LIKE_STDLIB = "the ssl.SSLError ssl.SSLSocket raises for the same bytes"


@dataclass(frozen=True)
class Incomplete:
    """``IncompleteFrame`` exactly, with these ``partial`` and ``expected``."""

    partial: bytes
    expected: int | None


Ending = str | Incomplete

#: behaviour -> (the frames delivered first, in order, then how receiving ends)
AFTER_EXPECTED: dict[str, tuple[tuple[bytes, ...], Ending]] = {
    "fin-between": (h.FRAMES, EOF),
    "fin-between/one-record": (h.FRAMES, EOF),
    "fin-between/split": (h.FRAMES, EOF),
    "fin-inside-body": (h.FRAMES, Incomplete(h.PARTIAL, len(h.CUT))),
    "fin-inside-header": (h.FRAMES, Incomplete(h.HEADER_PART, None)),
    # a truncated record is a ragged EOF, as ssl's suppress_ragged_eofs has it: none of
    # its bytes were ever decrypted, so the stream ended between frames
    "fin-inside-record": (h.FRAMES, EOF),
    "close-notify-between": (h.FRAMES, EOF),
    "close-notify-between/open": (h.FRAMES, EOF),
    "close-notify-inside": (h.FRAMES, Incomplete(h.PARTIAL, len(h.CUT))),
    "close-notify-inside/open": (h.FRAMES, Incomplete(h.PARTIAL, len(h.CUT))),
    "alert-between": (h.FRAMES, LIKE_STDLIB),
    "alert-inside": (h.FRAMES, LIKE_STDLIB),
    "plaintext-alert": (h.FRAMES, LIKE_STDLIB),
    "garbage": (h.FRAMES, LIKE_STDLIB),
    "http-request": (h.FRAMES, LIKE_STDLIB),
    "stall-after-handshake": ((), STALLED),
    "stall-inside-frame": (h.FRAMES, STALLED),
    "trickle-inside-frame": (h.FRAMES, STALLED),
}

#: a non-blocking call has no deadline: a selectors loop sees the trickled frame whole
#: after 2 s.  What that tests (a deadline for the whole call) is the blocking styles'.
NOT_SELECTORS = {"trickle-inside-frame"}


def test_every_behaviour_has_its_expected_outcome() -> None:
    assert set(AFTER_EXPECTED) == set(h.AFTER_HANDSHAKE)


@functools.cache
def stdlib_error(name: str, version: ssl.TLSVersion) -> ssl.SSLError:
    """What ssl.SSLSocket raises after the frames of behaviour ``name``."""
    chunks, ending, _, _ = against_stdlib(h.AFTER_HANDSHAKE[name], version)
    assert isinstance(ending, ssl.SSLError), repr(ending)
    return ending


def same_ssl_error(got: Any, reference: ssl.SSLError) -> bool:
    return (
        type(got) is type(reference)
        and getattr(got, "library", None) == reference.library
        and getattr(got, "reason", None) == reference.reason
    )


def check_ending(got: Any, expected: Ending, *, name: str, version: ssl.TLSVersion, style: str) -> None:
    if expected == EOF:
        assert got == EOF, repr(got)
    elif isinstance(expected, Incomplete):
        assert type(got) is IncompleteFrame, repr(got)
        assert (got.partial, got.expected) == (expected.partial, expected.expected)
    elif expected == STALLED:
        if style == "selectors":
            assert got == IDLE, repr(got)
        else:
            assert type(got) in (TimeoutError, asyncio.TimeoutError), repr(got)
    else:
        assert expected == LIKE_STDLIB
        reference = stdlib_error(name, version)
        assert same_ssl_error(got, reference), f"{got!r}, the stdlib: {reference!r}"


def tls_client(impl: Any, address: Any, version: ssl.TLSVersion, via: str, *, timeout: float = IO_TIMEOUT) -> Any:
    """A client FramedSocket over TLS, its handshake done: ``wrap`` (FramedSocket over
    a handshaken ssl.SSLSocket, ``impl``'s core), ``start_tls`` (over a plain socket,
    then ``start_tls()``, ``impl``'s core), ``connect`` (``ff.connect(ssl=)``: the
    selected core)."""
    context = certs.client_context(version=version)
    if via == "connect":
        return ff.connect(address, LP4, timeout, ssl=context)
    sock = socket.create_connection(address, IO_TIMEOUT)
    try:
        sock.settimeout(timeout)
        if via == "wrap":
            tls = context.wrap_socket(sock, server_hostname=certs.SERVER_NAME)
            return impl.framed_socket(tls, LP4)
        assert via == "start_tls", via
        fs = impl.framed_socket(sock, LP4)
        fs.start_tls(context, server_hostname=certs.SERVER_NAME)
        return fs
    except BaseException:
        sock.close()
        raise


ENDINGS = (FastframeError, OSError)


def receive(fs: Any, style: str, timeout: float) -> tuple[list[bytes], Any, float]:
    """Every frame until receiving ends: EOF (ConnectionClosed exactly; a for loop
    ended), IDLE (a selectors loop: select() timed out and recv_many() returned []),
    or the exception.  Also the seconds the last call (or wait) took."""
    frames: list[bytes] = []
    if style == "selectors":
        return receive_selecting(fs, frames, timeout)
    fs.socket.settimeout(timeout)
    start = time.monotonic()
    try:
        if style == "iter":
            for frame in fs:
                assert type(frame) is bytes
                frames.append(frame)
                start = time.monotonic()
            return frames, EOF, time.monotonic() - start
        while True:
            start = time.monotonic()
            got = [fs.recv()] if style == "recv" else fs.recv_many()
            assert got, "blocking recv_many() returned []"
            assert all(type(frame) is bytes for frame in got)
            frames += got
    except ENDINGS as exc:
        elapsed = time.monotonic() - start
        return frames, (EOF if type(exc) is ConnectionClosed else exc), elapsed


def receive_selecting(fs: Any, frames: list[bytes], timeout: float) -> tuple[list[bytes], Any, float]:
    """A selectors loop over the non-blocking FramedSocket: at each readiness,
    recv_many() until it returns [] (what it leaves behind an error is the next call's)."""
    fs.socket.setblocking(False)
    with selectors.DefaultSelector() as selector:
        selector.register(fs, selectors.EVENT_READ)
        while True:
            start = time.monotonic()
            ready = selector.select(timeout)
            elapsed = time.monotonic() - start
            try:
                got = fs.recv_many()
                if not ready:
                    assert got == [], f"select() saw nothing to read, then recv_many() returned {got!r}"
                    return frames, IDLE, elapsed
                while got:
                    assert all(type(frame) is bytes for frame in got)
                    frames += got
                    got = fs.recv_many()
            except ENDINGS as exc:
                return frames, (EOF if type(exc) is ConnectionClosed else exc), elapsed


def timeout_for(expected: Ending) -> float:
    return STALL if expected == STALLED else IO_TIMEOUT


def check_stall_time(expected: Ending, elapsed: float) -> None:
    """A stall ends after about the timeout: a deadline, kept."""
    if expected == STALLED:
        assert STALL * 0.9 <= elapsed < STALL + 1.0, elapsed


def play(
    impl: Any, name: str, style: str, version: ssl.TLSVersion, via: str = "wrap"
) -> tuple[list[bytes], Any, float, Any]:
    expected = AFTER_EXPECTED[name][1]
    with h.serve(h.AFTER_HANDSHAKE[name], context=certs.server_context(version=version)) as server:
        fs = tls_client(impl, server.address, version, via)
        try:
            frames, ending, elapsed = receive(fs, style, timeout_for(expected))
            buffered = fs.buffered
        finally:
            fs.close()
    return frames, ending, elapsed, buffered


MATRIX = [
    (name, style)
    for name in sorted(h.AFTER_HANDSHAKE)
    for style in STYLES
    if not (style == "selectors" and name in NOT_SELECTORS)
]


@pytest.mark.parametrize(("name", "style"), MATRIX)
def test_hostile_server(impl: Any, name: str, style: str, version: ssl.TLSVersion) -> None:
    """Each behaviour after the handshake, the FramedSocket (over a handshaken
    ssl.SSLSocket) the client: every frame before the fault, in order, then exactly
    the ending the contract gives it; a stall after about the timeout, nothing lost."""
    frames, ending, elapsed, buffered = play(impl, name, style, version)
    expected_frames, expected = AFTER_EXPECTED[name]
    assert frames == list(expected_frames)
    check_ending(ending, expected, name=name, version=version, style=style)
    check_stall_time(expected, elapsed)
    if name == "stall-inside-frame":
        assert buffered == len(h.PARTIAL)


def check_made_by(impl: Any, name: str, version: ssl.TLSVersion, via: str) -> None:
    frames, ending, elapsed, _ = play(impl, name, "recv_many", version, via)
    expected_frames, expected = AFTER_EXPECTED[name]
    assert frames == list(expected_frames)
    check_ending(ending, expected, name=name, version=version, style="recv_many")
    check_stall_time(expected, elapsed)


@pytest.mark.parametrize("name", sorted(h.AFTER_HANDSHAKE))
def test_hostile_server_by_start_tls(impl: Any, name: str, version: ssl.TLSVersion) -> None:
    """The same behaviours met by a FramedSocket that ``start_tls()`` made (fastframe's
    own TLS session, not an ssl.SSLSocket).  The peer sends its frames right after
    its last handshake message (in TLS 1.2 the server's Finished), so that they may
    come in the same read as it."""
    check_made_by(impl, name, version, "start_tls")


@pytest.mark.parametrize("name", sorted(h.AFTER_HANDSHAKE))
def test_hostile_server_by_connect(name: str, version: ssl.TLSVersion) -> None:
    """The same behaviours met by a FramedSocket that ``connect(ssl=)`` made (the
    selected core)."""
    check_made_by(None, name, version, "connect")


def test_a_stall_inside_a_frame_loses_nothing(impl: Any, version: ssl.TLSVersion) -> None:
    """Silence inside a frame: TimeoutError after the frames, the part of the frame
    held (``buffered``); when the peer goes on, the next call returns that frame whole,
    then the FIN is ConnectionClosed."""
    go_on = threading.Event()
    with h.serve(h.stall_then_resume(go_on), context=certs.server_context(version=version)) as server:
        fs = tls_client(impl, server.address, version, "wrap")
        with fs:
            (
                frames,
                ending,
                elapsed,
            ) = receive(fs, "recv", STALL)
            assert frames == list(h.FRAMES)
            assert type(ending) is TimeoutError, repr(ending)
            check_stall_time(STALLED, elapsed)
            assert fs.buffered == len(h.PARTIAL)
            go_on.set()
            assert receive(fs, "recv_many", IO_TIMEOUT)[:2] == ([h.CUT[4:]], EOF)


#: the timeout against the late trickle
LATE = 1.0


@pytest.mark.parametrize("via", ["wrap", "start_tls"])
def test_the_deadline_holds_against_a_late_trickle(
    impl: Any, via: str, version: ssl.TLSVersion, request: pytest.FixtureRequest
) -> None:
    """The worst trickle for a deadline: silence for most of the timeout (0.8 of
    1 s), then a record one byte per 100 ms.  ``recv_many()`` raises TimeoutError
    after about 1 s, the deadline of the whole call.  Waiting up to the timeout per
    system call would wait for the whole record (about 5 s); waiting inside ssl,
    once a record's first byte came, for its rest up to the socket's whole timeout
    would end at about 1.8 s.  (In TLS 1.3 the server's session tickets, sent
    after the handshake, make the socket readable as the call starts: ssl's own wait
    then starts with the call's.  TLS 1.2 has none.)"""
    if via == "wrap" and version == ssl.TLSVersion.TLSv1_2:  # (1.3: see above)
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="an ssl.SSLSocket waits inside ssl for the rest of a record, up to its whole timeout",
            )
        )
    script = h.script(h.handshake, h.pause(0.8), h.trickled_record(h.CUT, 0.1), h.hold)
    with h.serve(script, context=certs.server_context(version=version)) as server:
        fs = tls_client(impl, server.address, version, via)
        with fs:
            fs.socket.settimeout(LATE)
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                fs.recv_many()
            elapsed = time.monotonic() - start
    assert LATE * 0.9 <= elapsed < LATE + 0.4, elapsed


# -- the FramedSocket the TLS server, the hostile peer the client -------------------------------


@functools.cache
def stdlib_server_error(name: str, version: ssl.TLSVersion) -> ssl.SSLError:
    """What a server's ssl.SSLSocket raises after the frames of behaviour ``name``
    played by a client."""
    a, b = connected_pair("tcp4")
    p = h.run(h.AFTER_HANDSHAKE[name], a, context=certs.client_context(version=version), server_side=False)
    tls = certs.server_context(version=version).wrap_socket(b, server_side=True)
    tls.settimeout(IO_TIMEOUT)
    with tls, pytest.raises(ssl.SSLError) as info:
        while tls.recv(1 << 17):
            pass
    p.finish()
    return info.value


SERVER_CASES = sorted(set(AFTER_EXPECTED) - {"trickle-inside-frame", "stall-after-handshake"})


@pytest.mark.parametrize("via", ["wrap", "start_tls"])
@pytest.mark.parametrize("name", SERVER_CASES)
def test_hostile_client(impl: Any, name: str, via: str, version: ssl.TLSVersion) -> None:
    """The behaviours played by a TLS client against a FramedSocket on the server
    side: over a server-side ssl.SSLSocket (``wrap``) or made by
    ``start_tls(server_side=True)``: the same endings.  The client sends its frames
    right after its last handshake message (in TLS 1.3 its Finished, so that they
    may come in the same read as it)."""
    expected_frames, expected = AFTER_EXPECTED[name]
    a, b = connected_pair("tcp4")
    p = h.run(h.AFTER_HANDSHAKE[name], a, context=certs.client_context(version=version), server_side=False)
    try:
        context = certs.server_context(version=version)
        b.settimeout(IO_TIMEOUT)
        if via == "wrap":
            fs = impl.framed_socket(context.wrap_socket(b, server_side=True), LP4)
        else:
            fs = impl.framed_socket(b, LP4)
            fs.start_tls(context, server_side=True)
        with fs:
            frames, ending, elapsed = receive(fs, "recv_many", timeout_for(expected))
            buffered = fs.buffered
    finally:
        b.close()
        p.finish()
    assert frames == list(expected_frames)
    if expected == LIKE_STDLIB:
        reference = stdlib_server_error(name, version)
        assert same_ssl_error(ending, reference), f"{ending!r}, the stdlib: {reference!r}"
    else:
        check_ending(ending, expected, name=name, version=version, style="recv_many")
    check_stall_time(expected, elapsed)
    if name == "stall-inside-frame":
        assert buffered == len(h.PARTIAL)


@pytest.mark.parametrize(("then", "ending"), [("stall", STALLED), ("fin", ssl.SSLEOFError)])
def test_hostile_client_stops_after_its_hello(impl: Any, then: str, ending: Any) -> None:
    """A client's ClientHello, then silence: ``start_tls(server_side=True)`` times out
    after about the socket's timeout; a FIN instead: ``ssl.SSLEOFError``, as the
    stdlib's server handshake raises (test_peer_as_client_stops_after_its_hello)."""
    a, b = connected_pair("tcp4")
    steps = [h.first_flight(), h.hold] if then == "stall" else [h.first_flight(), h.fin, h.hold]
    p = h.run(h.script(*steps), a, server_side=False)
    try:
        fs = impl.framed_socket(b, LP4)
        b.settimeout(STALL)
        start = time.monotonic()
        with pytest.raises(OSError) as info:
            fs.start_tls(certs.server_context(), server_side=True)
        elapsed = time.monotonic() - start
        fs.close()
    finally:
        b.close()
        p.finish()
    if ending == STALLED:
        assert type(info.value) is TimeoutError, repr(info.value)
        check_stall_time(STALLED, elapsed)
    else:
        assert type(info.value) is ending, repr(info.value)


# -- a handshake that cannot finish ----------------------------------------------------------------


@functools.cache
def stdlib_handshake_ending(name: str, version: ssl.TLSVersion) -> Any:
    _, ending, _, _ = against_stdlib(h.BROKEN_HANDSHAKES[name], version, timeout=STALL)
    return ending


#: behaviour -> how the client's handshake ends
HANDSHAKE_EXPECTED: dict[str, Ending] = {
    "handshake-stalled": STALLED,
    "handshake-first-record/stall": STALLED,
    "handshake-trickled": STALLED,  # the timeout a deadline for the whole handshake
    "handshake-first-record/fin": LIKE_STDLIB,  # ssl.SSLEOFError
    "handshake-hello-read/fin": LIKE_STDLIB,
}


def test_every_broken_handshake_has_its_expected_outcome() -> None:
    assert set(HANDSHAKE_EXPECTED) == set(h.BROKEN_HANDSHAKES)


def check_handshake_ending(got: BaseException, expected: Ending, name: str, version: ssl.TLSVersion) -> None:
    if expected == STALLED:
        assert type(got) in (TimeoutError, asyncio.TimeoutError), repr(got)
    else:
        reference = stdlib_handshake_ending(name, version)
        assert same_ssl_error(got, reference), f"{got!r}, the stdlib: {reference!r}"


def check_broken_handshake(impl: Any, name: str, via: str, version: ssl.TLSVersion) -> None:
    expected = HANDSHAKE_EXPECTED[name]
    with h.serve(h.BROKEN_HANDSHAKES[name], context=certs.server_context(version=version)) as server:
        start = time.monotonic()
        with pytest.raises(ENDINGS) as info:
            tls_client(impl, server.address, version, via, timeout=STALL).close()
        elapsed = time.monotonic() - start
    check_handshake_ending(info.value, expected, name, version)
    check_stall_time(expected, elapsed)


@pytest.mark.parametrize("name", sorted(h.BROKEN_HANDSHAKES))
def test_broken_handshake_by_start_tls(impl: Any, name: str, version: ssl.TLSVersion) -> None:
    """``start_tls()`` (the socket's timeout) against a server whose handshake never
    finishes: TimeoutError after about the timeout when it falls silent or trickles
    (a deadline for the whole handshake), the stdlib's exception when it closes;
    never a hang."""
    check_broken_handshake(impl, name, "start_tls", version)


@pytest.mark.parametrize("name", sorted(h.BROKEN_HANDSHAKES))
def test_broken_handshake_by_connect(name: str, version: ssl.TLSVersion) -> None:
    """The same through ``connect(ssl=, timeout=)`` (the selected core)."""
    check_broken_handshake(None, name, "connect", version)


def test_whole_flight_then_silence(impl: Any, version: ssl.TLSVersion) -> None:
    """The server's whole first flight, then silence: in TLS 1.3 the client's
    handshake is done (``start_tls`` returns) and the first ``recv`` times out; in TLS
    1.2 the handshake itself times out."""
    with h.serve(h.script(h.first_flight(), h.hold), context=certs.server_context(version=version)) as server:
        if version == ssl.TLSVersion.TLSv1_2:
            with pytest.raises(TimeoutError):
                tls_client(impl, server.address, version, "start_tls", timeout=STALL).close()
            return
        with tls_client(impl, server.address, version, "start_tls", timeout=STALL) as fs:
            _, got, elapsed = receive(fs, "recv", STALL)
    assert type(got) is TimeoutError, repr(got)
    check_stall_time(STALLED, elapsed)


# -- thousands of small frames in few records, to a selectors loop ----------------------------------


@pytest.mark.parametrize("via", ["wrap", "start_tls"])
def test_selectors_loop_gets_thousands_of_small_frames_from_few_records(
    impl: Any, via: str, version: ssl.TLSVersion
) -> None:
    """4,000 frames of 64 bytes in 17 records of 16 KiB, all written at once, the
    connection then held open (no FIN to wake the reader): a selectors loop calling
    ``recv_many()`` once per readiness gets every frame, in order.  A frame left
    decrypted inside OpenSSL, or a record left in its buffer, would stall the loop:
    select() sees nothing more to read, and the test fails after IO_TIMEOUT."""
    payloads, script = h.many_small_frames()
    with h.serve(script, context=certs.server_context(version=version)) as server:
        fs = tls_client(impl, server.address, version, via)
        with fs, selectors.DefaultSelector() as selector:
            fs.socket.setblocking(False)
            selector.register(fs, selectors.EVENT_READ)
            got: list[bytes] = []
            wakeups = 0
            while len(got) < len(payloads):
                assert selector.select(IO_TIMEOUT), f"stalled after {len(got)} of {len(payloads)} frames"
                wakeups += 1
                got += fs.recv_many()
            assert got == payloads
            assert fs.recv_many() == []
            assert fs.buffered == 0
    assert wakeups <= len(payloads) // 10  # batches, not a frame per wakeup


# -- fastframe.aio: the same behaviours, through open_connection(ssl=) ----------------------------

AIO_STYLES = ["aio-recv", "aio-recv_many"]


async def aio_receive(
    address: Any, version: ssl.TLSVersion, style: str, timeout: float
) -> tuple[list[bytes], Any, float]:
    """A fastframe.aio reader over TLS, read by ``recv()`` or ``recv_many()`` under
    ``asyncio.wait_for(..., timeout)`` until receiving ends (as ``receive``)."""
    reader, writer = await aio.open_connection(
        address[0], address[1], LP4, ssl=certs.client_context(version=version), server_hostname=certs.SERVER_NAME
    )
    frames: list[bytes] = []
    start = time.monotonic()
    try:
        while True:
            start = time.monotonic()
            if style == "aio-recv":
                got = [await asyncio.wait_for(reader.recv(), timeout)]
            else:
                got = await asyncio.wait_for(reader.recv_many(), timeout)
                assert got, "recv_many() returned []"
            assert all(type(frame) is bytes for frame in got)
            frames += got
    except (*ENDINGS, asyncio.TimeoutError) as exc:
        elapsed = time.monotonic() - start
        return frames, (EOF if type(exc) is ConnectionClosed else exc), elapsed
    finally:
        writer.close()
        with contextlib.suppress(*ENDINGS, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), IO_TIMEOUT)


# asyncio's and uvloop's TLS layer raises out of its read loop before it hands
# on what it decrypted in that read: the frames that came in the same read as a
# bad record are lost (asyncio's own streams lose the bytes too), the ones from
# earlier reads are not, as the kernel's timing decides.  Keeping them all needs
# fastframe.aio to run the TLS session itself, as FramedSocket does.
LOST_WITH_A_BAD_RECORD = {name for name, (_, ending) in AFTER_EXPECTED.items() if ending == LIKE_STDLIB}


@pytest.mark.parametrize("style", AIO_STYLES)
@pytest.mark.parametrize("name", sorted(h.AFTER_HANDSHAKE))
def test_hostile_server_aio(loop_kind: str, name: str, style: str, version: ssl.TLSVersion) -> None:
    """Each behaviour after the handshake met by a fastframe.aio reader
    (``open_connection(ssl=, server_hostname=)``, the selected core), on asyncio and
    uvloop: the same frames and endings as a FramedSocket; a stall is wait_for timing
    out after about the timeout.  The event loop reports nothing."""
    expected_frames, expected = AFTER_EXPECTED[name]
    reports: list[dict[str, Any]] = []
    with h.serve(h.AFTER_HANDSHAKE[name], context=certs.server_context(version=version)) as server:
        frames, ending, elapsed = run(
            loop_kind, aio_receive, server.address, version, style, timeout_for(expected), reports=reports
        )
    if name in LOST_WITH_A_BAD_RECORD:  # the frames of earlier reads, in order (see above)
        assert frames == list(expected_frames)[: len(frames)]
    else:
        assert frames == list(expected_frames)
    check_ending(ending, expected, name=name, version=version, style=style)
    check_stall_time(expected, elapsed)
    assert not reports, f"the event loop reported: {reports}"


@functools.cache
def asyncio_handshake_ending(name: str, version: ssl.TLSVersion, loop_kind: str) -> Any:
    """What asyncio's own streams' ``open_connection(ssl=)`` raises against a broken
    handshake that ends in a FIN, on this loop."""

    async def connect(address: Any) -> Any:
        try:
            _, writer = await asyncio.open_connection(
                address[0],
                address[1],
                ssl=certs.client_context(version=version),
                server_hostname=certs.SERVER_NAME,
            )
        except ENDINGS as exc:
            return exc
        writer.close()
        return "connected"

    with h.serve(h.BROKEN_HANDSHAKES[name], context=certs.server_context(version=version)) as server:
        return run(loop_kind, connect, server.address, reports=[])


@pytest.mark.parametrize("name", sorted(h.BROKEN_HANDSHAKES))
def test_broken_handshake_aio(loop_kind: str, name: str, version: ssl.TLSVersion) -> None:
    """``aio.open_connection(ssl=)`` under ``asyncio.wait_for(..., 0.3)`` against a
    handshake that never finishes: TimeoutError after about 0.3 s when the server is
    silent or trickles; when it closes, what asyncio's own ``open_connection(ssl=)``
    raises on this loop."""
    expected = HANDSHAKE_EXPECTED[name]

    async def connect(address: Any) -> tuple[Any, float]:
        start = time.monotonic()
        try:
            _, writer = await asyncio.wait_for(
                aio.open_connection(
                    address[0],
                    address[1],
                    LP4,
                    ssl=certs.client_context(version=version),
                    server_hostname=certs.SERVER_NAME,
                ),
                STALL,
            )
        except (*ENDINGS, asyncio.TimeoutError) as exc:
            return exc, time.monotonic() - start
        writer.close()
        return "connected", time.monotonic() - start

    with h.serve(h.BROKEN_HANDSHAKES[name], context=certs.server_context(version=version)) as server:
        got, elapsed = run(loop_kind, connect, server.address, reports=[])
    if expected == STALLED:
        assert type(got) in (TimeoutError, asyncio.TimeoutError), repr(got)
        check_stall_time(expected, elapsed)
    else:
        reference = asyncio_handshake_ending(name, version, loop_kind)
        assert type(got) is type(reference) and got.args == reference.args, f"{got!r}, asyncio: {reference!r}"


@pytest.mark.parametrize("name", ["garbage", "alert-between"])
def test_aio_raises_the_ssl_error_as_ssl_made_it(loop_kind: str, name: str, version: ssl.TLSVersion) -> None:
    """A bad record with no frame before it (none to lose): the aio reader raises
    the SSLError ssl made, its library and reason kept (a copy of the error,
    made to raise it again, once dropped them: they are set outside args)."""
    behaviour = {"garbage": h.raw(h.GARBAGE), "alert-between": h.alert}[name]
    reference = stdlib_error(name, version)
    with h.serve(h.script(h.handshake, behaviour, h.hold), context=certs.server_context(version=version)) as server:
        frames, ending, _ = run(loop_kind, aio_receive, server.address, version, "aio-recv", IO_TIMEOUT, reports=[])
    assert frames == []
    assert same_ssl_error(ending, reference), (ending, reference)
    assert ending.reason is not None
