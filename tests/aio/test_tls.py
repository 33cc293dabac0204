"""TLS on the aio streams, beyond the suite that runs over it (every test that takes
``tls``), on each core and event loop: no warning from the event loop at the end of
a TLS stream, write_eof() where TLS cannot half-close, TLS 1.2 and 1.3, mutual
TLS, a certificate for another name, and what ``get_extra_info()`` tells."""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

import pytest

import fastframe as ff
from fastframe import aio
from fastframe.errors import ConnectionClosed
from tests.aio.frames import drain_frames
from tests.aio.peers import KINDS, handled, raw_peer, serving
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
