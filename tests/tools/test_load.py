"""The load harness, hardening/load.py: 5 000 framed connections open at once on
loopback, each exchanging checked frames with a ``selectors`` server or a
``fastframe.aio`` server, in child processes running the core under test.

The harness's own checks (a reply that is not the frame sent, out of order,
damaged) are tested here too, so that a run that passes means something.  Every
test is slow (the wheels' tests, which run the fast ones, leave them out).  POSIX only: the harness raises RLIMIT_NOFILE (``resource``), which Windows
does not have.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.children import child_env
from tests.support.paths import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="the harness needs resource.RLIMIT_NOFILE: POSIX"),
]

HARNESS = ROOT / "hardening" / "load.py"
CONNECTIONS = 5000
FRAMES = 20  # per connection, each way: 100 000 each way, about 5 s a run here
TIMEOUT = 240  # seconds: the harness's deadline; the subprocess gets a minute more
# Server RSS per connection over its start-up RSS, at its peak.  Measured here at
# 10 000 connections: selectors server 8 KiB (compiled core; 25 KiB while it kept
# a drained receive buffer between reads) and 4 KiB (twin); aio server 16 KiB
# (compiled) and 13 KiB (twin): 39 and 93 KiB while each connection kept a read
# area of its own (64 KiB, 256 KiB once busy), where now a thread's connections
# share one.  A connection that keeps a read buffer of its own between reads is
# past this bound.
RSS_PER_CONNECTION = 32 * 1024


@pytest.fixture(scope="module")
def load() -> ModuleType:
    """hardening/load.py as a module."""
    spec = importlib.util.spec_from_file_location("fastframe_load_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def harness(*args: str, timeout: float = TIMEOUT + 60, **popen: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HARNESS), *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def skip_unless_descriptors_for(connections: int, margin: int) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < connections + margin:
        pytest.skip(f"RLIMIT_NOFILE's hard limit ({hard}) cannot hold {connections} connections (a machine limit)")


# -- the harness's checks -------------------------------------------------------------------


def test_a_reply_is_the_frame_sent_and_nothing_else(load: ModuleType) -> None:
    sent = load.payload(7, 3, FRAMES)
    assert load.reply_problem(sent, b"R" + sent[1:]) is None
    assert "conn 7 seq 3" in load.reply_problem(sent, sent)  # the frame itself, not a reply
    assert "conn 7 seq 4" in load.reply_problem(sent, b"R" + load.payload(7, 4, FRAMES)[1:])  # the next one
    assert "conn 8 seq 3" in load.reply_problem(sent, b"R" + load.payload(8, 3, FRAMES)[1:])  # another's
    truncated = load.reply_problem(sent, b"R" + sent[1:-1])
    assert truncated is not None and f"differ from byte {len(sent) - 1}" in truncated


def test_a_damaged_byte_inside_a_large_frame_is_found(load: ModuleType) -> None:
    conn = load.LARGE_EVERY * 2
    seq = next(s for s in range(FRAMES) if load.body_size(conn, s, FRAMES) >= load.LARGE)
    sent = load.payload(conn, seq, FRAMES)
    damaged = bytearray(b"R" + sent[1:])
    damaged[200_000] ^= 1
    assert "differ from byte 200000" in load.reply_problem(sent, bytes(damaged))


def test_bodies_vary_with_the_connection_and_the_sequence_number(load: ModuleType) -> None:
    sizes = [load.body_size(conn, seq, FRAMES) for conn in range(CONNECTIONS) for seq in range(FRAMES)]
    assert min(sizes) == 0
    assert any(60_000 <= size < 64 * 1024 for size in sizes)  # both sides of the core's large-frame threshold
    assert any(64 * 1024 <= size < load.LARGE for size in sizes)
    large = [size for size in sizes if size >= load.LARGE]
    assert len(large) == CONNECTIONS // load.LARGE_EVERY  # one on every LARGE_EVERY-th connection
    # the body repeats the ids, with bytes that depend on both between them
    by_size: dict[int, list[bytes]] = {}
    for conn in range(CONNECTIONS):
        by_size.setdefault(load.body_size(conn, 1, FRAMES), []).append(load.payload(conn, 1, FRAMES)[9:])
    size, bodies = next((size, bodies) for size, bodies in by_size.items() if size > 600 and len(bodies) > 1)
    assert len(set(bodies)) == len(bodies)
    for body in bodies:
        assert body[:8] == body[259 : 259 + 8] == body[518 : 518 + 8]


def test_the_server_takes_each_connections_own_frames_in_order(load: ModuleType) -> None:
    server = load.Server(argparse.Namespace(connections=2, frames=2))
    first, second = load.Stream(), load.Stream()
    assert server.answer(first, [load.payload(0, 0, 2)]) == [b"R" + load.payload(0, 0, 2)[1:]]
    with pytest.raises(load.LoadError, match="expected conn 0 seq 1, got b'Q' conn 0 seq 0"):
        server.answer(first, [load.payload(0, 0, 2)])  # again: a duplicate
    with pytest.raises(load.LoadError, match="expected conn 0 seq 1, got b'Q' conn 1 seq 1"):
        server.answer(first, [load.payload(1, 1, 2)])  # another connection's
    with pytest.raises(load.LoadError, match="conn 0 is another connection's"):
        server.answer(second, [load.payload(0, 0, 2)])  # a second connection claiming the first's id
    with pytest.raises(load.LoadError, match="after 1 frames sent b'D'"):
        server.answer(first, [b"D"])  # done before every frame
    assert not first.done
    assert server.answer(first, [load.payload(0, 1, 2), b"D"]) == [b"R" + load.payload(0, 1, 2)[1:]]
    assert first.done
    with pytest.raises(load.LoadError, match="after 2 frames sent b'D'"):
        server.answer(first, [b"D"])  # done twice
    with pytest.raises(load.LoadError, match="after 2 frames sent b'Q' conn 0 seq 2"):
        server.answer(first, [load.payload(0, 2, 3)])  # more after done
    assert server.frames_in == 2


# -- the runs --------------------------------------------------------------------------


@pytest.mark.parametrize(("server", "transport"), [("selectors", "tcp"), ("aio", "tcp"), ("selectors", "unix")])
def test_5000_connections_at_once_lose_and_reorder_nothing(
    impl: Any, load: ModuleType, server: str, transport: str
) -> None:
    skip_unless_descriptors_for(CONNECTIONS, load.FD_MARGIN)
    args = ["--connections", str(CONNECTIONS), "--frames", str(FRAMES), "--server", server, "--core", impl.name]
    args += ["--timeout", str(TIMEOUT), "--json", *(["--unix"] if transport == "unix" else [])]
    result = harness(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    s, clients = report["server"], report["clients"]
    assert report["ok"] and report["failed_checks"] == []
    assert [s["core"], *(c["core"] for c in clients)] == [impl.name] * (1 + len(clients))
    assert s["accepted"] == s["peak_live"] == CONNECTIONS  # all of them open at the same time
    assert s["frames_in"] == report["frames_client_to_server"] == CONNECTIONS * FRAMES
    assert sum(c["replies_verified"] for c in clients) == report["frames_server_to_client"] == CONNECTIONS * FRAMES
    assert s["clean_eofs"] == sum(c["clean_eofs"] for c in clients) == CONNECTIONS
    assert report["largest_frame"] > s["socket_buffers"]["rcvbuf"]
    per_connection = report["server_rss_per_connection"]["peak"]
    if sys.platform.startswith("linux"):  # (from /proc/self/status)
        assert per_connection is not None and 0 < per_connection < RSS_PER_CONNECTION, per_connection


def test_a_descriptor_limit_too_low_is_said_and_is_not_a_failure(load: ModuleType) -> None:
    import resource

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    result = harness("--connections", str(CONNECTIONS), "--json", timeout=60, preexec_fn=low_limit)
    assert result.returncode == load.EXIT_FD_LIMIT, result.stderr
    assert f"cannot hold {CONNECTIONS + load.FD_MARGIN} descriptors" in result.stderr
    assert json.loads(result.stdout)["ok"] is False


def test_the_deadline_ends_a_run_that_cannot_finish() -> None:
    start = time.monotonic()
    result = harness("--connections", "50", "--frames", "10000000", "--timeout", "3", "--json", timeout=120)
    assert result.returncode == 1
    assert "deadline passed" in result.stderr
    assert json.loads(result.stdout)["ok"] is False
    assert time.monotonic() - start < 100  # (a hang guard, not a speed assertion)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the child processes in /proc (Linux)")
def test_the_children_exit_when_the_harness_is_killed(tmp_path: Path) -> None:
    # stderr to a file, not a pipe: a child must go because its parent has, not
    # because it cannot write
    command = [sys.executable, str(HARNESS), "--connections", "50", "--frames", "10000000", "--timeout", "120"]
    log = tmp_path / "stderr"
    with log.open("w") as stderr:
        process = subprocess.Popen(command, env=child_env(), stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while "; go\n" not in log.read_text():  # the exchange has begun
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        pid = process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert len(children) == 3  # the server and two client processes
        process.send_signal(signal.SIGKILL)
        process.wait(60)
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 30
    while any(map(running, children)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(running, children)), "a child process outlived the harness"


def running(pid: str) -> bool:
    """Whether the process is there and not a zombie (which has exited: only its
    new parent, init, has yet to reap it)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
