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

import socket
import ssl
import time
from typing import Any

import pytest

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
