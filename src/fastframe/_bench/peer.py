"""The peer process: ``python -m fastframe._bench.peer unix PATH`` or ``... tcp HOST PORT``.

It holds the other end of every connection the benchmark measures.  Commands come
one per line on its stdin, replies go one per line to its stdout:

* ``stream SIZE WINDOW BLOCKS``: connect, wait for the go byte, then ``sendall`` the
  pre-encoded block of ``workloads.recv_workload(SIZE)`` over and over until WINDOW
  seconds are over (WINDOW <= 0: no limit) or BLOCKS blocks are sent (0: no limit);
  shut the writing side down; reply ``sent FRAMES``.
* ``drain CHECK``: connect, read until EOF; reply ``drained BYTES CRC32`` (the CRC32
  only when CHECK is 1, else 0).

An ``OSError`` on the connection replies ``error TEXT``.  EOF on stdin ends the
process.  It ignores SIGINT: Ctrl-C reaches the whole process group, and the
benchmark, which owns this process, ends it.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
import zlib
from typing import Any

from .workloads import recv_workload


def serve(family: int, address: Any) -> None:
    """Answer commands until stdin ends; whatever goes wrong is reported, not raised."""
    out = sys.stdout
    for line in sys.stdin:
        command, *args = line.split()
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.connect(address)
                if command == "stream":
                    reply = stream(sock, int(args[0]), float(args[1]), int(args[2]))
                elif command == "drain":
                    reply = drain(sock, args[0] == "1")
                else:
                    reply = f"error unknown command {command!r}"
        except OSError as exc:
            reply = f"error {exc!r}"
        out.write(reply + "\n")
        out.flush()


def stream(sock: socket.socket, size: int, window: float, max_blocks: int) -> str:
    workload = recv_workload(size)
    block = workload.block
    sendall = sock.sendall
    if sock.recv(1) != b"g":
        return "error no go byte"
    clock = time.perf_counter
    deadline = clock() + window if window > 0 else float("inf")
    blocks = 0
    while (not max_blocks or blocks < max_blocks) and clock() < deadline:
        sendall(block)
        blocks += 1
    sock.shutdown(socket.SHUT_WR)
    return f"sent {blocks * workload.block_frames}"


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


def arguments(family: int, address: Any) -> list[str]:
    """The command-line arguments that make ``main`` connect to ``address``."""
    if family == getattr(socket, "AF_UNIX", None):  # Windows has none
        return ["unix", address]
    host, port = address[:2]
    return ["tcp", host, str(port)]


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if argv[0] == "unix":
        serve(socket.AF_UNIX, argv[1])
    else:
        serve(socket.AF_INET, (argv[1], int(argv[2])))


if __name__ == "__main__":
    main(sys.argv[1:])
