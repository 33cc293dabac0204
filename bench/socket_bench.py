"""The loopback socket benchmark: fastframe's ``FramedSocket``, ``fastframe.aio`` and
``fastframe.anyio`` against the receive and send loops Python programs use today,
over a real connection to another process.

    python bench/socket_bench.py                    # 5 rounds of ~1 s windows, all groups
    python bench/socket_bench.py --rounds 9 --json out.json
    python bench/socket_bench.py --group "recv 64 B" --contender best-python
    python bench/socket_bench.py --smoke            # every contender once, briefly

The harness is ``fastframe._bench`` (what ``python -m fastframe bench`` runs): a peer
process (``python -m fastframe._bench.peer``, started once) holds the other end of
every connection.  For a receive window it streams pre-encoded blocks of whole
frames (``[4-byte big-endian length][payload]``, ~1 MiB) until the window is over,
shuts its side down and reports how many frames it sent; the contender reads until
EOF and the counts must match, every window.  A send window is the reverse: the
peer drains the connection and reports the bytes it got.  Rounds interleave the
contenders in a rotated order; medians over rounds are reported.

This file adds what only the repository measures: the send group (``send_many``
against the ``sendall`` loops of ``socket_loops.py``), the C floor of a receive loop
(``floor-bytes``, ``floors/recv.pyx``, compiled by pyximport at bench time), the raw
byte sink (``socket_loops.py``) and ``FramedSocket`` iteration.

Transport: AF_UNIX by default, ``--transport tcp`` for TCP over 127.0.0.1.  AF_UNIX
is the default because it is the cheaper kernel path and because its byte sink is a
true limit: on TCP loopback here the raw ``recv_into`` sink measured *slower* than
the C floor that also builds bytes objects (a reader that drains faster than TCP
delivers pays for more, smaller wake-ups), so "x of the sink" would flatter everyone.

Nothing here asserts a speed: a window asserts frame counts (and ``--smoke`` /
``bench/test_socket.py`` check every frame's bytes).
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

if __name__ == "__main__" and not __package__:  # python bench/socket_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.socket_bench import main

    sys.exit(main())

from fastframe import _cores
from fastframe._bench import contenders as shared
from fastframe._bench.contenders import (
    REQUIRE_CYTHON_VARIABLE,
    SOCKET_METHODS,
    Receiver,
    Unavailable,
    cython_required,
    load_core,
)
from fastframe._bench.loopback import Loopback, Sender
from fastframe._bench.runner import Group, Plan, RecvGroup, Window, measure, save
from fastframe._bench.workloads import SIZES as RECV_SIZES
from fastframe._bench.workloads import encode, label

from . import floors, socket_loops

__all__ = [
    "GROUPS",
    "REQUIRE_CYTHON_VARIABLE",
    "SOCKET_JSON_VARIABLE",
    "Loopback",
    "Plan",
    "Unavailable",
    "cython_required",
    "group",
    "measure",
    "save",
]

ROOT = Path(__file__).resolve().parents[1]

SEND_SIZE = 64  # payload size of the send group
SEND_BATCH = 1000  # payloads per send_many() call
WINDOW = 1.0  # seconds per timed window
ROUNDS = 5
WARMUP = 0.2  # seconds of one untimed window per contender before the rounds
SMOKE_WINDOW = 0.03  # seconds per window of a smoke run

SOCKET_JSON_VARIABLE = "FASTFRAME_BENCH_SOCKET_JSON"


def recv_group(size: int) -> str:
    return f"recv {label(size)}"


def send_group(size: int = SEND_SIZE) -> str:
    return f"send_many {label(size)}"


GROUPS = [recv_group(size) for size in RECV_SIZES] + [send_group()]


# -- contenders only the repository measures ----------------------------------------


_recv_floor: ModuleType | None = None


def recv_floor_module() -> ModuleType:
    """``bench/floors/recv.pyx``, compiled by pyximport on first use (cached in
    ~/.pyxbld); the hook is removed again at once."""
    global _recv_floor
    if _recv_floor is None:
        try:  # imported first, so the core's own .pyx source is never compiled by the hook
            load_core("cython")
        except Unavailable:
            pass
        try:
            _recv_floor = floors.load("recv")
        except ModuleNotFoundError as exc:
            if exc.name != "pyximport":
                raise
            raise Unavailable(
                f"the socket floor is compiled at bench time and needs Cython ({exc})",
                compiled=True,
            ) from exc
    return _recv_floor


# fastframe's and the peers' (fastframe._bench.contenders), then the floor and the sink
RECV_CONTENDERS = [
    *(f"fastframe-{core}.{method}" for core in _cores.NAMES for method in SOCKET_METHODS),
    *(name for name in shared.RECEIVERS if not name.startswith("fastframe-")),
    "floor-bytes",
    "sink",
]
SEND_CONTENDERS = [
    *(f"fastframe-{core}.send_many" for core in _cores.NAMES),
    "best-python",
    "join-sendall",
    "pack-sendall",
]


def contenders(group_name: str) -> list[str]:
    return SEND_CONTENDERS if group_name.startswith("send") else RECV_CONTENDERS


def receiver(name: str) -> Receiver:
    """The receive contender called ``name``; raises Unavailable."""
    if name == "floor-bytes":
        recv_floor = recv_floor_module().recv_floor
        return Receiver(recv_floor, lambda sock: recv_floor(sock, keep=True))
    if name == "sink":
        return Receiver(socket_loops.sink_count, socket_loops.sink_bytes, counts_bytes=True)
    return shared.receiver(name)


def sender(name: str) -> Sender:
    """The send contender called ``name``; raises Unavailable."""
    if name.startswith("fastframe-"):
        core, method = name.removeprefix("fastframe-").split(".")
        assert method == "send_many", name
        import fastframe

        cls = load_core(core).FramedSocket
        framer = fastframe.LengthPrefixed(4)

        def make(sock: socket.socket) -> tuple[Callable[[list[bytes]], Any], Callable[[], Any]]:
            fs = cls(sock, framer)
            return fs.send_many, fs.shutdown_write

        return make
    factory = {
        "best-python": socket_loops.send_best_python,
        "join-sendall": socket_loops.send_join_sendall,
        "pack-sendall": socket_loops.send_pack_sendall,
    }[name]
    return lambda sock: (factory(sock), lambda: sock.shutdown(socket.SHUT_WR))


# -- the send group ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SendWorkload:
    size: int
    batch: list[bytes] = field(repr=False)  # the argument of every send call
    wire: bytes = field(repr=False)  # the batch's encoding


@cache
def send_workload(size: int = SEND_SIZE, count: int = SEND_BATCH) -> SendWorkload:
    rng = random.Random(-size)
    batch = [rng.randbytes(size) for _ in range(count)]  # distinct objects, as real messages
    return SendWorkload(size, batch, encode(batch))


class SendGroup:
    """Send batches of ``SEND_BATCH`` payloads to a peer that drains them."""

    operation = "send"

    def __init__(self, names: list[str]) -> None:
        self.payload_size = SEND_SIZE
        self.name = send_group()
        self.names = names

    def probe(self, name: str) -> None:
        sender(name)

    def check(self, loopback: Loopback, name: str) -> None:
        workload = send_workload(self.payload_size)
        batches = 3
        sent, _, total, crc = loopback.send(sender(name), workload.batch, 0, batches, check=True)
        wire = workload.wire * batches
        assert sent == batches, f"{name}: {sent} batches sent, expected {batches}"
        assert total == len(wire), f"{name}: the peer got {total} bytes, expected {len(wire)}"
        assert crc == zlib.crc32(wire), f"{name}: the peer got other bytes than were sent"

    def timed(self, loopback: Loopback, name: str, window: float) -> Window:
        workload = send_workload(self.payload_size)
        sent, seconds, total, _ = loopback.send(sender(name), workload.batch, window)
        assert total == sent * len(workload.wire), f"{name}: the peer got {total} bytes"
        return Window(sent * len(workload.batch), total, seconds)


def group(name: str, only: list[str] | None = None) -> Group:
    """The group called ``name`` (one of GROUPS), with every contender or ``only``
    those named."""
    names = [n for n in contenders(name) if only is None or n in only]
    if name == send_group():
        return SendGroup(names)
    for size in RECV_SIZES:
        if name == recv_group(size):
            return RecvGroup(size, names, receiver)
    raise LookupError(name)


def socket_facts(results: dict[str, Any]) -> dict[str, Any]:
    """The results, with what the repository adds to the machine facts: the send
    batch, the kernel's TCP buffer limits and the commit."""
    facts = results["facts"]
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
    return results


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
        groups=[group(name, args.contender) for name in args.group or GROUPS],
        rounds=1 if args.smoke else args.rounds,
        window=SMOKE_WINDOW if args.smoke else args.window,
        warmup=0 if args.smoke else args.warmup,
        transport=args.transport,
    )
    results = socket_facts(measure(plan, progress=lambda text: print(text, file=sys.stderr)))
    if args.json:
        save(results, args.json)
    from . import report

    missed = report.socket_report(results, args.markdown)
    return 1 if args.check and missed else 0
