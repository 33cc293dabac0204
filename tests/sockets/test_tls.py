"""What TLS adds to FramedSocket: connect(ssl=), start_tls() and its refusal of
plaintext (STARTTLS injection), versions, mutual TLS, certificate checks,
close_notify, and what the two TLS transports refuse.

Every other socket test family runs over TLS too, through the ``transport`` and
``pair`` fixtures (tests/support/sockets.py).  Certificates come from
tests/support/certs.py, made at test time.
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any

import pytest

import fastframe as ff
from tests.support import certs
from tests.support.sockets import (  # noqa: F401 - fixtures
    IO_TIMEOUT,
    framed,
    fresh_pair,
    listener,
    peer,
    read_all,
)

LP = ff.LengthPrefixed(4)
VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


def lp(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def serve_once(context: ssl.SSLContext, handler: Any) -> tuple[Any, Any]:
    """A TCP listener on 127.0.0.1 whose one connection, wrapped by ``context``
    (server side, stdlib ssl), is given to ``handler`` in a thread."""
    lst, address = listener("tcp4")
    lst.settimeout(IO_TIMEOUT)

    def serve() -> Any:
        try:
            conn, _ = lst.accept()
        finally:
            lst.close()
        conn.settimeout(IO_TIMEOUT)
        with context.wrap_socket(conn, server_side=True) as tls:
            return handler(tls)

    return peer(serve), address


def echo_frames(tls: ssl.SSLSocket) -> list[bytes]:
    """Reply to each frame with its payload reversed, until the end of the stream."""
    fs = ff.FramedSocket(tls, LP)
    got = list(fs)
    fs.send_many([frame[::-1] for frame in got])
    return got


# -- connect(ssl=) ---------------------------------------------------------------------------
# connect() makes the selected core's FramedSocket; both cores' loops over TLS are
# every other socket test's ``tls`` cases.


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.name)
def test_connect_with_ssl_speaks_tls(version: ssl.TLSVersion) -> None:
    """connect(ssl=) shakes hands before it returns; frames go both ways; .tls is
    the session, .socket the plain socket beneath it."""
    server, address = serve_once(certs.server_context(version=version), echo_frames)
    payloads = [b"one", b"", b"x" * 100_000]
    with ff.connect(address, LP, IO_TIMEOUT, ssl=certs.client_context(), server_hostname="localhost") as conn:
        assert isinstance(conn.tls, ssl.SSLObject)
        assert conn.tls.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
        assert conn.tls.server_hostname == "localhost"
        assert type(conn.socket) is socket.socket
        assert conn.tls.version() in repr(conn)
        conn.send_many(payloads)
        conn.shutdown_write()
        assert list(conn) == [p[::-1] for p in payloads]
    assert server.finish() == payloads


def test_connect_checks_the_host_name() -> None:
    """A certificate for another name: ssl.SSLCertVerificationError from connect()."""
    server, address = serve_once(certs.server_context(), lambda tls: None)
    with pytest.raises(ssl.SSLCertVerificationError):
        ff.connect(address, LP, IO_TIMEOUT, ssl=certs.client_context(), server_hostname="not-the-server.test")
    with pytest.raises(ssl.SSLError):  # the server hears the client's alert
        server.finish()


def test_connect_defaults_the_host_name_to_the_address() -> None:
    """Without server_hostname, the name checked is the address's host (the
    certificate names 127.0.0.1 too)."""
    server, address = serve_once(certs.server_context(), echo_frames)
    with ff.connect(address, LP, IO_TIMEOUT, ssl=certs.client_context()) as conn:
        assert conn.tls.server_hostname == "127.0.0.1"
        conn.send(b"ab")
        conn.shutdown_write()
        assert conn.recv() == b"ba"
    server.finish()


def test_mutual_tls() -> None:
    """A server that requires a client certificate sees the client's; without
    one, the connection fails on both sides."""
    context = certs.server_context(require_client_cert=True)

    def subject_then_echo(tls: ssl.SSLSocket) -> Any:
        subject = tls.getpeercert()["subjectAltName"]
        echo_frames(tls)
        return subject

    server, address = serve_once(context, subject_then_echo)
    client = certs.client_context(with_cert=True)
    with ff.connect(address, LP, IO_TIMEOUT, ssl=client, server_hostname="localhost") as conn:
        conn.send(b"mtls")
        conn.shutdown_write()
        assert conn.recv() == b"sltm"
    assert server.finish() == (("email", "client@fastframe.test"),)

    server, address = serve_once(context, echo_frames)
    # TLS 1.3: the server refuses after the client's handshake is done, so the
    # client learns it at its first read
    conn = ff.connect(address, LP, IO_TIMEOUT, ssl=certs.client_context(), server_hostname="localhost")
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED|certificate required"), conn:
        conn.recv()  # (sending first would make the server's close a reset)
    with pytest.raises(ssl.SSLError):
        server.finish()


# -- start_tls() and STARTTLS injection ------------------------------------------------------

SSL_REQUEST = struct.pack(">II", 8, 80877103)  # PostgreSQL's SSLRequest


def starttls_server(b: Any, answer: bytes) -> list[bytes]:
    """A PostgreSQL-like server: reads the 8-byte SSLRequest, sends ``answer``
    (b"S", perhaps with more) in one write, upgrades, then echoes frames."""
    request = b""
    while len(request) < 8:
        request += b.recv(8 - len(request))
    assert request == SSL_REQUEST
    b.sendall(answer)
    with certs.server_context().wrap_socket(b, server_side=True) as tls:
        return echo_frames(tls)


def test_start_tls_upgrades_in_place(impl: Any) -> None:
    """The SSLRequest exchange in the clear, then start_tls(): frames over TLS."""
    with fresh_pair("tcp4") as (a, b):
        server = peer(starttls_server, b, b"S")
        fs = impl.FramedSocket(a, LP)
        fs.sendall(SSL_REQUEST)
        assert fs.recv_exactly(1) == b"S"
        assert fs.tls is None
        fs.start_tls(certs.client_context(), server_hostname="localhost")
        assert fs.tls is not None and fs.socket is a
        fs.send_many([b"secret", b"frames"])
        fs.shutdown_write()
        assert list(fs) == [b"terces", b"semarf"]
        assert server.finish() == [b"secret", b"frames"]
        fs.close()


def test_start_tls_server_side(impl: Any) -> None:
    """The server's side of STARTTLS on FramedSocket: read the request, answer,
    start_tls(server_side=True)."""
    with fresh_pair("tcp4") as (a, b):

        def client() -> list[bytes]:
            b.sendall(SSL_REQUEST)
            assert b.recv(1) == b"S"
            with certs.client_context().wrap_socket(b, server_hostname="localhost") as tls:
                fs = ff.FramedSocket(tls, LP)
                fs.send(b"hello")
                return [fs.recv()]

        c = peer(client)
        fs = impl.FramedSocket(a, LP)
        assert fs.recv_exactly(8) == SSL_REQUEST
        fs.sendall(b"S")
        fs.start_tls(certs.server_context(), server_side=True)
        assert fs.recv() == b"hello"
        fs.send(b"olleh")
        assert c.finish() == [b"olleh"]
        fs.close()


@pytest.mark.parametrize("read_answer", [True, False], ids=["answer-read", "answer-unread"])
def test_start_tls_refuses_plaintext_that_came_with_the_answer(impl: Any, read_answer: bool) -> None:
    """STARTTLS injection (CVE-2021-23214, CVE-2011-0411): the answer and plaintext
    in one segment.  start_tls() raises ProtocolError and closes the connection;
    nothing of the injected bytes is ever returned."""
    injected = lp(b"INJECTED: read as if it came over TLS")
    with fresh_pair("tcp4") as (a, b):
        fs = impl.FramedSocket(a, LP)
        fs.sendall(SSL_REQUEST)
        assert b.recv(8) == SSL_REQUEST
        b.sendall(b"S" + injected)
        held = len(injected) + 1
        if read_answer:
            assert fs.recv_exactly(1) == b"S"
            held -= 1
        else:  # the answer and what came with it wait in the buffer
            assert fs.recv_exactly(0) == b""
            while fs.buffered < held:
                fs.socket.settimeout(0.05)
                with pytest.raises(TimeoutError):
                    fs.recv_exactly(held + 1)
        with pytest.raises(ff.ProtocolError, match=f"{held} bytes arrived unencrypted before the TLS handshake"):
            fs.start_tls(certs.client_context(), server_hostname="localhost")
        assert fs.socket is None and fs.tls is None and fs.buffered == 0
        with pytest.raises(OSError):
            fs.recv()
        b.settimeout(IO_TIMEOUT)
        assert read_all(b) == b""  # closed, and no handshake was started


def test_start_tls_twice_and_on_a_non_blocking_socket(impl: Any) -> None:
    """start_tls() on TLS already: ValueError; on a non-blocking socket, whose
    handshake could not wait: ValueError saying what to do, the socket untouched."""
    with fresh_pair("tls") as (a, b):
        fs = framed(impl, a, LP)
        with pytest.raises(ValueError, match="already speaks TLS"):
            fs.start_tls(certs.client_context(), server_hostname="localhost")
        fs.close()
    with fresh_pair("tcp4") as (a, b):
        a.setblocking(False)
        fs = impl.FramedSocket(a, LP)
        with pytest.raises(ValueError, match="non-blocking"):
            fs.start_tls(certs.client_context(), server_hostname="localhost")
        assert fs.socket is a and fs.tls is None  # still open, still plain
        fs.sendall(b"still plain")
        assert b.recv(64) == b"still plain"
        fs.close()


# -- the end of the stream, and what each TLS transport refuses ------------------------------


def strict_server(b: socket.socket) -> ssl.SSLSocket:
    """The server side of a pair as a stdlib SSLSocket that tells close_notify
    (recv() -> b"") from a bare FIN (ssl.SSLEOFError)."""
    return certs.server_context().wrap_socket(b, server_side=True, suppress_ragged_eofs=False)


def test_shutdown_write_sends_close_notify_and_reads_the_reply(impl: Any) -> None:
    """shutdown_write() over fastframe's TLS: the peer reads close_notify (not a
    bare FIN), then replies, and the reply is read whole."""
    with fresh_pair("tcp4") as (a, b):

        def server() -> bytes:
            with strict_server(b) as tls:
                got = read_all(tls)  # b"" only at close_notify: SSLEOFError otherwise
                tls.sendall(lp(b"reply after your close_notify") * 1000)
                return got

        s = peer(server)
        fs = impl.FramedSocket(a, LP)
        fs.start_tls(certs.client_context(), server_hostname="localhost")
        fs.send(b"request")
        fs.shutdown_write()
        assert list(fs) == [b"reply after your close_notify"] * 1000
        assert s.finish() == lp(b"request")
        with pytest.raises(BrokenPipeError):
            fs.send(b"too late")
        fs.close()


def test_close_sends_close_notify(impl: Any) -> None:
    """close() sends close_notify when it can go at once: the peer sees a clean end."""
    with fresh_pair("tcp4") as (a, b):
        s = peer(lambda: read_all(strict_server(b)))
        fs = impl.FramedSocket(a, LP)
        fs.start_tls(certs.client_context(), server_hostname="localhost")
        fs.send(b"bye")
        fs.close()
        assert s.finish() == lp(b"bye")


def test_an_sslsocket_refuses_shutdown_write_and_can_be_detached(impl: Any) -> None:
    """Over an ssl.SSLSocket, shutdown_write() raises ValueError saying why and what
    to use; detach() gives the SSLSocket back, with the bytes received and not returned."""
    with fresh_pair("tls-sslsocket") as (a, b):
        fs = framed(impl, a, LP)
        assert fs.tls is a and fs.socket is a
        with pytest.raises(ValueError, match="cannot send close_notify on an ssl.SSLSocket.*start_tls"):
            fs.shutdown_write()
        b.sendall(lp(b"one") + lp(b"two") + b"\x00\x00")
        assert fs.recv() == b"one"
        assert fs.recv_many() == [b"two"]
        sock, held = fs.detach()
        assert sock is a and held == b"\x00\x00"
        b.sendall(b"\x00\x05three")
        assert sock.recv(64) == b"\x00\x05three"


def test_fastframes_own_tls_cannot_be_detached(impl: Any) -> None:
    """detach() over a session start_tls() made: ValueError saying why; the
    FramedSocket goes on working."""
    with fresh_pair("tls") as (a, b):
        fs = framed(impl, a, LP)
        with pytest.raises(ValueError, match="cannot be handed over as a socket"):
            fs.detach()
        b.sendall(lp(b"still here"))
        assert fs.recv() == b"still here"
        fs.close()
