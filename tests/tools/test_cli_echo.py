"""``fastframe echo-server`` and ``echo-client``, run as real commands in
subprocesses (on the same fastframe and FASTFRAME_PURE_PYTHON choice as this
process), in the clear and over TLS, on asyncio and uvloop (fastframe.aio) and on
trio (fastframe.anyio), and the ``--framing`` parser they share, in process.  TLS certificates are made by trustme when a test asks for them.

Every wait on a subprocess or a socket is bounded by TIMEOUT, so that a bug
fails a test instead of hanging it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

import fastframe as ff
from fastframe._cli.framing import add_framing_arguments, framer_from_args, parse_framing, unescape
from tests.support.children import child_env
from tests.support.paths import ROOT
from tests.support.platforms import (
    HAVE_POSIX_SIGNALS,
    child_signal_defaults,
    readline_within,
    requires_posix_signals,
    requires_unix_sockets,
    unix_socket_path,
)

TIMEOUT = 60  # seconds, for every wait
HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
needs_uvloop = pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop is not installed")
HAVE_TRIO = all(importlib.util.find_spec(name) is not None for name in ("anyio", "trio"))
needs_trio = pytest.mark.skipif(not HAVE_TRIO, reason="anyio or trio is not installed")
# the loops a server's or client's behaviour is checked on: fastframe.aio's, fastframe.anyio's
LOOPS = ["asyncio", pytest.param("trio", marks=needs_trio)]


ENV = child_env()


def fastframe(*args: str) -> list[str]:
    return [sys.executable, "-m", "fastframe", *args]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        fastframe(*args), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=TIMEOUT
    )


class Server:
    """``echo-server`` in a subprocess; ``wait_listening()`` reads where it listens."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            fastframe("echo-server", *args),
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # SIGINT must reach it even when the tests run as a background job,
            # which inherits SIGINT ignored (and the server leaves it so).
            **child_signal_defaults(),
        )

    def wait_listening(self) -> None:
        """Read the line that says where the server listens."""
        line = readline_within(self.process.stdout, TIMEOUT)
        assert line is not None, "echo-server printed nothing"
        match = re.fullmatch(r"listening on (\S+) (.+)\n", line)
        assert match, (line, self.process.stderr.read() if not line else "")
        self.host, port_or_path = match.groups()
        self.where = (
            ["--unix", port_or_path] if self.host == "unix" else ["--port", port_or_path]
        )

    def stop(self, signum: int = signal.SIGINT) -> tuple[int | None, str, str]:
        """Send ``signum``; the exit status and the rest of stdout and stderr.
        Where an asyncio loop cannot catch a signal (Windows) the server is
        killed instead, and the status is None."""
        if HAVE_POSIX_SIGNALS:
            self.process.send_signal(signum)
        else:
            self.process.kill()
        out, err = self.process.communicate(timeout=TIMEOUT)
        return self.process.returncode if HAVE_POSIX_SIGNALS else None, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=TIMEOUT)


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """Starts echo-servers; any still running at the end of the test are killed."""
    servers: list[Server] = []

    def start(*args: str) -> Server:
        server = Server(*args)
        servers.append(server)
        server.wait_listening()
        return server

    yield start
    for server in servers:
        server.kill()


def assert_stopped_cleanly(server: Server, signum: int = signal.SIGINT) -> None:
    status, out, err = server.stop(signum)
    assert (status, out, err) == (0 if HAVE_POSIX_SIGNALS else None, "", "")


REPORT = re.compile(
    r"messages: (?P<count>\d+) of (?P<size>\d+) bytes, (?P<mode>\w+), (?P<framing>\S+), "
    r"(?P<loop>\w+), (?P<implementation>\w+)(?:, (?P<tls>TLSv[\d.]+))?\n"
    r"time: \d+\.\d{4} s\n"
    r"rate: \d+ messages/s\n"
    r"latency: p50 (?P<p50>[\d.]+) us, p90 (?P<p90>[\d.]+) us, p99 (?P<p99>[\d.]+) us, "
    r"max (?P<max>[\d.]+) us\n"
)


def check_report(
    result: subprocess.CompletedProcess[str],
    count: int,
    size: int,
    mode: str,
    framing: str,
    loop: str,
    tls: str | None = None,
) -> None:
    """``tls``: the TLS version the report must end its first line with."""
    assert (result.returncode, result.stderr) == (0, "")
    report = REPORT.fullmatch(result.stdout)
    assert report, result.stdout
    assert report.group("count", "size", "mode", "framing", "loop", "implementation", "tls") == (
        str(count), str(size), mode, framing, loop, ff.IMPLEMENTATION, tls
    )
    latencies = [float(report[q]) for q in ("p50", "p90", "p99", "max")]
    assert latencies == sorted(latencies)


# -- exchanges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("framing", "transport", "loop"),
    [
        ("length:4", "tcp", "asyncio"),
        pytest.param("length:4", "unix", "asyncio", marks=requires_unix_sockets),
        ("length:2:little", "tcp", "asyncio"),
        ("length:3:little", "tcp", "asyncio"),
        ("lines", "tcp", "asyncio"),
        pytest.param("netstring", "unix", "asyncio", marks=requires_unix_sockets),
        ("varint", "tcp", "asyncio"),
        ("fixed:16", "tcp", "asyncio"),
        (r"delimited:\r\n", "tcp", "asyncio"),
        pytest.param(r"delimited:\0", "unix", "asyncio", marks=requires_unix_sockets),
        ("delimited:5.", "tcp", "asyncio"),  # bytes of the client's payloads
        pytest.param("length", "tcp", "uvloop", marks=needs_uvloop),
        pytest.param("lines", "unix", "uvloop", marks=[needs_uvloop, requires_unix_sockets]),
        pytest.param("length", "tcp", "trio", marks=needs_trio),
        pytest.param("netstring", "unix", "trio", marks=[needs_trio, requires_unix_sockets]),
        pytest.param("lines", "tcp", "trio", marks=needs_trio),
        pytest.param("fixed:16", "tcp", "trio", marks=needs_trio),
    ],
)
def test_echo_both_modes(
    start_server: Callable[..., Server], tmp_path: Path, framing: str, transport: str, loop: str
) -> None:
    path = unix_socket_path(tmp_path, "echo.sock")
    where = ["--unix", path] if transport == "unix" else ["--port", "0"]
    server = start_server(*where, "--framing", framing, "--loop", loop)
    if transport == "tcp":
        assert server.host == "127.0.0.1" and int(server.where[1]) > 0
    size = 16 if framing == "fixed:16" else 64
    for mode in ("pingpong", "pipeline"):
        result = run(
            "echo-client", *server.where, "--framing", framing, "--loop", loop, "--mode", mode
        )
        check_report(result, 1000, size, mode, framing, loop)
    assert_stopped_cleanly(server)
    assert not os.path.exists(path)


def test_sigterm_and_sizes(start_server: Callable[..., Server]) -> None:
    server = start_server("--framing", "length:1")
    for size in ("0", "255"):
        result = run("echo-client", *server.where, "--framing=length:1", "-n50", "--size", size)
        check_report(result, 50, int(size), "pingpong", "length:1", "asyncio")
    assert_stopped_cleanly(server, signal.SIGTERM)


@pytest.mark.parametrize(
    ("options", "good", "bad", "report"),
    [
        pytest.param(
            ["--max-size", "10"],
            b"\0\0\0\2ok",
            b"\0\0\0\x0b" + b"x" * 11,
            r"FrameTooLarge: frame of 11 bytes exceeds max_size=10",
            id="oversize",
        ),
        pytest.param(
            ["--framing", "netstring"],
            b"2:ok,",
            b"2x",
            r"ProtocolError: .*",
            id="malformed",
        ),
        pytest.param(
            ["--framing", "lines"],
            b"ok\n",
            b"ends with CR\r\r\n",  # a frame Lines cannot send back
            r"ValueError: a line must not end with b'\\r'.*",
            id="unechoable",
        ),
        pytest.param(
            [],
            b"\0\0\0\2ok",
            b"\0\0\0\5ab",
            r"IncompleteFrame: stream ended inside a frame: got 6 of 9 bytes",
            id="incomplete",
        ),
    ],
)
@pytest.mark.parametrize("loop", LOOPS)
def test_bad_client_is_dropped_alone(
    start_server: Callable[..., Server], options: list[str], good: bytes, bad: bytes, report: str, loop: str
) -> None:
    server = start_server(*options, "--loop", loop)
    address = ("127.0.0.1", int(server.where[1]))
    with socket.create_connection(address, timeout=TIMEOUT) as client:
        client.sendall(good + bad)
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(100):  # until the server closes the connection
            received += chunk
    assert received == good  # the frame before the bad one was echoed
    with socket.create_connection(address, timeout=TIMEOUT) as other:
        other.sendall(good)
        assert other.recv(100) == good  # the server goes on serving
    status, out, err = server.stop()
    assert (status, out) == (0 if HAVE_POSIX_SIGNALS else None, "")
    assert re.fullmatch(rf"client 1 \(127\.0\.0\.1:\d+\): {report}; closed\n", err), err


@requires_posix_signals  # a killed server's connections are reset, not closed
@pytest.mark.parametrize("loop", LOOPS)
def test_stop_with_a_client_connected(start_server: Callable[..., Server], loop: str) -> None:
    server = start_server("--framing", "lines", "--loop", loop)
    with socket.create_connection(("127.0.0.1", int(server.where[1])), timeout=TIMEOUT) as idle:
        idle.sendall(b"hi\n")
        assert idle.recv(100) == b"hi\n"  # the server serves it
        assert_stopped_cleanly(server)
        assert idle.recv(100) == b""  # and closed it on the way out


# -- TLS -------------------------------------------------------------------------------

class TLSFiles:
    """PEM files trustme made for a test: a certificate authority (``ca``), the
    server's certificate for localhost and 127.0.0.1 with its key in one file
    (``server``) and apart (``cert``, ``key``), and another authority (``other_ca``)."""

    def __init__(self, folder: Path) -> None:
        authority = trustme.CA()
        server = authority.issue_cert("localhost", "127.0.0.1")
        self.ca = str(folder / "ca.pem")
        self.server = str(folder / "server.pem")
        self.cert = str(folder / "cert.pem")
        self.key = str(folder / "key.pem")
        self.other_ca = str(folder / "other-ca.pem")
        authority.cert_pem.write_to_path(self.ca)
        server.private_key_and_cert_chain_pem.write_to_path(self.server)
        server.cert_chain_pems[0].write_to_path(self.cert)
        server.private_key_pem.write_to_path(self.key)
        trustme.CA().cert_pem.write_to_path(self.other_ca)


@pytest.fixture
def tls_files(tmp_path: Path) -> TLSFiles:
    return TLSFiles(tmp_path)


@pytest.mark.parametrize(
    ("framing", "transport", "loop", "key"),
    [
        ("length", "tcp", "asyncio", "in-certfile"),
        ("lines", "tcp", "asyncio", "keyfile"),
        pytest.param("netstring", "unix", "asyncio", "in-certfile", marks=requires_unix_sockets),
        pytest.param("length:2", "tcp", "uvloop", "keyfile", marks=needs_uvloop),
        pytest.param("varint", "unix", "uvloop", "in-certfile", marks=[needs_uvloop, requires_unix_sockets]),
        pytest.param("length", "tcp", "trio", "keyfile", marks=needs_trio),
        pytest.param("lines", "unix", "trio", "in-certfile", marks=[needs_trio, requires_unix_sockets]),
    ],
)
def test_echo_over_tls(
    start_server: Callable[..., Server],
    tls_files: TLSFiles,
    tmp_path: Path,
    framing: str,
    transport: str,
    loop: str,
    key: str,
) -> None:
    path = unix_socket_path(tmp_path, "echo.sock")
    where = ["--unix", path] if transport == "unix" else ["--port", "0"]
    if key == "keyfile":
        certificate = ["--certfile", tls_files.cert, "--keyfile", tls_files.key]
    else:
        certificate = ["--certfile", tls_files.server]
    server = start_server(*where, "--framing", framing, "--loop", loop, "--tls", *certificate)
    # over TCP the name checked is --host's (127.0.0.1, an address in the
    # certificate); a Unix socket has none, so it is given
    name = ["--server-hostname", "localhost"] if transport == "unix" else []
    for mode in ("pingpong", "pipeline"):
        result = run(
            "echo-client", *server.where, "--framing", framing, "--loop", loop, "--mode", mode,
            "--tls", "--cafile", tls_files.ca, *name,
        )
        check_report(result, 1000, 64, mode, framing, loop, tls="TLSv1.3")
    # frames bigger than a TLS record (16 KiB), and than the receive buffers
    result = run(
        "echo-client", *server.where, "--framing", framing, "--loop", loop, "--mode", "pipeline",
        "-n", "20", "--size", "65535" if framing == "length:2" else "200000",
        "--tls", "--cafile", tls_files.ca, *name,
    )
    check_report(result, 20, 65535 if framing == "length:2" else 200000, "pipeline", framing, loop, tls="TLSv1.3")
    assert_stopped_cleanly(server)
    assert not os.path.exists(path)


@pytest.mark.parametrize(
    ("client", "message"),
    [
        pytest.param(
            [],  # the system's trust store, which does not hold the test's authority
            r"cannot connect to 127\.0\.0\.1:\d+: TLS: certificate verify failed: unable to get local issuer certificate",
            id="unknown-authority",
        ),
        pytest.param(
            ["--cafile", "{other_ca}"],
            r"cannot connect to 127\.0\.0\.1:\d+: TLS: certificate verify failed: unable to get local issuer certificate",
            id="other-authority",
        ),
        pytest.param(
            ["--cafile", "{ca}", "--server-hostname", "example.com"],
            r"cannot connect to 127\.0\.0\.1:\d+: TLS: certificate verify failed: "
            r"Hostname mismatch, certificate is not valid for 'example\.com'\.",
            id="hostname-mismatch",
        ),
    ],
)
@pytest.mark.parametrize("loop", LOOPS)
def test_tls_client_refuses_a_certificate(
    start_server: Callable[..., Server], tls_files: TLSFiles, client: list[str], message: str, loop: str
) -> None:
    server = start_server("--tls", "--certfile", tls_files.server, "--loop", loop)
    options = [option.format(**vars(tls_files)) for option in client]
    result = run("echo-client", *server.where, "-n", "10", "--timeout", "10", "--tls", *options, "--loop", loop)
    assert (result.returncode, result.stdout) == (3, "")
    assert re.fullmatch(message + "\n", result.stderr), result.stderr
    # a client whose handshake failed is dropped without a word
    assert_stopped_cleanly(server)


@pytest.mark.parametrize("loop", LOOPS)
def test_tls_and_plain_do_not_meet(start_server: Callable[..., Server], tls_files: TLSFiles, loop: str) -> None:
    tls_server = start_server("--tls", "--certfile", tls_files.server, "--loop", loop)
    result = run("echo-client", *tls_server.where, "-n", "10", "--timeout", "10", "--loop", loop)
    # the TLS server hangs up on bytes that are no handshake: closed or reset
    assert (result.returncode, result.stdout) == (1, "")
    assert re.fullmatch(
        rf"(the server closed the connection \(0 of 10 echoes received\){re.escape(framing_hint('length'))}"
        r"|connection lost: connection reset by peer \(0 of 10 echoes received\))\n",
        result.stderr,
    ), result.stderr
    assert_stopped_cleanly(tls_server)

    plain_server = start_server("--loop", loop)
    result = run(
        "echo-client", *plain_server.where, "-n", "10", "--timeout", "10", "--tls", "--cafile", tls_files.ca,
        "--loop", loop,
    )
    assert (result.returncode, result.stdout) == (3, "")
    assert re.fullmatch(
        r"cannot connect to 127\.0\.0\.1:\d+: "
        r"(the server hung up during the TLS handshake|connection reset by peer)\n",
        result.stderr,
    ), result.stderr
    # the plain server reads the client's hello as a frame header: a frame too large
    status, out, err = plain_server.stop()
    assert (status, out) == (0 if HAVE_POSIX_SIGNALS else None, "")
    assert re.fullmatch(r"client 1 \(127\.0\.0\.1:\d+\): FrameTooLarge: .*; closed\n", err), err


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo-server --tls", "--tls needs --certfile (the server's certificate)"),
        ("echo-server --certfile {server}", "--certfile goes with --tls"),
        ("echo-server --keyfile {key}", "--keyfile goes with --tls"),
        ("echo-server --tls --certfile {missing}", "--certfile {missing}: no such file or directory"),
        ("echo-server --tls --certfile {cert} --keyfile {missing}", "--keyfile {missing}: no such file or directory"),
        ("echo-server --tls --certfile {folder}", "--certfile {folder}: is a directory"),
        (
            "echo-server --tls --certfile {cert}",  # the key is in neither file
            "--certfile {cert}: not a PEM certificate chain and its private key (PEM lib)",
        ),
        (
            "echo-server --tls --certfile {ca}",
            "--certfile {ca}: not a PEM certificate chain and its private key (PEM lib)",
        ),
        (
            "echo-server --tls --certfile {cert} --keyfile {other_ca}",
            "--certfile {cert} with --keyfile {other_ca}: not a PEM certificate chain and its private key (PEM lib)",
        ),
        ("echo-client --port 1 --cafile {ca}", "--cafile goes with --tls"),
        ("echo-client --port 1 --server-hostname localhost", "--server-hostname goes with --tls"),
        ("echo-client --port 1 --tls --cafile {missing}", "--cafile {missing}: no such file or directory"),
        (
            "echo-client --port 1 --tls --cafile {key}",
            "--cafile {key}: no PEM certificate to trust (no certificate or crl found)",
        ),
        (
            "echo-client --unix x --tls --cafile {ca}",
            "--tls with --unix needs --server-hostname (no --host to check)",
        ),
    ],
)
def test_tls_usage_errors(tls_files: TLSFiles, tmp_path: Path, command: str, message: str) -> None:
    names = {**vars(tls_files), "missing": str(tmp_path / "missing.pem"), "folder": str(tmp_path)}
    result = run(*[word.format(**names) for word in command.split()])
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("usage: fastframe")
    assert result.stderr.splitlines()[-1].endswith("error: " + message.format(**names))


def test_tls_reasons() -> None:
    import ssl

    from fastframe._cli.echo import _reason

    # OpenSSL's error number is not the system's: errno 1 is no "operation not permitted"
    assert _reason(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")) == (
        "TLS: wrong version number"
    )
    assert _reason(ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)")) == (
        "TLS: EOF occurred in violation of protocol"
    )


# -- failures --------------------------------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_connection_refused(loop: str) -> None:
    with socket.socket() as holder:  # bound, not listening: connecting is refused
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        result = run("echo-client", "--port", str(port), "--loop", loop)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == f"cannot connect to 127.0.0.1:{port}: connection refused\n"


@requires_unix_sockets
@pytest.mark.parametrize("loop", LOOPS)
def test_unix_socket_missing(tmp_path: Path, loop: str) -> None:
    path = unix_socket_path(tmp_path, "none.sock")
    result = run("echo-client", "--unix", str(path), "--loop", loop)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == f"cannot connect to {path}: no such file or directory\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_port_in_use(loop: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        result = run("echo-server", "--port", str(port), "--loop", loop)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == f"cannot listen on 127.0.0.1:{port}: address already in use\n"


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        # Winsock's numbers, which Windows' C library has no text for
        (ConnectionRefusedError(10061, "No connection could be made"), "connection refused"),
        (ConnectionResetError(10054, "An existing connection was forcibly closed"), "connection reset by peer"),
        (OSError(10065, "A socket operation was attempted to an unreachable host"),
         "a socket operation was attempted to an unreachable host"),
    ],
)
def test_reasons_without_a_c_library_text(exc: OSError, reason: str) -> None:
    from fastframe._cli.echo import _reason

    assert _reason(exc) == reason


@contextlib.contextmanager
def fake_server(answer: Callable[[ff.FramedSocket], None]) -> Iterator[list[str]]:
    """A one-connection LengthPrefixed(4) server in a thread that answers with
    ``answer(connection)``; the client options that reach it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def serve() -> None:
        # The client hangs up on a wrong answer: what that does here does not matter.
        with contextlib.suppress(OSError, ff.FastframeError):
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with ff.FramedSocket(conn, ff.LengthPrefixed(4)) as fs:
                answer(fs)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield ["--port", str(listener.getsockname()[1])]
    finally:
        listener.close()
        thread.join(TIMEOUT)


def alter_fourth(fs: ff.FramedSocket) -> None:
    for number, frame in enumerate(fs):
        fs.send(b"X" + frame[1:] if number == 3 else frame)


def close_after_five(fs: ff.FramedSocket) -> None:
    for _ in range(5):
        fs.send(fs.recv())
    hang_up(fs)


def close_inside_a_frame(fs: ff.FramedSocket) -> None:
    fs.recv()
    fs.sendall(b"\0\0\0\x10abc")
    hang_up(fs)


def hang_up(fs: ff.FramedSocket) -> None:
    # Half-close, then read what the client still sends: closing with unread
    # bytes would send it a reset instead of the EOF under test.
    fs.shutdown_write()
    fs.recv_until_eof()


def frame_after_the_last(fs: ff.FramedSocket) -> None:
    for frame in fs:
        fs.send(frame)
    fs.send(b"extra")


def one_more_with_the_last(fs: ff.FramedSocket) -> None:
    # One write: the extra frame arrives with the last echoes.
    fs.send_many([fs.recv() for _ in range(10)] + [b"extra"])
    hang_up(fs)


def oversize_answer(fs: ff.FramedSocket) -> None:
    fs.recv()
    fs.sendall(b"\xff\xff\xff\xff")


def never_answer(fs: ff.FramedSocket) -> None:
    fs.recv_until_eof()


def answer_five_then_wait(fs: ff.FramedSocket) -> None:
    for _ in range(5):
        fs.send(fs.recv())
    fs.recv_until_eof()


def framing_hint(framing: str) -> str:
    """What the client adds when the server's answers suggest another framing."""
    return (
        "; the server may frame messages otherwise: check that --framing matches the "
        f"server's (this client's is {framing}: echo-server --framing {framing})"
    )


HINT = re.escape(framing_hint("length"))


@pytest.mark.parametrize(
    ("answer", "mode", "message"),
    [
        pytest.param(
            alter_fourth,
            "pingpong",
            r"echo 3 differs: sent b'3\.3\.3\.3\.' \(8 bytes\), got b'X\.3\.3\.3\.' \(8 bytes\) "
            r"\(3 of 10 echoes received\)" + HINT,
            id="mismatch-pingpong",
        ),
        pytest.param(
            alter_fourth,
            "pipeline",
            r"echo 3 differs: .* \(3 of 10 echoes received\)" + HINT,
            id="mismatch-pipeline",
        ),
        pytest.param(
            close_after_five,
            "pingpong",
            r"the server closed the connection \(5 of 10 echoes received\)" + HINT,
            id="closed",
        ),
        pytest.param(
            close_inside_a_frame,
            "pingpong",
            r"the server closed the connection inside a frame: "
            r"stream ended inside a frame: got 7 of 20 bytes \(0 of 10 echoes received\)" + HINT,
            id="closed-inside-a-frame",
        ),
        pytest.param(
            frame_after_the_last,
            "pipeline",
            r"a frame after the last echo: b'extra' \(10 of 10 echoes received\)" + HINT,
            id="extra-frame",
        ),
        pytest.param(
            one_more_with_the_last,
            "pipeline",
            r"more echoes than messages sent: b'extra' \(10 of 10 echoes received\)" + HINT,
            id="extra-echo",
        ),
        pytest.param(
            oversize_answer,
            "pingpong",
            r"bad framing from the server: FrameTooLarge: frame of 4294967295 bytes exceeds "
            r"max_size=16777216 \(0 of 10 echoes received\)" + HINT,
            id="bad-framing",
        ),
        pytest.param(
            never_answer,
            "pingpong",
            r"timed out after 1 s \(0 of 10 echoes received\)" + HINT,
            id="timeout",
        ),
        pytest.param(
            answer_five_then_wait,
            "pingpong",
            r"timed out after 1 s \(5 of 10 echoes received\)",  # echoes came: no word of the framing
            id="timeout-after-echoes",
        ),
    ],
)
@pytest.mark.parametrize("loop", LOOPS)
def test_client_detects(answer: Callable[[ff.FramedSocket], None], mode: str, message: str, loop: str) -> None:
    with fake_server(answer) as where:
        result = run("echo-client", *where, "-n10", "--size=8", "--mode", mode, "--timeout=1", "--loop", loop)
    assert (result.returncode, result.stdout) == (1, "")
    assert re.fullmatch(message + "\n", result.stderr), result.stderr


@pytest.mark.parametrize(
    ("server_framing", "client_framing", "failure"),
    [
        ("length", "lines", "the server closed the connection"),  # on the first line, far over max_size as a length
        ("lines", "length", "timed out after 2 s"),  # the server waits for a newline that never comes
    ],
)
@pytest.mark.parametrize("loop", LOOPS)
def test_a_framing_that_differs_from_the_server_s_is_named(
    start_server: Callable[..., Server], server_framing: str, client_framing: str, failure: str, loop: str
) -> None:
    """A client whose --framing is not the server's learns what failed and that
    the framings may differ (it only learnt that the server closed the connection)."""
    server = start_server("--framing", server_framing, "--loop", loop)
    result = run("echo-client", *server.where, "--framing", client_framing, "-n5", "--timeout=2", "--loop", loop)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{failure} (0 of 5 echoes received){framing_hint(client_framing)}\n"
    assert "check that --framing matches the server's" in result.stderr
    server.stop()


# -- usage -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo-server --bogus", "unrecognized arguments: --bogus"),
        ("echo-server --port 65536", "argument --port: expected an integer from 0 to 65535"),
        ("echo-server --port http", "argument --port: expected an integer"),
        ("echo-server --port 1 --unix x", "argument --unix: not allowed with argument --port"),
        ("echo-server --unix x --host ::1", "--host does not go with --unix"),
        ("echo-server --framing length:9", "bad framing 'length:9': width must be between 1 and 8 bytes, got 9"),
        ("echo-server --framing fixed:8 --max-size 9", "--max-size does not apply"),
        ("echo-server --max-size 0", "argument --max-size: expected an integer >= 1"),
        ("echo-server --loop curio", "argument --loop: invalid choice"),
        ("echo-client", "one of the arguments --port --unix is required"),
        ("echo-client --port 0", "argument --port: expected an integer from 1 to 65535"),
        ("echo-client --port 1 --unix x", "argument --unix: not allowed with argument --port"),
        ("echo-client --port 1 --count 0", "argument -n/--count: expected an integer >= 1"),
        ("echo-client --port 1 -n -5", "argument -n/--count: expected an integer >= 1"),
        ("echo-client --port 1 --size -1", "argument --size: expected an integer >= 0"),
        ("echo-client --port 1 --mode burst", "argument --mode: invalid choice"),
        ("echo-client --port 1 --timeout -1", "argument --timeout: expected seconds >= 0"),
        ("echo-client --port 1 --framing delimited:", "delimiter must not be empty"),
        (
            "echo-client --port 1 --framing length:1 --size 256",
            "--size 256 does not fit --framing length:1: frame of 256 bytes exceeds max_size=255",
        ),
        (
            "echo-client --port 1 --framing fixed:8 --size 7",
            "--size 7 does not fit --framing fixed:8: payload must be exactly 8 bytes, got 7",
        ),
        ("echo-client --port 1 --max-size 63", "--size 64 does not fit --framing length"),
    ],
)
def test_usage_errors(command: str, message: str) -> None:
    result = run(*command.split())
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("usage: fastframe")
    assert message in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("command", ["echo-server", "echo-client"])
def test_unix_option_without_unix_sockets(command: str) -> None:
    # as on Windows
    result = dispatch_after("import socket; vars(socket).pop('AF_UNIX', None)", command, "--unix", "x")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1].endswith(
        "error: --unix: this platform has no Unix sockets (use --port)"
    )


def dispatch_after(prelude: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The command line's dispatcher with ``argv``, in a process that first ran ``prelude``."""
    code = f"{prelude}\nimport sys\nfrom fastframe._cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], env=ENV, capture_output=True, text=True, timeout=TIMEOUT
    )


@pytest.mark.parametrize("command", [["echo-server"], ["echo-client", "--port", "1"]])
def test_uvloop_missing(command: list[str]) -> None:
    result = dispatch_after("import sys; sys.modules['uvloop'] = None", *command, "--loop", "uvloop")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1].endswith(
        "error: --loop uvloop: uvloop is not installed (pip install uvloop)"
    )


@pytest.mark.parametrize("command", [["echo-server"], ["echo-client", "--port", "1"]])
@pytest.mark.parametrize(("missing", "install"), [("anyio", '"fastframe[anyio]"'), ("trio", "trio")])
def test_trio_missing(command: list[str], missing: str, install: str) -> None:
    result = dispatch_after(f"import sys; sys.modules[{missing!r}] = None", *command, "--loop", "trio")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1].endswith(
        f"error: --loop trio: {missing} is not installed (pip install {install})"
    )


@pytest.mark.parametrize("command", ["echo-server", "echo-client"])
def test_help_documents_output_and_exit_status(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "exit status:" in result.stdout
    output = "listening on HOST PORT" if command == "echo-server" else "latency: p50"
    assert output in result.stdout


def test_commands_import_no_event_loop() -> None:
    # The dispatcher imports every command's module for every command.
    code = (
        "import sys, fastframe._cli\n"
        "print({'asyncio', 'uvloop', 'fastframe.aio', 'anyio', 'trio', 'fastframe.anyio'} & set(sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert (result.returncode, result.stdout) == (0, "set()\n")


# -- the --framing parser --------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "framer"),
    [
        ("length", ff.LengthPrefixed(4)),
        ("length:1", ff.LengthPrefixed(1)),
        ("length:2:little", ff.LengthPrefixed(2, byteorder="little")),
        ("length:3:little", ff.LengthPrefixed(3, byteorder="little")),
        ("length:7", ff.LengthPrefixed(7)),
        ("length:8:big", ff.LengthPrefixed(8)),
        ("lines", ff.Lines()),
        ("netstring", ff.Netstring()),
        ("varint", ff.VarintPrefixed()),
        ("fixed:12", ff.FixedSize(12)),
        ("delimited:;", ff.Delimited(b";")),
        ("delimited:a:b", ff.Delimited(b"a:b")),
        (r"delimited:\r\n", ff.Delimited(b"\r\n")),
        (r"delimited:\0\xFF\t\\", ff.Delimited(b"\0\xff\t\\")),
        ("delimited:é", ff.Delimited("é".encode())),
    ],
)
def test_parse_framing(spec: str, framer: ff.Framer) -> None:
    assert parse_framing(spec) == framer


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "expected one of length"),
        ("LINES", "expected one of length"),
        ("lines:", "expected one of length"),
        ("netstring:5", "expected one of length"),
        ("length:", "WIDTH must be an integer, got ''"),
        ("length:4:big:1", "expected one of length"),
        ("length:16", "width must be between 1 and 8 bytes, got 16"),
        ("length:2:native", "byteorder must be 'big' or 'little'"),
        ("fixed", "expected one of length"),
        ("fixed:-1", "size must be between 1 and"),
        ("delimited", "expected one of length"),
        (r"delimited:\q", r"unknown escape '\q'"),
        (r"delimited:a\x4", r"unknown escape '\x'"),
        ("delimited:a\\", r"unknown escape '\'"),
    ],
)
def test_parse_framing_rejects(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r"^bad framing ") as caught:
        parse_framing(spec)
    assert reason in str(caught.value)


def test_unescape_keeps_undecodable_command_line_bytes() -> None:
    # sys.argv holds bytes that are not UTF-8 as surrogate escapes (on POSIX)
    text = os.fsdecode(b"\xfe|")
    assert unescape(text + r"\n") == b"\xfe|\n"


@pytest.mark.parametrize(
    ("argv", "framer"),
    [
        ([], ff.LengthPrefixed(4)),
        (["--max-size", "100"], ff.LengthPrefixed(4, max_size=100)),
        (["--framing", "lines", "--max-size", "7"], ff.Lines(max_size=7)),
        (["--max-size", "7", "--framing", r"delimited:\n"], ff.Delimited(b"\n", max_size=7)),
        (["--framing", "fixed:3"], ff.FixedSize(3)),
    ],
)
def test_framer_from_args(argv: list[str], framer: ff.Framer) -> None:
    parser = argparse.ArgumentParser()
    add_framing_arguments(parser)
    assert framer_from_args(parser.parse_args(argv)) == framer
