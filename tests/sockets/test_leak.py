"""No leak: millions of frames through a FramedSocket pair (send_many in one thread,
recv_many in the other, a 100 KB frame now and then for the large-frame path), then
the error paths (BlockingIOError, TimeoutError, FrameTooLarge, IncompleteFrame) in a
loop, in a child process whose RSS must stay flat after warm-up.  At least 10 million
frames on the compiled core; fewer on the pure-Python one (it is slower, not
different)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import fastframe as ff
from tests.support.children import CHILD_CORE

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")

FRAMES = {"cython": 10_000_000, "cython-object": 3_000_000, "python": 3_000_000}
ERROR_ROUNDS = {"cython": 200_000, "cython-object": 50_000, "python": 50_000}
GROWTH_LIMIT = 5 * 1024 * 1024

SCRIPT = CHILD_CORE + textwrap.dedent(  # raw: the escapes are the child's
    r"""
    import gc, os, socket, sys, threading

    import fastframe as ff
    from fastframe.errors import ConnectionClosed, FrameTooLarge, IncompleteFrame

    N = int(sys.argv[2])
    ROUNDS = int(sys.argv[3])
    if sys.argv[4] == "object":  # the compiled core through the socket's methods
        core = core.object_path()
    PAGE = os.sysconf("SC_PAGE_SIZE")

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE

    # -- phase 1: frames through send_many / recv_many --------------------------------
    framer = ff.LengthPrefixed(4)
    batch = [b"x" * (i % 40) for i in range(1000)]
    big = bytes(range(256)) * 400  # 102 400 bytes: the large-frame path
    batches = N // len(batch)
    a, b = socket.socketpair()
    a.settimeout(60)
    b.settimeout(60)
    sender = core.framed_socket(b, framer)
    receiver = core.framed_socket(a, framer)

    def send():
        for i in range(batches):
            sender.send_many(batch)
            if i % 100 == 0:
                sender.send(big)
        sender.shutdown_write()

    t = threading.Thread(target=send)
    t.start()
    count = bigs = 0
    mark = None
    while True:
        try:
            frames = receiver.recv_many()
        except ConnectionClosed:
            break
        count += len(frames)
        if len(frames) and len(frames[-1]) == len(big):
            bigs += 1
        if mark is None and count >= N // 10:
            gc.collect()
            mark = rss()
    t.join()
    gc.collect()
    end = rss()
    expected = batches * len(batch) + (batches + 99) // 100
    assert count == expected, (count, expected)
    print("frames", count, mark, end)

    # -- phase 2: the error paths ----------------------------------------------------
    small = ff.LengthPrefixed(2, max_size=4)
    c, d = socket.socketpair()
    fs = core.framed_socket(c, small)
    c.setblocking(False)
    d.sendall(b"\x00")  # half a header: nothing complete

    def would_block(rounds):
        for i in range(rounds):
            try:
                fs.recv()
            except BlockingIOError:
                pass
            else:
                raise AssertionError("no BlockingIOError")
            assert fs.recv_many() == []

    def timeouts(rounds):
        c.settimeout(0.00001)
        for i in range(rounds):
            try:
                fs.recv_many()
            except TimeoutError:
                pass
        c.setblocking(False)

    e, f = socket.socketpair()
    big_fs = core.framed_socket(e, small)
    e.settimeout(10)
    chunk = (b"\x00\x09" + b"o" * 9 + b"\x00\x01k") * 100

    def oversize(rounds):
        for i in range(rounds // 100):
            f.sendall(chunk)
            for j in range(100):
                try:
                    big_fs.recv()
                except FrameTooLarge:
                    pass
                else:
                    raise AssertionError("no FrameTooLarge")
                assert big_fs.recv() == b"k"

    def all_errors(rounds):
        would_block(rounds)
        timeouts(rounds // 100)
        oversize(rounds)

    all_errors(ROUNDS // 10)
    gc.collect()
    mark2 = rss()
    all_errors(ROUNDS)
    gc.collect()
    end2 = rss()
    print("errors", mark2, end2)
    fs.close(); d.close(); big_fs.close(); f.close()

    # -- phase 3: new FramedSockets, EOF inside a frame, detach --------------------------------
    def once():
        e, f = socket.socketpair()
        fs = core.framed_socket(e, framer)
        f.sendall(b"\x00\x00\x00\x05ab")
        f.close()
        try:
            fs.recv()
        except IncompleteFrame as exc:
            assert exc.partial == b"\x00\x00\x00\x05ab"
        sock, rest = fs.detach()
        sock.close()
    for i in range(ROUNDS // 100):
        once()
    gc.collect()
    mark3 = rss()
    for i in range(ROUNDS // 10):
        once()
    gc.collect()
    print("lifecycle", mark3, rss())
    """
)


@pytest.mark.slow
def test_no_leak_over_millions_of_frames(impl: Any) -> None:
    """RSS after warm-up (the 10% mark) and at the end differ by less than 5 MiB, for
    the frame path, the error paths and the create/EOF/detach lifecycle."""
    env = dict(os.environ, PYTHONPATH=str(Path(ff.__file__).parents[1]))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, impl.module.__name__, str(FRAMES[impl.name]), str(ERROR_ROUNDS[impl.name]),
             "fd" if impl.fd_path else "object"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = {line.split()[0]: [int(x) for x in line.split()[1:]] for line in proc.stdout.splitlines()}
    count, mark, end = lines["frames"]
    assert count >= FRAMES[impl.name]
    assert end - mark < GROWTH_LIMIT, f"frames: RSS grew {(end - mark) / 2**20:.1f} MiB"
    mark2, end2 = lines["errors"]
    assert end2 - mark2 < GROWTH_LIMIT, f"errors: RSS grew {(end2 - mark2) / 2**20:.1f} MiB"
    mark3, end3 = lines["lifecycle"]
    assert end3 - mark3 < GROWTH_LIMIT, f"lifecycle: RSS grew {(end3 - mark3) / 2**20:.1f} MiB"
