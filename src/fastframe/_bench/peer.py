"""The peer process: ``python -m fastframe._bench.peer unix PATH`` or ``... tcp HOST PORT``,
then optionally ``CERTFILE KEYFILE`` for TLS.

It holds the other end of every connection the benchmark measures.  Commands come
one per line on its stdin, replies go one per line to its stdout:

* ``stream SIZE WINDOW BLOCKS TLS``: connect, wait for the go byte, then (TLS 1:
  shake hands as the TLS server, ``tls.Sender``) ``sendall`` the pre-encoded block
  of ``workloads.recv_workload(SIZE)`` over and over until WINDOW seconds are over
  (WINDOW <= 0: no limit) or BLOCKS blocks are sent (0: no limit); shut the
  writing side down (TLS: close_notify, then the FIN once the client has closed:
  ``tls.Sender.finish``); reply ``sent FRAMES BUSY``, BUSY the share of the
  sending's time the process spent on the CPU (its user and system time): near 1,
  the sender was what limited the window.
* ``drain CHECK``: connect, read until EOF; reply ``drained BYTES CRC32`` (the CRC32
  only when CHECK is 1, else 0).

An ``OSError`` on the connection replies ``error TEXT``.  EOF on stdin ends the
process.  It ignores SIGINT: Ctrl-C reaches the whole process group, and the
benchmark, which owns this process, ends it.
"""

from __future__ import annotations

import functools
import signal
import socket
import ssl
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any

from . import tls
from .workloads import recv_workload


def serve(family: int, address: Any, context: ssl.SSLContext | None = None) -> None:
    """Answer commands until stdin ends; whatever goes wrong is reported, not raised.
    ``context``: the TLS server's, for streams over TLS."""
    out = sys.stdout
    for line in sys.stdin:
        command, *args = line.split()
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.connect(address)
                if command == "stream" and args[3] == "1" and context is None:
                    reply = "error stream over TLS, and the peer has no certificate"
                elif command == "stream":
                    over = context if args[3] == "1" else None
                    reply = stream(sock, int(args[0]), float(args[1]), int(args[2]), over)
                elif command == "drain":
                    reply = drain(sock, args[0] == "1")
                else:
                    reply = f"error unknown command {command!r}"
        except OSError as exc:  # ssl.SSLError too
            reply = f"error {exc!r}"
        out.write(reply + "\n")
        out.flush()


def stream(
    sock: socket.socket, size: int, window: float, max_blocks: int, context: ssl.SSLContext | None
) -> str:
    workload = recv_workload(size)
    block = workload.block
    if sock.recv(1) != b"g":
        return "error no go byte"
    sendall: Callable[[bytes], object]
    shutdown_write: Callable[[], object]
    if context is None:
        sendall = sock.sendall
        shutdown_write = functools.partial(sock.shutdown, socket.SHUT_WR)
    else:
        sender = tls.Sender(sock, context)  # the handshake: inside the window
        sendall = sender.sendall
        shutdown_write = sender.finish
    clock = time.perf_counter
    start = clock()
    cpu = time.process_time()
    deadline = start + window if window > 0 else float("inf")
    blocks = 0
    while (not max_blocks or blocks < max_blocks) and clock() < deadline:
        sendall(block)
        blocks += 1
    busy = (time.process_time() - cpu) / (clock() - start)
    shutdown_write()
    return f"sent {blocks * workload.block_frames} {busy:.3f}"


def drain(sock: socket.socket, check: bool) -> str:
    buffer = bytearray(256 * 1024)
    view = memoryview(buffer)
    recv_into = sock.recv_into
    total = 0
    crc = 0
    while n := recv_into(buffer):
        total += n
        if check:
            crc = zlib.crc32(view[:n], crc)
    return f"drained {total} {crc}"


def arguments(family: int, address: Any, cert: tls.Certificate | None = None) -> list[str]:
    """The command-line arguments that make ``main`` connect to ``address`` (and
    serve TLS with ``cert``)."""
    certificate = [] if cert is None else [cert.certfile, cert.keyfile]
    if family == getattr(socket, "AF_UNIX", None):  # Windows has none
        return ["unix", address, *certificate]
    host, port = address[:2]
    return ["tcp", host, str(port), *certificate]


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    address: Any
    if argv[0] == "unix":
        family, address, rest = socket.AF_UNIX, argv[1], argv[2:]
    else:
        family, address, rest = socket.AF_INET, (argv[1], int(argv[2])), argv[3:]
    serve(family, address, tls.server_context(*rest) if rest else None)


if __name__ == "__main__":
    main(sys.argv[1:])
