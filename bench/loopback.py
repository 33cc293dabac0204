"""The loopback socket benchmark: fastframe's ``FramedSocket`` against the receive and
send loops Python programs use today, over a real connection to another process.

    python bench/loopback.py                        # 5 rounds of ~1 s windows, all groups
    python bench/loopback.py --rounds 9 --json out.json
    python bench/loopback.py --group "recv 64 B" --contender best-python
    python bench/loopback.py --smoke                # every contender once, briefly

A *peer process* (``python -c "import bench.loopback ..."``, started once) holds the
other end of every connection.  For a receive window it connects to this process's
listening socket, waits for a go byte, then writes one pre-encoded block of whole
frames (``[4-byte big-endian length][payload]``, ~1 MiB) after another with
``sendall`` until the window is over, shuts its side down and reports how many frames
it sent.  The contender under test reads the connection until EOF and returns the
frames it got; the count must match, every window.  A send window is the reverse:
the peer drains the connection with ``recv_into`` and reports the bytes it got.

Each window is timed from the go byte to EOF (receive) or from the first send to the
peer's report (send), so everything the kernel buffered is inside the window.
Rounds interleave the contenders (all of them once per round, in a rotated order),
so drift and other load on the machine hit all of them alike; medians over rounds
are reported, and ratios between contenders of the same run.

Transport: an AF_UNIX stream socket by default, ``--transport tcp`` for TCP over
127.0.0.1.  AF_UNIX is the default because it is the cheaper kernel path (a copy
from sender to receiver, no protocol stack), so the framing work shows the most, and
because its byte sink is a true limit: on TCP loopback here the raw ``recv_into``
sink measured *slower* than the C floor that also builds bytes objects (a reader
that drains faster than TCP delivers pays for more, smaller wake-ups), so "x of the
sink" would flatter everyone.  Kernel socket options are left at their defaults (no
TCP_NODELAY, no SO_RCVBUF/SO_SNDBUF).

Nothing here asserts a speed: a window asserts frame counts (and ``--smoke`` /
``bench/test_socket.py`` check every frame's bytes).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

if __name__ == "__main__" and not __package__:  # python bench/loopback.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.loopback import main

    sys.exit(main())

from .workloads import DISTINCT, HEADER, label

ROOT = Path(__file__).resolve().parents[1]

RECV_SIZES = (64, 1024, 64 * 1024)  # payload sizes, one receive group each
SEND_SIZE = 64  # payload size of the send group
SEND_BATCH = 1000  # payloads per send_many() call
BLOCK_BYTES = 1 << 20  # about this much per pre-encoded block the peer sends
WINDOW = 1.0  # seconds per timed window
ROUNDS = 5
WARMUP = 0.2  # seconds of one untimed window per contender before the rounds
SMOKE_WINDOW = 0.03  # seconds per window of a smoke run
CHECK_BLOCKS = 2  # blocks per untimed content check
REPLY_TIMEOUT = 60.0  # seconds the harness waits for the peer process at most

REQUIRE_CYTHON_VARIABLE = "FASTFRAME_BENCH_REQUIRE_CYTHON"
SOCKET_JSON_VARIABLE = "FASTFRAME_BENCH_SOCKET_JSON"

_HEADER = struct.Struct(">I")


def recv_group(size: int) -> str:
    return f"recv {label(size)}"


def send_group(size: int = SEND_SIZE) -> str:
    return f"send_many {label(size)}"


GROUPS = [recv_group(size) for size in RECV_SIZES] + [send_group()]


def group_size(group: str) -> int:
    for size in RECV_SIZES:
        if group == recv_group(size):
            return size
    if group == send_group():
        return SEND_SIZE
    raise LookupError(group)


# -- workloads -------------------------------------------------------------------


def _encode(payloads: Iterable[bytes]) -> bytes:
    return b"".join(_HEADER.pack(len(p)) + p for p in payloads)


@dataclass(frozen=True, eq=False)
class RecvWorkload:
    """What the peer sends in a receive window: ``block`` over and over.  Frame i of
    a connection is ``payloads[i % DISTINCT]``, across block boundaries too."""

    size: int
    payloads: tuple[bytes, ...] = field(repr=False)
    block: bytes = field(repr=False)
    block_frames: int

    def expected(self, frames: int) -> list[bytes]:
        payloads = self.payloads
        return [payloads[i % DISTINCT] for i in range(frames)]


@cache
def recv_workload(size: int) -> RecvWorkload:
    rng = random.Random(size)
    payloads = tuple(rng.randbytes(size) for _ in range(DISTINCT))
    frames = max(1, BLOCK_BYTES // (HEADER + size) // DISTINCT) * DISTINCT
    block = _encode(payloads[i % DISTINCT] for i in range(frames))
    return RecvWorkload(size, payloads, block, frames)


@dataclass(frozen=True, eq=False)
class SendWorkload:
    size: int
    batch: list[bytes] = field(repr=False)  # the argument of every send call
    wire: bytes = field(repr=False)  # the batch's encoding


@cache
def send_workload(size: int = SEND_SIZE, count: int = SEND_BATCH) -> SendWorkload:
    rng = random.Random(-size)
    batch = [rng.randbytes(size) for _ in range(count)]  # distinct objects, as real messages
    return SendWorkload(size, batch, _encode(batch))


# -- the peer process ----------------------------------------------------------------
#
# Commands, one line each on its stdin; replies, one line each on its stdout:
#   stream SIZE WINDOW BLOCKS -> connect, wait for the go byte, send blocks until WINDOW
#                                seconds are over (WINDOW <= 0: no limit) or BLOCKS
#                                blocks are sent (0: no limit); reply "sent FRAMES"
#   drain CHECK               -> connect, read until EOF; reply "drained BYTES CRC32"
#                                (CRC32 computed only when CHECK is 1, else 0)
# An OSError on the connection replies "error TEXT".  EOF on stdin ends the process.


def _peer_main(family: int, address: Any) -> None:
    # pinned to nothing, started once; whatever goes wrong is reported, not raised
    out = sys.stdout
    for line in sys.stdin:
        command, *args = line.split()
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.connect(address)
                if command == "stream":
                    reply = _peer_stream(sock, int(args[0]), float(args[1]), int(args[2]))
                elif command == "drain":
                    reply = _peer_drain(sock, args[0] == "1")
                else:
                    reply = f"error unknown command {command!r}"
        except OSError as exc:
            reply = f"error {exc!r}"
        out.write(reply + "\n")
        out.flush()


def _peer_stream(sock: socket.socket, size: int, window: float, max_blocks: int) -> str:
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


def _peer_drain(sock: socket.socket, check: bool) -> str:
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


class Loopback:
    """The benchmark's side: a listening socket and the peer process."""

    def __init__(self, transport: str = "unix") -> None:
        self.transport = transport
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if transport == "tcp":
            self.listener = socket.create_server(("127.0.0.1", 0))
            family, address = socket.AF_INET, self.listener.getsockname()
        elif transport == "unix":
            self._tmp = tempfile.TemporaryDirectory(prefix="fastframe-bench-")
            address = os.path.join(self._tmp.name, "peer.sock")
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(address)
            self.listener.listen(1)
            family = socket.AF_UNIX
        else:
            raise ValueError(f"transport {transport!r}: expected 'tcp' or 'unix'")
        self.listener.settimeout(REPLY_TIMEOUT)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        code = f"from bench.loopback import _peer_main; _peer_main({int(family)}, {address!r})"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.listener.close()
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

    def receive(
        self, count: Callable[[socket.socket], Any], size: int, window: float, blocks: int = 0
    ) -> tuple[Any, float, int]:
        """One receive window: ``count(sock)`` against the peer streaming frames of
        ``size`` bytes.  Returns what ``count`` returned, the seconds it took and the
        number of frames the peer sent."""
        sock = self._command(f"stream {size} {window} {blocks}")
        try:
            sock.sendall(b"g")
            start = time.perf_counter()
            result = count(sock)
            seconds = time.perf_counter() - start
        except BaseException:
            sock.close()  # a peer blocked in sendall gives up
            self._reply(None)
            raise
        sock.close()
        (sent,) = self._reply("sent")
        return result, seconds, int(sent)

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
        except BaseException:
            sock.close()
            self._reply(None)
            raise
        total, crc = self._reply("drained")
        seconds = time.perf_counter() - start
        sock.close()
        return sent, seconds, int(total), int(crc)


# -- contenders ------------------------------------------------------------------


class Unavailable(Exception):
    """A contender that cannot run here; ``compiled`` when it is the compiled core
    or Cython that is missing (an error under FASTFRAME_BENCH_REQUIRE_CYTHON=1)."""

    def __init__(self, reason: str, compiled: bool) -> None:
        super().__init__(reason)
        self.compiled = compiled


def cython_required() -> bool:
    value = os.environ.get(REQUIRE_CYTHON_VARIABLE, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{REQUIRE_CYTHON_VARIABLE}={value!r}: expected 1 or 0")
    return value == "1"


def _probe_speedups() -> ModuleType:
    """``fastframe._speedups``, imported before any pyximport hook can exist (so a
    stray ``_speedups.pyx`` is never compiled on the fly and taken for the core)."""
    try:
        return importlib.import_module("fastframe._speedups")
    except ImportError as exc:
        raise Unavailable(f"fastframe._speedups does not import: {exc}", compiled=True) from exc


def framed_socket_class(core: str) -> Any:
    if core == "cython":
        module = _probe_speedups()
    else:
        module = importlib.import_module("fastframe._purepython")
    cls = getattr(module, "FramedSocket", None)
    if cls is None:
        raise Unavailable(f"{module.__name__} has no FramedSocket", compiled=core == "cython")
    return cls


_socket_floors: ModuleType | None = None


def socket_floors() -> ModuleType:
    """``bench/peers/socket_floors.pyx``, compiled by pyximport on first use (cached in
    ~/.pyxbld); the hook is removed again at once."""
    global _socket_floors
    if _socket_floors is None:
        try:
            import pyximport
        except ImportError as exc:
            raise Unavailable(
                f"the socket floor is compiled at bench time and needs Cython ({exc})",
                compiled=True,
            ) from exc
        try:
            _probe_speedups()
        except Unavailable:
            pass
        hooks = pyximport.install(pyimport=False, language_level=3)
        try:
            _socket_floors = importlib.import_module(f"{__package__}.peers.socket_floors")
        finally:
            pyximport.uninstall(*hooks)
    return _socket_floors


@dataclass(frozen=True)
class Receiver:
    """A receive contender: ``count(sock)`` reads until EOF and returns the number of
    frames (``counts_bytes``: the number of bytes); ``frames(sock)`` is the same
    loop keeping what it got (a list of frames, or the bytes), for the check."""

    count: Callable[[socket.socket], int]
    frames: Callable[[socket.socket], Any]
    counts_bytes: bool = False


Sender = Callable[[socket.socket], tuple[Callable[[list[bytes]], Any], Callable[[], Any]]]


def _fastframe_receiver(core: str, method: str) -> Receiver:
    import fastframe

    cls = framed_socket_class(core)
    framer = fastframe.LengthPrefixed(4)
    closed = fastframe.ConnectionClosed
    incomplete = fastframe.IncompleteFrame

    @contextlib.contextmanager
    def until_clean_eof(sock: socket.socket) -> Iterator[Any]:
        """A FramedSocket on sock, closed at the end; the body's loop ends when
        the peer closes between frames (ConnectionClosed), not inside one."""
        with cls(sock, framer) as fs:
            try:
                yield fs
            except incomplete:
                raise
            except closed:
                pass

    if method == "recv_many":

        def count(sock: socket.socket) -> int:
            frames = 0
            with until_clean_eof(sock) as fs:
                recv_many = fs.recv_many
                while True:
                    frames += len(recv_many())
            return frames

        def frames(sock: socket.socket) -> list[bytes]:
            out: list[bytes] = []
            with until_clean_eof(sock) as fs:
                while True:
                    out += fs.recv_many()
            return out

    elif method == "recv":

        def count(sock: socket.socket) -> int:
            frames = 0
            with until_clean_eof(sock) as fs:
                recv = fs.recv
                while True:
                    frame = recv()  # noqa: F841 (received, then dropped)
                    frames += 1
            return frames

        def frames(sock: socket.socket) -> list[bytes]:
            out: list[bytes] = []
            with until_clean_eof(sock) as fs:
                while True:
                    out.append(fs.recv())
            return out

    elif method == "iter":

        def count(sock: socket.socket) -> int:
            frames = 0
            with cls(sock, framer) as fs:
                for frame in fs:  # noqa: B007
                    frames += 1
            return frames

        def frames(sock: socket.socket) -> list[bytes]:
            with cls(sock, framer) as fs:
                return list(fs)

    else:
        raise LookupError(method)
    return Receiver(count, frames)


def _fastframe_sender(core: str) -> Sender:
    import fastframe

    cls = framed_socket_class(core)
    framer = fastframe.LengthPrefixed(4)

    def make(sock: socket.socket) -> tuple[Callable[[list[bytes]], Any], Callable[[], Any]]:
        fs = cls(sock, framer)
        return fs.send_many, fs.shutdown_write

    return make


def _peer_sender(factory: Callable[[socket.socket], Callable[[list[bytes]], Any]]) -> Sender:
    def make(sock: socket.socket) -> tuple[Callable[[list[bytes]], Any], Callable[[], Any]]:
        return factory(sock), lambda: sock.shutdown(socket.SHUT_WR)

    return make


# Shown in this order.  fastframe-<core>.<method> for both cores.
RECV_CONTENDERS = [
    *(
        f"fastframe-{core}.{method}"
        for core in ("cython", "python")
        for method in ("recv_many", "recv", "iter")
    ),
    "best-python",
    "howto",
    "asyncio",
    "floor-bytes",
    "sink",
]
SEND_CONTENDERS = [
    "fastframe-cython.send_many",
    "fastframe-python.send_many",
    "best-python",
    "join-sendall",
    "pack-sendall",
]


def contenders(group: str) -> list[str]:
    return SEND_CONTENDERS if group.startswith("send") else RECV_CONTENDERS


def receiver(name: str) -> Receiver:
    """The receive contender called ``name``; raises Unavailable."""
    from .peers import socket_peers as peers

    if name.startswith("fastframe-"):
        core, method = name.removeprefix("fastframe-").split(".")
        return _fastframe_receiver(core, method)
    if name == "best-python":
        return Receiver(peers.best_python_count, peers.best_python_frames)
    if name == "howto":
        return Receiver(peers.howto_count, peers.howto_frames)
    if name == "asyncio":
        return Receiver(peers.asyncio_count, peers.asyncio_frames)
    if name == "floor-bytes":
        recv_floor = socket_floors().recv_floor
        return Receiver(recv_floor, lambda sock: recv_floor(sock, keep=True))
    if name == "sink":
        return Receiver(peers.sink_count, peers.sink_bytes, counts_bytes=True)
    raise LookupError(name)


def sender(name: str) -> Sender:
    """The send contender called ``name``; raises Unavailable."""
    from .peers import socket_peers as peers

    if name.startswith("fastframe-"):
        core, method = name.removeprefix("fastframe-").split(".")
        assert method == "send_many", name
        return _fastframe_sender(core)
    if name == "best-python":
        return _peer_sender(peers.send_best_python)
    if name == "join-sendall":
        return _peer_sender(peers.send_join_sendall)
    if name == "pack-sendall":
        return _peer_sender(peers.send_pack_sendall)
    raise LookupError(name)


# -- windows ---------------------------------------------------------------------


@dataclass
class Window:
    frames: int
    wire_bytes: int
    seconds: float


def check(loopback: Loopback, group: str, name: str) -> None:
    """Untimed: every frame (receive) or every wire byte (send) of a few blocks is
    compared with what was sent.  Raises AssertionError on a difference."""
    size = group_size(group)
    if group.startswith("send"):
        workload = send_workload(size)
        batches = 3
        sent, _, total, crc = loopback.send(sender(name), workload.batch, 0, batches, check=True)
        wire = workload.wire * batches
        assert sent == batches, f"{name}: {sent} batches sent, expected {batches}"
        assert total == len(wire), f"{name}: the peer got {total} bytes, expected {len(wire)}"
        assert crc == zlib.crc32(wire), f"{name}: the peer got other bytes than were sent"
        return
    recv = receiver(name)
    got, _, sent = loopback.receive(recv.frames, size, 0, CHECK_BLOCKS)
    workload = recv_workload(size)
    assert sent == CHECK_BLOCKS * workload.block_frames
    if recv.counts_bytes:
        assert got == workload.block * CHECK_BLOCKS, f"{name}: other bytes than were sent"
        return
    expected = workload.expected(sent)
    assert len(got) == len(expected), f"{name}: {len(got)} frames, the peer sent {len(expected)}"
    for i, (frame, want) in enumerate(zip(got, expected)):
        assert type(frame) is bytes, f"{name}: frame {i} is a {type(frame).__name__}"
        assert frame == want, f"{name}: frame {i} differs from the one sent"


def timed(loopback: Loopback, group: str, name: str, window: float) -> Window:
    """One timed window; asserts the counts."""
    size = group_size(group)
    if group.startswith("send"):
        workload = send_workload(size)
        sent, seconds, total, _ = loopback.send(sender(name), workload.batch, window)
        frames = sent * len(workload.batch)
        assert total == sent * len(workload.wire), f"{name}: the peer got {total} bytes"
        return Window(frames, total, seconds)
    recv = receiver(name)
    got, seconds, sent = loopback.receive(recv.count, size, window)
    wire = sent * (HEADER + size)
    if recv.counts_bytes:
        assert got == wire, f"{name}: {got} bytes received, the peer sent {wire}"
    else:
        assert got == sent, f"{name}: {got} frames received, the peer sent {sent}"
    return Window(sent, wire, seconds)


@dataclass
class Plan:
    groups: list[str]
    rounds: int = ROUNDS
    window: float = WINDOW
    warmup: float = WARMUP
    check: bool = True  # the untimed content check of each contender first
    only: list[str] | None = None  # contender names to run (None: all)
    transport: str = "unix"


def available(
    groups: list[str], only: list[str] | None
) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """The contenders to run per group, and those that cannot run here (with why).
    Under FASTFRAME_BENCH_REQUIRE_CYTHON=1 a missing compiled piece raises."""
    required = cython_required()
    run: dict[str, list[str]] = {}
    skipped: dict[str, dict[str, str]] = {}
    for group in groups:
        run[group] = []
        skipped[group] = {}
        for name in contenders(group):
            if only is not None and name not in only:
                continue
            try:
                (sender if group.startswith("send") else receiver)(name)
            except Unavailable as exc:
                if exc.compiled and required:
                    raise RuntimeError(f"{name}: {exc} (and {REQUIRE_CYTHON_VARIABLE}=1)") from exc
                skipped[group][name] = str(exc)
            else:
                run[group].append(name)
    return run, skipped


def measure(
    plan: Plan,
    progress: Callable[[str], None] | None = None,
    loopback: Loopback | None = None,
) -> dict[str, Any]:
    """Runs the plan (on ``loopback``, or a Loopback of its own); the results as a
    JSON-able dict (see ``report.py``)."""
    say = progress or (lambda text: None)
    run, skipped = available(plan.groups, plan.only)
    windows: dict[str, dict[str, list[Window]]] = {g: {n: [] for n in run[g]} for g in plan.groups}
    if loopback is None:
        with Loopback(plan.transport) as own:
            return measure(plan, progress, own)
    if loopback.transport != plan.transport:
        raise ValueError(f"plan for {plan.transport}, loopback over {loopback.transport}")
    for group in plan.groups:
        for name in run[group]:
            if plan.check:
                check(loopback, group, name)
            if plan.warmup > 0:
                timed(loopback, group, name, plan.warmup)
    for r in range(plan.rounds):
        for group in plan.groups:
            names = run[group]
            shift = r % len(names) if names else 0
            for name in names[shift:] + names[:shift]:  # rotated: no fixed position
                windows[group][name].append(timed(loopback, group, name, plan.window))
        say(f"round {r + 1}/{plan.rounds} done")
    return {
        "kind": "fastframe-socket-bench",
        "facts": socket_facts(plan),
        "groups": [
            {
                "name": group,
                "operation": "send" if group.startswith("send") else "recv",
                "payload_size": group_size(group),
                "contenders": {
                    name: [[w.frames, w.wire_bytes, w.seconds] for w in windows[group][name]]
                    for name in run[group]
                },
                "skipped": skipped[group],
            }
            for group in plan.groups
        ],
    }


def socket_facts(plan: Plan) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    try:
        from .conftest import bench_facts

        facts.update(bench_facts())
    except Exception as exc:  # the machine facts are nice to have, not essential
        facts["facts_error"] = repr(exc)
    facts.pop("chunk", None)
    facts["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    facts["transport"] = "TCP 127.0.0.1" if plan.transport == "tcp" else "AF_UNIX"
    facts["window_s"] = plan.window
    facts["rounds"] = plan.rounds
    facts["block_bytes"] = BLOCK_BYTES
    facts["send_batch"] = SEND_BATCH
    for name in ("ipv4/tcp_rmem", "ipv4/tcp_wmem", "core/rmem_default", "core/wmem_default"):
        try:
            facts[name.split("/")[1]] = Path("/proc/sys/net", name).read_text().split()
        except OSError:
            pass
    try:
        facts["commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout
        if dirty.strip():
            facts["commit"] += " (dirty)"
    except (OSError, subprocess.CalledProcessError):
        pass
    return facts


def save(results: dict[str, Any], path: str | os.PathLike[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--group", action="append", choices=GROUPS, help="only this group (repeatable)"
    )
    parser.add_argument("--contender", action="append", help="only this contender (repeatable)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--window", type=float, default=WINDOW, help="seconds per window")
    parser.add_argument(
        "--warmup", type=float, default=WARMUP, help="seconds of warm-up per contender"
    )
    parser.add_argument("--transport", choices=("unix", "tcp"), default="unix")
    parser.add_argument("--smoke", action="store_true", help="1 round of short windows, no warm-up")
    parser.add_argument("--json", type=Path, help="save the results here")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    plan = Plan(
        groups=args.group or GROUPS,
        rounds=1 if args.smoke else args.rounds,
        window=SMOKE_WINDOW if args.smoke else args.window,
        warmup=0 if args.smoke else args.warmup,
        only=args.contender,
        transport=args.transport,
    )
    results = measure(plan, progress=lambda text: print(text, file=sys.stderr, flush=True))
    if args.json:
        save(results, args.json)
    from . import report

    missed = report.socket_report(results, args.markdown)
    return 1 if args.check and missed else 0
