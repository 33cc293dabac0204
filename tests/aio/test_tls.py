"""TLS on the aio streams, beyond the suite that runs over it (every test that takes
``tls``), on each core and event loop: no warning from the event loop at the end of
a TLS stream, write_eof() where TLS cannot half-close, TLS 1.2 and 1.3, mutual
TLS, a certificate for another name, what ``get_extra_info()`` tells, and
STARTTLS (``writer.start_tls``): its refusal of plaintext received before the
handshake, and a handshake that fails or stalls."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any

import pytest

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed, ProtocolError
from tests.aio.frames import closed_here, drain_frames
from tests.aio.peers import KINDS, connect_peer, handled, raw_peer, serving
from tests.aio.running import run
from tests.support import certs
from tests.support.wire import wire_of

VERSIONS = [pytest.param(ssl.TLSVersion.TLSv1_2, id="TLSv1.2"), pytest.param(ssl.TLSVersion.TLSv1_3, id="TLSv1.3")]


# -- the end of a TLS stream, without a warning --------------------------------------------------------------------


def asyncio_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("ending", ["close_notify", "bare FIN"])
def test_peer_ends_without_a_warning(
    impl: Any, loop_kind: str, ending: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The peer ends a TLS stream between frames, with close_notify (and its FIN)
    or a bare FIN: the reader gets every frame, then ConnectionClosed, and the
    event loop logs no warning.  (eof_received() used to return True, which keeps
    a plain transport open for the reply; asyncio and uvloop then logged
    "returning true from eof_received() has no effect when using ssl" at the end
    of every TLS connection.)"""
    framer = impl.bind(ff.Lines())

    async def main() -> None:
        async with raw_peer(framer, tls=True) as (reader, writer, peer):
            await peer.send(b"one\ntwo\n")
            if ending == "close_notify":
                await peer.shutdown_write()
            else:
                peer.sock.shutdown(socket.SHUT_WR)
            assert await drain_frames(reader, "recv") == [b"one", b"two"]

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(loop_kind, main)
    assert asyncio_warnings(caplog) == []


def test_server_sees_the_end_without_a_warning(impl: Any, loop_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    """A TLS server's reader meets the client's close (close_notify) after its
    frames: every frame, then the end of its loop, and no warning logged."""
    framer = impl.bind(ff.Netstring())

    async def main() -> None:
        cb, done = handled(lambda reader, writer: drain_frames(reader, "iter"))
        async with serving("tcp", cb, framer, tls=True) as connect:
            reader, writer = await connect()
            writer.send_many([b"a", b"b"])
            writer.close()
            assert await done == [b"a", b"b"]
            await writer.wait_closed()

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run(loop_kind, main)
    assert asyncio_warnings(caplog) == []


# -- write_eof ------------------------------------------------------------------------------------------------------


def test_write_eof_over_tls(impl: Any, loop_kind: str, tls: bool) -> None:
    """What the peer sees of write_eof().  Plain: the end of the stream after the
    frames sent, and the reader goes on reading the peer's reply.  TLS, which
    asyncio's and uvloop's transports cannot half-close (can_write_eof() is False):
    NotImplementedError saying so, and nothing reaches the peer but the frames:
    the connection goes on, and close() ends it with close_notify."""
    framer = impl.bind(ff.LengthPrefixed(2))
    before, after = wire_of(framer, [b"before"])[0], wire_of(framer, [b"after"])[0]

    async def main() -> None:
        async with raw_peer(framer, tls=tls) as (reader, writer, peer):
            writer.send(b"before")
            assert writer.can_write_eof() is not tls
            if not tls:
                writer.write_eof()
                assert await peer.read_all() == before
                await peer.send(wire_of(framer, [b"reply"])[0])
                assert await reader.recv() == b"reply"
                return
            with pytest.raises(NotImplementedError) as info:
                writer.write_eof()
            assert "write_eof() cannot half-close over TLS" in str(info.value)
            assert not writer.is_closing()
            await peer.send(wire_of(framer, [b"reply"])[0])
            assert await reader.recv() == b"reply"
            writer.send(b"after")
            writer.close()
            assert await peer.read_all() == before + after
            assert peer.tls.closed  # close_notify, not a bare FIN

    run(loop_kind, main)


# -- versions, mutual TLS, names, extra info ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_tls_versions(impl: Any, loop_kind: str, version: ssl.TLSVersion) -> None:
    """A server pinned to TLS 1.2 or 1.3: 1000 frames echoed in batches, in order,
    and the client's close ends the server's loop; ssl_object.version() says which
    version was spoken."""
    framer = impl.bind(ff.VarintPrefixed())
    sent = [b"%d" % i * (i % 7) for i in range(1000)]

    async def echo(reader: aio.FramedReader, writer: aio.FramedWriter) -> str:
        async for frame in reader:
            writer.send(frame)
        return str(writer.get_extra_info("ssl_object").version())

    async def main() -> None:
        cb, done = handled(echo)
        async with serving("tcp", cb, framer, tls=True, ssl=certs.server_context(version=version)) as connect:
            reader, writer = await connect()
            writer.send_many(sent)
            got: list[bytes] = []
            while len(got) < len(sent):
                got += await reader.recv_many()
            assert got == sent
            writer.close()
            assert await done == writer.get_extra_info("ssl_object").version()
            assert await done == version.name.replace("v1_", "v1.")
            await writer.wait_closed()

    run(loop_kind, main)


def test_mutual_tls(impl: Any, loop_kind: str) -> None:
    """A server that requires a client certificate serves a client that has one
    from the authority it trusts, and sees it (peercert)."""
    framer = impl.bind(ff.Lines())

    async def whoami(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        assert await reader.recv() == b"whoami"
        writer.send(repr(writer.get_extra_info("peercert")["subjectAltName"]).encode())
        with pytest.raises(ConnectionClosed):
            await reader.recv()

    async def main() -> None:
        cb, done = handled(whoami)
        async with serving("tcp", cb, framer, tls=True, ssl=certs.server_context(require_client_cert=True)) as connect:
            reader, writer = await connect(ssl=certs.client_context(with_cert=True))
            writer.send(b"whoami")
            assert await reader.recv() == b"(('email', 'client@fastframe.test'),)"
            writer.close()
            await done
            await writer.wait_closed()

    run(loop_kind, main)


def test_hostname_mismatch(impl: Any, loop_kind: str) -> None:
    """Connecting to a server whose certificate is for another name than the one
    asked for: open_connection() raises ssl.SSLCertVerificationError."""
    framer = impl.bind(ff.Lines())

    async def main() -> None:
        async with serving("tcp", lambda reader, writer: writer.close(), framer, tls=True) as connect:
            with pytest.raises(ssl.SSLCertVerificationError):
                await connect(server_hostname="elsewhere.example")

    run(loop_kind, main)


@pytest.mark.parametrize("kind", KINDS)
def test_tls_extra_info(impl: Any, loop_kind: str, kind: str) -> None:
    """Over TLS get_extra_info() also tells TLS's own: the context given, the
    ssl.SSLObject, the peer's certificate, the cipher; the socket's names as on a
    plain connection; wait_closed() returns once the connection is closed."""
    framer = impl.bind(ff.Lines())
    context = certs.client_context()

    async def body(reader: aio.FramedReader, writer: aio.FramedWriter) -> Any:
        name = writer.get_extra_info("sockname")
        await drain_frames(reader, "recv")
        return name

    async def main() -> None:
        cb, done = handled(body)
        async with serving(kind, cb, framer, tls=True) as connect:
            reader, writer = await connect(ssl=context)
            assert writer.get_extra_info("sslcontext") is context
            assert isinstance(writer.get_extra_info("ssl_object"), ssl.SSLObject)
            assert writer.get_extra_info("peercert")["subjectAltName"][0] == ("DNS", certs.SERVER_NAME)
            assert writer.get_extra_info("cipher")[1] in ("TLSv1.2", "TLSv1.3")
            peer_name = writer.get_extra_info("peername")
            writer.close()
            assert await done == peer_name
            await writer.wait_closed()
            assert writer.is_closing()

    run(loop_kind, main)


# -- STARTTLS -------------------------------------------------------------------------------------------------------

# PostgreSQL's startup-message framing (the length counts itself) carries its
# SSLRequest as an 8-byte frame.  PostgreSQL answers with one bare byte, which
# takes a raw read fastframe.aio does not have yet: here the answer is a frame
# holding b"S".
STARTUP = ff.LengthPrefixed(4, adjustment=-4)
SSL_REQUEST = (80877103).to_bytes(4, "big")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_starttls(impl: Any, loop_kind: str, kind: str, version: ssl.TLSVersion) -> None:
    """STARTTLS, fastframe at both ends of a plain connection: the client sends
    SSLRequest, the server answers "S", both call writer.start_tls() (the server's
    end takes the TLS server's side, as with asyncio's StreamWriter).  Then the
    reader and the writer go on over TLS: requests and replies, the client's close
    ending the server's loop."""
    framer = impl.bind(STARTUP)
    requests = [b"select %d" % i for i in range(3)]

    async def body(reader: aio.FramedReader, writer: aio.FramedWriter) -> list[bytes]:
        assert await reader.recv() == SSL_REQUEST
        writer.send(b"S")
        await writer.start_tls(certs.server_context(version=version))
        assert writer.get_extra_info("ssl_object").version() == version.name.replace("v1_", "v1.")
        seen = []
        async for request in reader:
            seen.append(request)
            writer.send(b"re:" + request)
        return seen

    async def main() -> None:
        cb, done = handled(body)
        async with serving(kind, cb, framer) as connect:
            reader, writer = await connect()
            plain = writer.transport
            assert writer.can_write_eof()
            writer.send(SSL_REQUEST)
            assert await reader.recv() == b"S"
            await writer.start_tls(certs.client_context(), server_hostname=certs.SERVER_NAME)
            assert writer.transport is not plain
            assert writer.get_extra_info("sslcontext") is not None
            assert writer.get_extra_info("peercert")["subjectAltName"][0] == ("DNS", certs.SERVER_NAME)
            assert not writer.can_write_eof()
            for request in requests:
                writer.send(request)
                assert await reader.recv() == b"re:" + request
            writer.close()
            assert await done == requests
            await closed_here(reader.recv)
            await writer.wait_closed()

    run(loop_kind, main)


# what a man in the middle adds after its "S": whole frames, or part of one
INJECTED = {
    "whole frames": (wire_of(STARTUP, [b"R\x00\x00\x00\x00", b"Z"])[0], "14 bytes arrived unencrypted"),
    "part of a frame": (wire_of(STARTUP, [b"R\x00\x00\x00\x00"])[0][:6], "6 bytes arrived unencrypted"),
}


async def refused_for_good(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
    """After a refused start_tls(): every read raises the ProtocolError (none
    returns a byte of what came before), writing raises, and the connection
    closes."""
    for call in (reader.recv, reader.recv_many, reader.recv):
        with pytest.raises(ProtocolError, match="STARTTLS injection"):
            await call()
    with pytest.raises(ProtocolError, match="STARTTLS injection"):
        async for frame in reader:
            raise AssertionError(f"a frame read after the refusal: {frame!r}")
    assert reader.at_eof()
    with pytest.raises(ConnectionResetError):
        writer.send(b"more")
    await writer.wait_closed()


@pytest.mark.parametrize("injected", INJECTED)
def test_starttls_refuses_plaintext_injected_before_the_handshake(impl: Any, loop_kind: str, injected: str) -> None:
    """The peer answers SSLRequest with "S" and, in the same write, plaintext of
    its own (a man in the middle's injection, CVE-2021-23214 / CVE-2011-0411):
    the client's writer.start_tls() raises ProtocolError and aborts the
    connection; no byte of the injected plaintext is ever returned by the reader."""
    framer = impl.bind(STARTUP)
    plaintext, counted = INJECTED[injected]

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):
            writer.send(SSL_REQUEST)
            assert await peer.read_exactly(8) == wire_of(STARTUP, [SSL_REQUEST])[0]
            await peer.send(wire_of(STARTUP, [b"S"])[0] + plaintext)  # one write
            assert await reader.recv() == b"S"
            with pytest.raises(ProtocolError) as info:
                await writer.start_tls(certs.client_context(), server_hostname=certs.SERVER_NAME)
            assert str(info.value).startswith(counted), info.value
            assert "CVE-2021-23214" in str(info.value)
            await refused_for_good(reader, writer)
            assert await peer.read_all() == b""  # no ClientHello: the connection just ended

    run(loop_kind, main)


@pytest.mark.parametrize("injected", INJECTED)
def test_starttls_server_refuses_plaintext_sent_with_the_request(impl: Any, loop_kind: str, injected: str) -> None:
    """The server's side of the same: a client sends SSLRequest and plaintext
    after it in one write (CVE-2021-23214's very shape): the server's
    writer.start_tls() raises ProtocolError, its reader never returns those
    bytes, and the client gets the "S" and the end of the connection."""
    framer = impl.bind(STARTUP)
    plaintext, counted = INJECTED[injected]

    async def body(reader: aio.FramedReader, writer: aio.FramedWriter) -> str:
        assert await reader.recv() == SSL_REQUEST
        writer.send(b"S")
        with pytest.raises(ProtocolError) as info:
            await writer.start_tls(certs.server_context())
        await refused_for_good(reader, writer)
        return str(info.value)

    async def main() -> None:
        cb, done = handled(body)
        async with serving("tcp", cb, framer) as connect:
            peer = await connect_peer(connect.address)
            await peer.send(wire_of(STARTUP, [SSL_REQUEST])[0] + plaintext)  # one write
            assert (await done).startswith(counted)
            assert await peer.read_all() == wire_of(STARTUP, [b"S"])[0]
            peer.close()

    run(loop_kind, main)


def test_starttls_handshake_fails(impl: Any, loop_kind: str) -> None:
    """The client's start_tls() checks the name the server's certificate is for:
    asked for another, it raises ssl.SSLCertVerificationError, as does its reader
    from then on, and the connection closes (wait_closed() returns).  The
    server's start_tls() raises ConnectionResetError: asyncio and uvloop drop a
    connection whose handshake failed without sending their alert."""
    framer = impl.bind(STARTUP)

    async def body(reader: aio.FramedReader, writer: aio.FramedWriter) -> None:
        assert await reader.recv() == SSL_REQUEST
        writer.send(b"S")
        with pytest.raises(ConnectionResetError):
            await writer.start_tls(certs.server_context())

    async def main() -> None:
        cb, done = handled(body)
        async with serving("tcp", cb, framer) as connect:
            reader, writer = await connect()
            writer.send(SSL_REQUEST)
            assert await reader.recv() == b"S"
            with pytest.raises(ssl.SSLCertVerificationError):
                await writer.start_tls(certs.client_context(), server_hostname="elsewhere.example")
            with pytest.raises(ssl.SSLCertVerificationError):
                await reader.recv()
            await writer.wait_closed()
            await done

    run(loop_kind, main)


@pytest.mark.parametrize("by", ["ssl_handshake_timeout", "cancel"])
def test_starttls_handshake_stalls(impl: Any, loop_kind: str, by: str) -> None:
    """A peer that answers "S" and then never speaks TLS: start_tls() ends at
    ssl_handshake_timeout (ConnectionAbortedError) or when cancelled (here by a
    wait_for timeout); either way the reader then raises ConnectionAbortedError
    instead of waiting for ever, and wait_closed() returns."""
    framer = impl.bind(STARTUP)

    async def main() -> None:
        async with raw_peer(framer) as (reader, writer, peer):
            writer.send(SSL_REQUEST)
            await peer.send(wire_of(STARTUP, [b"S"])[0])
            assert await reader.recv() == b"S"
            context = certs.client_context()
            if by == "ssl_handshake_timeout":
                with pytest.raises(ConnectionAbortedError):
                    await writer.start_tls(context, server_hostname=certs.SERVER_NAME, ssl_handshake_timeout=0.05)
            else:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(writer.start_tls(context, server_hostname=certs.SERVER_NAME), 0.05)
            with pytest.raises(ConnectionAbortedError):
                await reader.recv()
            await writer.wait_closed()

    run(loop_kind, main)
