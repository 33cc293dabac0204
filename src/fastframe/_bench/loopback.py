"""This side of the loopback benchmark: a listening socket and the peer process.

Transport: an AF_UNIX stream socket by default (TCP where there is none: Windows),
``tcp`` for TCP over 127.0.0.1.
AF_UNIX is the cheaper kernel path (a copy from sender to receiver, no protocol
stack), so the framing work shows the most.  Kernel socket options are left at
their defaults.  Given a certificate, the peer can also stream over TLS, on the
same transport (``tls``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from . import peer
from .tls import Certificate

TRANSPORTS = ("unix", "tcp")
DEFAULT_TRANSPORT = "unix" if hasattr(socket, "AF_UNIX") else "tcp"
REPLY_TIMEOUT = 60.0  # seconds the benchmark waits for the peer to connect at most
EXIT_TIMEOUT = 5.0  # seconds the peer gets to end once its stdin is closed

# what a send window's caller hands over: sock -> (send(batch), finish())
Sender = Callable[[socket.socket], tuple[Callable[[list[bytes]], Any], Callable[[], Any]]]


class Loopback:
    """A listening socket and the peer process that connects to it for each window;
    with ``cert``, a peer that can stream over TLS too."""

    def __init__(self, transport: str = DEFAULT_TRANSPORT, cert: Certificate | None = None) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport {transport!r}: expected 'tcp' or 'unix'")
        if transport == "unix" and not hasattr(socket, "AF_UNIX"):
            raise ValueError("transport 'unix': this platform has no Unix sockets")
        self.transport = transport
        self.cert = cert
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if transport == "tcp":
            self.listener = socket.create_server(("127.0.0.1", 0))
            family, address = socket.AF_INET, self.listener.getsockname()
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="fastframe-bench-")
            address = os.path.join(self._tmp.name, "peer.sock")
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(address)
            self.listener.listen(1)
            family = socket.AF_UNIX
        self.listener.settimeout(REPLY_TIMEOUT)
        # the peer is a module of the installed package: no path to a source tree
        self.process = subprocess.Popen(
            [sys.executable, "-m", peer.__name__, *peer.arguments(family, address, cert)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    @property
    def transport_name(self) -> str:
        return "TCP 127.0.0.1" if self.transport == "tcp" else "AF_UNIX"

    def close(self) -> None:
        """Ends the peer process (killed if it does not end by itself at once)."""
        # first, so that a peer connecting for a window that never began gets refused
        self.listener.close()
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.close()
                self.process.wait(EXIT_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Loopback:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _command(self, line: str) -> socket.socket:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        try:
            sock, _ = self.listener.accept()
        except TimeoutError:
            raise RuntimeError(f"the peer process did not connect ({line!r})") from None
        sock.settimeout(None)  # blocking: what the receive loops are measured in
        return sock

    def _reply(self, expect: str | None) -> list[str]:
        """The peer's reply to the last command: its words after ``expect`` (None:
        whatever it says, after a failure on this side)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the peer process died (exit status {self.process.wait()})")
        word, *rest = line.split(maxsplit=1 if line.startswith("error") else -1)
        if expect is not None and word != expect:
            raise RuntimeError(f"the peer process says: {line.strip()}")
        return rest

    def _abandon(self, sock: socket.socket, exc: BaseException) -> None:
        """A window failed on this side: close its connection, so that a peer
        blocked in sendall gives up, and read what it says to stay in step.  An
        interrupt (Ctrl-C) ends the run: the peer is killed instead."""
        sock.close()
        if isinstance(exc, Exception):
            self._reply(None)
        else:
            self.process.kill()

    def receive(
        self,
        count: Callable[[socket.socket], Any],
        size: int,
        window: float,
        blocks: int = 0,
        tls: bool = False,
    ) -> tuple[Any, float, int, float]:
        """One receive window: ``count(sock)`` against the peer streaming frames of
        ``size`` bytes (``tls``: over TLS, which ``count`` starts as the client).
        Returns what ``count`` returned, the seconds from the go byte to
        ``count``'s return, the number of frames the peer sent, and how busy the
        peer was sending them (the share of its time on the CPU)."""
        if tls and self.cert is None:
            raise ValueError("a window over TLS, and the peer has no certificate: Loopback(cert=...)")
        sock = self._command(f"stream {size} {window} {blocks} {int(tls)}")
        try:
            sock.sendall(b"g")
            start = time.perf_counter()
            result = count(sock)
            seconds = time.perf_counter() - start
        except BaseException as exc:
            self._abandon(sock, exc)
            raise
        sock.close()
        sent, busy = self._reply("sent")
        return result, seconds, int(sent), float(busy)

    def send(
        self,
        make_send: Sender,
        batch: list[bytes],
        window: float,
        batches: int = 0,
        check: bool = False,
    ) -> tuple[int, float, int, int]:
        """One send window: ``make_send(sock)`` gives ``(send, finish)``; ``send(batch)``
        is called until the window is over (or ``batches`` times), then ``finish()``
        shuts the writing side down.  Returns the batches sent, the seconds from the
        first send to the peer's report of EOF, the bytes and the CRC32 the peer got."""
        sock = self._command(f"drain {int(check)}")
        try:
            send, finish = make_send(sock)
            clock = time.perf_counter
            start = clock()
            deadline = start + window if window > 0 else float("inf")
            sent = 0
            while (not batches or sent < batches) and clock() < deadline:
                send(batch)
                sent += 1
            finish()
        except BaseException as exc:
            self._abandon(sock, exc)
            raise
        total, crc = self._reply("drained")
        seconds = time.perf_counter() - start
        sock.close()
        return sent, seconds, int(total), int(crc)
