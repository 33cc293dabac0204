"""The examples run as real programs: quickstart.py, aio_quickstart.py (on both
event loops), and echo_server.py serving echo_client.py over TCP and over a Unix
socket, each in a subprocess.

They run on the same fastframe (and the same FASTFRAME_PURE_PYTHON choice) as
this test process: from the source tree when that is what was imported here.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

import fastframe as ff
from tests.support.children import child_env
from tests.support.paths import ROOT
from tests.support.platforms import (
    child_signal_defaults,
    readline_within,
    requires_posix_signals,
    requires_unix_sockets,
    unix_socket_path,
)

EXAMPLES = ROOT / "examples"
TIMEOUT = 60  # seconds, for every wait on a subprocess


ENV = child_env()


def command(script: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / script), *args]


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(script, *args), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=TIMEOUT
    )


class Server:
    """echo_server.py in a subprocess; ``address`` is the first line it prints."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            command("echo_server.py", *args),
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C must reach it even when this test runs as a background job, which
            # inherits SIGINT ignored (Python then leaves it ignored).
            **child_signal_defaults(),
        )
        line = readline_within(self.process.stdout, TIMEOUT)
        assert line is not None, "the echo server printed no address"
        self.address = line.strip()
        assert self.address, self.process.stderr.read()

    def finish(self) -> tuple[int, str, str]:
        """Wait for the server to exit; its status and the rest of its output."""
        status = self.process.wait(timeout=TIMEOUT)
        return status, self.process.stdout.read(), self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        self.process.stdout.close()
        self.process.stderr.close()


@contextmanager
def echo_server(*args: str) -> Iterator[Server]:
    server = Server(*args)
    try:
        yield server
    finally:
        server.kill()


def summary(mode: str, count: int = 1000, size: int = 100) -> str:
    pattern = rf"{mode}: {count} messages of {size} bytes echoed in [\d.]+ s, [\d,]+ messages/s"
    if mode == "pingpong":
        pattern += r", round trip median \d+ us, p99 \d+ us"
    return pattern


def check_client(result: subprocess.CompletedProcess[str], mode: str, count: int = 1000) -> None:
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(summary(mode, count), result.stdout.strip()), result.stdout


def test_quickstart() -> None:
    result = run("quickstart.py")
    assert result.returncode == 0, result.stderr
    assert f", {ff.IMPLEMENTATION} core" in result.stdout
    assert "3 frames received, 5005 bytes, none lost" in result.stdout


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_aio_quickstart(loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop", reason="uvloop is optional (not installed here)")
    result = run("aio_quickstart.py", *(["--uvloop"] if loop == "uvloop" else []))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "b'HELLO'\n"
        "1000 b'FRAME 0' b'FRAME 999'\n"
        "closed: the peer closed the connection\n"
    )
    assert result.stderr == ""


def test_echo_over_tcp() -> None:
    with echo_server("--port", "0", "--max-clients", "2") as server:
        host, port = server.address.split()
        assert host == "127.0.0.1" and int(port) > 0
        for mode in ("pipeline", "pingpong"):
            result = run("echo_client.py", "--port", port, "--mode", mode, "--count", "1000")
            check_client(result, mode)
        status, out, err = server.finish()
    assert status == 0, err
    assert out == "echo server done, clients served: 2\n"
    assert err == ""


@requires_unix_sockets
@pytest.mark.parametrize("framing", ["length", "lines", "netstring"])
def test_echo_over_unix_socket(tmp_path: Path, framing: str) -> None:
    path = unix_socket_path(tmp_path, "echo.sock")
    with echo_server("--unix", path, "--framing", framing, "--max-clients", "1") as server:
        assert server.address == path
        result = run("echo_client.py", "--unix", path, "--framing", framing, "--count", "1000")
        check_client(result, "pipeline")
        status, out, err = server.finish()
    assert status == 0, err
    assert out == "echo server done, clients served: 1\n"
    assert not os.path.exists(path)  # the server removes its socket file


@pytest.mark.parametrize("script", ["echo_server.py", "echo_client.py"])
def test_unix_option_without_unix_sockets(script: str) -> None:
    # as on Windows: a usage error (server) or a clear OSError (client), no AttributeError
    code = (
        "import runpy, socket, sys; vars(socket).pop('AF_UNIX', None)\n"
        f"sys.argv = [{script!r}, '--unix', 'x.sock']\n"
        f"runpy.run_path({str(EXAMPLES / script)!r}, run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert "AttributeError" not in result.stderr
    if script == "echo_server.py":
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1].endswith("error: --unix: this platform has no Unix sockets")
    else:
        assert result.returncode != 0
        assert "AF_UNIX sockets are not available on this platform" in result.stderr


def test_server_finishes_its_echoes_after_a_half_close() -> None:
    # Echoes of a big batch are still queued in the server when it reads EOF.  A
    # thread sends while this one reads, so no buffer size can stall the exchange.
    framer = ff.LengthPrefixed(4)
    payloads = [bytes([i]) * 1_000_000 for i in range(8)]

    def send_then_shut_down(sock: socket.socket) -> None:
        sock.sendall(framer.encode_many(payloads))
        sock.shutdown(socket.SHUT_WR)

    with echo_server("--max-clients", "1") as server:
        host, port = server.address.split()
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
            sender = threading.Thread(target=send_then_shut_down, args=(sock,))
            sender.start()
            decoder, echoes = framer.decoder(), []
            while data := sock.recv(1 << 16):
                echoes += decoder.feed(data)
            decoder.eof()
            sender.join(TIMEOUT)
        status, out, err = server.finish()
    assert echoes == payloads
    assert status == 0, err
    assert out == "echo server done, clients served: 1\n"


def test_client_stopping_inside_a_frame_leaves_the_server_running() -> None:
    with echo_server("--max-clients", "2") as server:
        host, port = server.address.split()
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
            sock.sendall(b"\x00\x00\x00\x10half")  # a 16-byte frame, 4 bytes of it
        check_client(run("echo_client.py", "--port", port, "--count", "10"), "pipeline", 10)
        status, out, err = server.finish()
    assert status == 0, err
    assert out == "echo server done, clients served: 2\n"
    assert "client stopped inside a frame" in err


def test_client_exits_1_on_a_wrong_echo() -> None:
    framer = ff.LengthPrefixed(4)

    def bad_echo(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn, suppress(ConnectionError):  # the client hangs up on the first bad echo
            decoder = framer.decoder()
            while data := conn.recv(65536):
                frames = decoder.feed(data)
                conn.sendall(framer.encode_many([f.replace(b"7", b"8") for f in frames]))

    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=bad_echo, args=(listener,), daemon=True)
        thread.start()
        port = str(listener.getsockname()[1])
        result = run("echo_client.py", "--port", port, "--count", "20", "--size", "10")
        thread.join(TIMEOUT)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("mismatch at message 7: sent b'7:7:7:7:7:'")


@requires_posix_signals  # Windows cannot send a child Ctrl-C alone
def test_ctrl_c_stops_the_server() -> None:
    with echo_server() as server:
        server.process.send_signal(signal.SIGINT)
        status, out, err = server.finish()
    assert status == 0, err
    assert out == "echo server stopped\n"
