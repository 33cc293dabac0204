"""TLS for the benchmark: its certificate, the two sides' contexts, the peer's
sender, and the receive loops over TLS that are neither fastframe's nor a peer
library's (the limit and the sender's rate).

The certificate is self-signed, for ``localhost``, made at run time in a
temporary folder (nothing that expires is kept): with the ``cryptography``
package when it imports (trustme, which the tests use, is built on it; it is no
dependency of fastframe), else with the ``openssl`` command, else not at all,
and then the TLS contenders do not run and the table says why.  The peer
process is the TLS server, the contenders are clients that check the
certificate and the name, as any client should: every window is a new
connection, with a full handshake, inside the window.

The sender (the peer's side) runs its own TLS over memory buffers,
``ssl.SSLObject``: it encrypts 256 KiB at a time and writes each in one system
call (an ``ssl.SSLSocket`` writes one 16 KiB record per call: about 20% slower
here), and it sends close_notify alone and the FIN when it chooses
(``Sender.finish`` says when, and why), which ``ssl.SSLSocket.unwrap()``, two
``SSL_shutdown`` calls and a wait for the reply, cannot.
"""

from __future__ import annotations

import atexit
import datetime
import functools
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass

HOSTNAME = "localhost"  # the name in the certificate, and the one the clients check
SEND_PIECE = 256 * 1024  # plaintext the sender encrypts and writes at a time
RECV_SIZE = 64 * 1024  # ciphertext the sender reads at a time during the handshake
SINK_BUFFER = 256 * 1024  # the receive buffer of the sink and of the sender's rate
PEER_TIMEOUT = 60.0  # seconds the sender gives the client's handshake, and its close
OPENSSL_TIMEOUT = 60.0  # seconds the openssl command gets to make the certificate


class NoCertificate(Exception):
    """No certificate can be made here (the message says why)."""


@dataclass(frozen=True)
class Certificate:
    certfile: str
    keyfile: str
    made_with: str  # "cryptography 43.0.0", "OpenSSL 3.0.13 ..."


_made: Certificate | str | None = None  # the certificate, or why there is none


def certificate() -> Certificate:
    """The bench's certificate, made once per process (tried once); its folder
    goes at exit.  Raises NoCertificate."""
    global _made
    if _made is None:
        try:
            _made = _make()
        except NoCertificate as exc:
            _made = str(exc)
    if isinstance(_made, str):
        raise NoCertificate(_made)
    return _made


def _make() -> Certificate:
    folder = tempfile.mkdtemp(prefix="fastframe-bench-tls-")
    # the cache holds the certificate until the interpreter exits
    atexit.register(shutil.rmtree, folder, True)
    certfile = os.path.join(folder, "cert.pem")
    keyfile = os.path.join(folder, "key.pem")
    try:
        made_with = _with_cryptography(certfile, keyfile)
    except ImportError as no_cryptography:
        try:
            made_with = _with_openssl(certfile, keyfile)
        except subprocess.CalledProcessError as exc:
            failure = f"openssl {exc.cmd[1]} failed: {(exc.stderr or b'').decode(errors='replace').strip()}"
        except (OSError, subprocess.SubprocessError) as exc:  # no openssl command, or hung
            failure = f"no openssl command ({exc})"
        else:
            return Certificate(certfile, keyfile, made_with)
        raise NoCertificate(
            f"no certificate for TLS: the cryptography package does not import "
            f"({no_cryptography}), and {failure}; pip install cryptography"
        ) from None
    return Certificate(certfile, keyfile, made_with)


def _with_cryptography(certfile: str, keyfile: str) -> str:
    import cryptography
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks a little apart
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOSTNAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    with open(certfile, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(keyfile, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return f"cryptography {cryptography.__version__}"


def _with_openssl(certfile: str, keyfile: str) -> str:
    """``openssl req``: the same certificate as _with_cryptography's (-addext
    needs OpenSSL 1.1.1)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", keyfile, "-out", certfile, "-days", "1", "-subj", f"/CN={HOSTNAME}",
         "-addext", f"subjectAltName=DNS:{HOSTNAME}"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
        timeout=OPENSSL_TIMEOUT,
    )
    version = subprocess.run(
        ["openssl", "version"], capture_output=True, text=True, check=True, timeout=OPENSSL_TIMEOUT
    )
    # "OpenSSL 3.0.13 30 Jan 2024 (Library: ...)": the first part
    return f"the openssl command ({version.stdout.split(' (')[0].strip()})"


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return context


@functools.cache
def client_context() -> ssl.SSLContext:
    """What the contenders connect with: the bench's certificate trusted, the
    name checked (PROTOCOL_TLS_CLIENT's defaults).  Raises NoCertificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(certificate().certfile)
    return context


def describe() -> str:
    """The TLS version and cipher the two contexts agree on, and the certificate:
    one handshake in memory.  Raises NoCertificate."""
    cert = certificate()
    server = _MemoryEnd(server_context(cert.certfile, cert.keyfile), True)
    client = _MemoryEnd(client_context(), False)
    for _ in range(10):  # a TLS 1.3 handshake is two flights; bounded all the same
        client_done = client.step()
        server.incoming.write(client.outgoing.read())
        server_done = server.step()
        client.incoming.write(server.outgoing.read())
        if client_done and server_done:
            break
    else:
        raise RuntimeError("the bench's own TLS handshake did not finish")
    tls = client.tls
    cipher = tls.cipher()
    return (
        f"{tls.version()} {cipher[0] if cipher else '?'}; a self-signed ECDSA P-256 certificate "
        f"for {HOSTNAME}, checked (made with {cert.made_with}); a full handshake per window"
    )


class _MemoryEnd:
    def __init__(self, context: ssl.SSLContext, server_side: bool) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(
            self.incoming, self.outgoing, server_side, None if server_side else HOSTNAME
        )

    def step(self) -> bool:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True


# -- the peer's side -------------------------------------------------------------------


class Sender:
    """The TLS server's end of a connected blocking socket, for sending only."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self.sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        deadline = time.monotonic() + PEER_TIMEOUT
        # ends when the handshake does, or raises: the client closed, an alert, or
        # (TimeoutError, an OSError: the peer's error reply) PEER_TIMEOUT is over
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                sock.settimeout(max(0.0, deadline - time.monotonic()))
                data = sock.recv(RECV_SIZE)
                if not data:
                    raise ConnectionResetError("the client closed during the TLS handshake") from None
                self._incoming.write(data)
        sock.settimeout(None)  # blocking again, for sendall
        self._flush()

    def sendall(self, data: bytes) -> None:
        write = self._tls.write
        read = self._outgoing.read
        sendall = self.sock.sendall
        with memoryview(data) as view:
            for start in range(0, len(view), SEND_PIECE):
                write(view[start : start + SEND_PIECE])
                sendall(read())

    def finish(self) -> None:
        """close_notify, then wait for the client to close, then FIN.

        The client's stream ends at close_notify, as TLS says.  A FIN sent with it
        would meet uvloop's TLS, which throws away what it holds when the FIN
        comes while the application has paused reading (MagicStack/uvloop#661):
        fastframe.aio's reader pauses at its water mark and then lost the end of
        the stream here.  Closing before the client would make the close_notify
        that asyncio's TLS sends back fail (EPIPE on AF_UNIX), which it reports
        as the connection lost.  What the client sends is not read as TLS."""
        try:
            self._tls.unwrap()
        except ssl.SSLWantReadError:  # the client's close_notify has not come: as expected
            pass
        self._flush()
        sock = self.sock
        deadline = time.monotonic() + PEER_TIMEOUT  # (TimeoutError: the peer's error reply)
        while True:
            sock.settimeout(max(0.0, deadline - time.monotonic()))
            if not sock.recv(RECV_SIZE):
                break
        sock.shutdown(socket.SHUT_WR)

    def _flush(self) -> None:
        if self._outgoing.pending:
            self.sock.sendall(self._outgoing.read())


# -- receive loops over TLS ------------------------------------------------------------


def wrap(sock: socket.socket) -> ssl.SSLSocket:
    """``sock`` as the client's ``ssl.SSLSocket``, handshake done."""
    return client_context().wrap_socket(sock, server_hostname=HOSTNAME)


def sink_count(sock: socket.socket) -> int:
    """The limit of a receive loop over TLS: bytes decrypted until the server
    closes, ``ssl.SSLSocket.recv_into`` of a preallocated buffer, no framing, no
    objects."""
    with wrap(sock) as tls:
        recv_into = tls.recv_into
        buffer = bytearray(SINK_BUFFER)
        total = 0
        while n := recv_into(buffer):
            total += n
    return total


def sink_bytes(sock: socket.socket) -> bytes:
    with wrap(sock) as tls:
        buffer = bytearray(SINK_BUFFER)
        view = memoryview(buffer)
        out = bytearray()
        while n := tls.recv_into(buffer):
            out += view[:n]
    return bytes(out)


def ciphertext_count(sock: socket.socket) -> int:
    """The sender's rate: after the handshake, the ciphertext is read as it comes
    and never decrypted, so the receiver costs next to nothing and the sender
    runs as fast as it can.  Returns the ciphertext bytes (the plaintext's, plus
    each record's header and tag, plus the server's session tickets)."""
    with wrap(sock) as tls:
        # socket.socket's methods on the SSLSocket: the descriptor's, beneath TLS
        # (the handshake reads no further than its own records).  Closed at once
        # on this side: the sender waits for that before its FIN (Sender.finish),
        # which is how this loop, blind to close_notify, sees the end.
        socket.socket.shutdown(tls, socket.SHUT_WR)
        recv_into = functools.partial(socket.socket.recv_into, tls)
        buffer = bytearray(SINK_BUFFER)
        total = 0
        while n := recv_into(buffer):
            total += n
    return total
