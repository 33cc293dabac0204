"""``fastframe bench``: fastframe's receive loops against the loops Python programs
use without it, over a real connection to a peer process, on this machine.

The machinery is ``fastframe._bench``, imported by ``run`` (this module is imported
for every ``fastframe`` command, so it imports nothing heavy itself).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import re
import shutil
import socket
import sys
import textwrap
import traceback
from typing import TextIO

from . import INTERRUPTED
from .framing import int_type

ROUNDS = 5
WINDOW = 0.5  # seconds
WARMUP = 0.1  # seconds of one untimed window per contender before the rounds
QUICK_ROUNDS = 3
QUICK_WINDOW = 0.05
MAX_SIZE = 1 << 20
WIDTH = 100  # columns of what is printed, as fastframe._bench.table.WIDTH (--wide aside)

# exit statuses (--help lists them; main() returns INTERRUPTED after Ctrl-C)
OK = 0
FAILED = 1
USAGE = 2
EXIT_STATUSES = {
    OK: "the tables were printed (a target MISSED is reported, not an error)",
    FAILED: "the benchmark failed: a content check, a connection of the benchmark, "
    "or a compiled piece missing under FASTFRAME_BENCH_REQUIRE_CYTHON=1 (what failed "
    "is printed), or the reader of the output went away",
    USAGE: "bad flags, a bad FASTFRAME_BENCH_REQUIRE_CYTHON value, --transport unix "
    "without Unix sockets, or a tls- contender without --tls: nothing ran",
    INTERRUPTED: "interrupted (Ctrl-C)",
}

_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1 << 20, "mib": 1 << 20}


def _size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    unit = match and _UNITS.get(match.group(2).lower())
    if not match or not unit:
        raise argparse.ArgumentTypeError(f"{text!r}: expected bytes, e.g. 64, 1KiB, 64KiB")
    size = int(match.group(1)) * unit
    if not 1 <= size <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r}: from 1 byte to 1 MiB")
    return size


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _contender(name: str) -> str:
    from .._bench.contenders import RECEIVERS, TLS_RECEIVERS

    if name not in RECEIVERS + TLS_RECEIVERS:
        raise argparse.ArgumentTypeError(
            f"{name!r}: expected one of {', '.join(RECEIVERS + TLS_RECEIVERS)}"
        )
    return name


def _output(path: str) -> str:
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{path!r}: no folder {folder!r}")
    return path


def _json_output(path: str) -> str:
    return path if path == "-" else _output(path)


def _plot_output(path: str) -> str:
    try:
        importlib.import_module("matplotlib")
    except ImportError as exc:
        raise argparse.ArgumentTypeError(
            f"drawing needs matplotlib ({exc}): pip install 'fastframe[plot]'"
        ) from None
    return _output(path)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    what = (
        "Receives [4-byte big-endian length][payload] frames that a peer process streams "
        "until each window ends, with every contender in turn (rounds interleaved, content "
        "checked first), and prints median frames/s, MB/s, the spread of the windows and the "
        "ratios to the peers: the Socket Programming HOWTO's loop, the best hand-written "
        "pure Python, asyncio streams (readexactly) on the default loop and on uvloop, and "
        "the loop anyio programs write by hand (BufferedByteReceiveStream.receive_exactly) "
        "on those and on trio, against which fastframe.anyio is measured.  With --tls, "
        "tables over TLS follow, on the same connection kind: fastframe (its own TLS "
        "session), fastframe.aio (ssl=), the best pure Python on an ssl.SSLSocket, asyncio "
        "streams (ssl=), the bytes an SSLSocket decrypts with no framing (tls-sink, the "
        "limit) and the ciphertext read undecrypted (tls-sender, the peer's sending rate).  "
        "Under a table, the targets of its payload size on this transport, each met or "
        "MISSED.  Lines fit in 100 columns: a table shows the ratio columns that fit "
        "(--wide: all of them)."
    )
    statuses = [f"  {status:<4} {text}" for status, text in EXIT_STATUSES.items()]
    parser.epilog = "\n".join(
        [
            textwrap.fill(what, 78),
            "",
            "exit statuses:",
            *(textwrap.fill(line, 78, subsequent_indent=" " * 7) for line in statuses),
        ]
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keeps the list a list
    parser.add_argument(
        "--size",
        action="append",
        type=_size,
        metavar="BYTES",
        help="payload size (repeatable; default: 64, 1KiB and 64KiB)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a rough run in seconds: {QUICK_ROUNDS} rounds of {QUICK_WINDOW:g} s windows, "
        "no warm-up",
    )
    parser.add_argument(
        "--rounds", type=int_type(1, 1000), metavar="N", help=f"rounds (default: {ROUNDS})"
    )
    parser.add_argument(
        "--window",
        type=_seconds,
        metavar="SECONDS",
        help=f"seconds per window (default: {WINDOW:g})",
    )
    parser.add_argument(
        "--transport",
        choices=("unix", "tcp"),
        default="unix" if hasattr(socket, "AF_UNIX") else "tcp",  # Windows has no AF_UNIX
        help="AF_UNIX stream socket (default where there is one) or TCP over 127.0.0.1",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="also over TLS: the tls- contenders, against a self-signed certificate made "
        "now (with the cryptography package, else the openssl command)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also the contenders no target reads, which run only when asked for: "
        "aio-python.iter@LOOP, anyio-python.receive@LOOP (and with --tls, "
        "tls-aio-python.recv@LOOP and .iter@LOOP)",
    )
    parser.add_argument(
        "--contender",
        action="append",
        type=_contender,
        metavar="NAME",
        help="only this contender (repeatable; names as in the tables; tls- ones with --tls)",
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="every ratio column in every table (lines then grow past 100 columns)",
    )
    parser.add_argument(
        "--json",
        type=_json_output,
        metavar="FILE",
        help="save the results here (-: print them, alone, on stdout; the tables go to stderr)",
    )
    parser.add_argument(
        "--plot",
        type=_plot_output,
        metavar="FILE.png",
        help="draw a bar chart here (needs matplotlib: fastframe[plot])",
    )


class _Progress:
    """On a terminal, one line on stderr rewritten at each step; elsewhere (a log,
    a pipe), one line per stage: a group's checks, a group's windows in a round."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def step(self, text: str) -> None:
        if self.tty:
            # cut to fit: a line that wraps cannot be rewritten in place
            width = min(WIDTH, shutil.get_terminal_size().columns - 1)
            self.stream.write("\r\x1b[K" + text[:width])
            self.stream.flush()

    def stage(self, text: str) -> None:
        if self.tty:
            self.step(text)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def clear(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from .._bench import contenders, runner, table
    from .._bench.workloads import SIZES

    try:
        contenders.cython_required()
    except ValueError as exc:
        print(f"fastframe bench: {exc}", file=sys.stderr)
        return USAGE
    if args.transport == "unix" and not hasattr(socket, "AF_UNIX"):
        print("fastframe bench: --transport unix: this platform has no Unix sockets", file=sys.stderr)
        return USAGE
    sizes = list(dict.fromkeys(args.size or SIZES))
    chosen = args.contender or [
        name
        for name in contenders.RECEIVERS + (contenders.TLS_RECEIVERS if args.tls else [])
        if args.all or name not in contenders.EXTRA
    ]
    names = [name for name in dict.fromkeys(chosen) if name in contenders.RECEIVERS]
    tls_names = [name for name in dict.fromkeys(chosen) if name in contenders.TLS_RECEIVERS]
    if tls_names and not args.tls:
        print(f"fastframe bench: --contender {tls_names[0]}: over TLS, with --tls only", file=sys.stderr)
        return USAGE
    groups: list[runner.Group] = [runner.RecvGroup(size, names) for size in sizes if names]
    groups += [runner.RecvGroup(size, tls_names, tls=True) for size in sizes if tls_names]
    plan = runner.Plan(
        groups=groups,
        rounds=args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS),
        window=args.window or (QUICK_WINDOW if args.quick else WINDOW),
        warmup=0 if args.quick else WARMUP,
        transport=args.transport,
    )
    progress = _Progress(sys.stderr)
    windows = sum(len(group.names) for group in groups)
    progress.stage(
        f"fastframe bench: {table.plural(len(names) + len(tls_names), 'contender')} x "
        f"{table.plural(len(sizes), 'payload size')}, {table.plural(plan.rounds, 'round')} of "
        f"{plan.window:g} s windows (about "
        f"{windows * (plan.rounds * plan.window + plan.warmup):.0f} s)"
    )
    try:
        results = runner.measure(plan, progress.step, stage=progress.stage)
    except RuntimeError as exc:  # a missing compiled core under ..._REQUIRE_CYTHON=1
        progress.clear()
        print(f"fastframe bench: {exc}", file=sys.stderr)
        return FAILED
    except BrokenPipeError as exc:
        # One of the bench's connections, not our output (printed later): main()
        # takes a BrokenPipeError for the reader of our output gone, and says nothing.
        progress.clear()
        traceback.print_exception(exc)
        print(f"fastframe bench: a connection of the benchmark broke: {exc}", file=sys.stderr)
        return FAILED
    finally:
        progress.clear()
    out = [
        "fastframe bench: receiving [4-byte big-endian length][payload] frames from a peer "
        "process",
        *table.facts_lines(results["facts"]),
    ]
    for group in results["groups"]:
        out += ["", table.recv_table(group, args.wide)]
        targets = table.target_lines(group, args.transport)
        if targets:
            out += ["", *targets]
    # with --json -, stdout carries the JSON alone
    print("\n".join(out), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        runner.dump(results, sys.stdout)
    elif args.json:
        runner.save(results, args.json)
        print(f"results saved to {args.json}", file=sys.stderr)
    if args.plot:
        from .._bench import plot

        plot.save(results, args.plot)
        print(f"chart saved to {args.plot}", file=sys.stderr)
    return OK
