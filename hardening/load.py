"""Load: thousands of framed connections open at once on loopback, every frame checked.

    python hardening/load.py [--connections 5000] [--frames N] [--server selectors|aio]
                             [--core cython|python] [--unix] [--json]

A server process (a ``selectors`` loop over non-blocking FramedSockets, or
``fastframe.aio.start_server``) and client processes (``selectors`` loops over
non-blocking FramedSockets) exchange LengthPrefixed(4) frames:

    server -> each connection, once all of them are accepted:    G        (go)
    client -> server, frame seq = 0 .. N-1, WINDOW unanswered:   Q conn seq body
    server -> client, for each of them:                           R conn seq body
    client -> server, once its N replies are verified:           D        (done)
    server -> every connection, once all of them are done:       B        (bye)

then the client shuts down its sending side, the server sees a clean EOF and
closes, and the client sees EOF.  So every connection is open from the first G to
the last D: the server's peak count of live connections is the whole lot.  A
body's length and bytes derive from (conn, seq): mostly small, some around the
core's 64 KiB large-frame threshold, and one frame on every LARGE_EVERY-th
connection larger than a loopback socket's receive buffer.  The server checks
that each connection's frames come in order; each client that every reply is its
own frame, complete, in order.  Any failure stops the run (exit status 1).

Every process raises its RLIMIT_NOFILE soft limit to the hard limit; a hard
limit too low for the connection count exits with status 3 and says so.  The
children exit when the parent does (they watch their stdin) and at the deadline
(--timeout); the parent kills them if they have not.

Reported: frames each way, frames/s over the exchange (from G to the last D, as
the server times it), the server's RSS (after start-up, with every connection
accepted and idle, with every connection done, and its peak: VmHWM) and each
client's peak RSS.  ``--json`` prints the report as one JSON object.

The processes' parts are the ``loadcheck`` package beside this script: ``frames``
(what is sent), ``server``, ``client``, ``parent``, and ``processes`` (what they
share).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the harness's parts beside it, also when tests/tools/test_load.py loads this file by path
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadcheck.client import WINDOW, run_client
from loadcheck.frames import LARGE, LARGE_EVERY, body_size, payload, reply_problem
from loadcheck.parent import orchestrate, print_summary
from loadcheck.processes import FD_MARGIN, FdLimitError, LoadError, say
from loadcheck.server import Server, Stream, run_server

from fastframe import _cores

# what tests/tools/test_load.py checks of the harness's own checks, through this script
__all__ = [
    "FD_MARGIN",
    "LARGE",
    "LARGE_EVERY",
    "LoadError",
    "Server",
    "Stream",
    "body_size",
    "payload",
    "reply_problem",
]

EXIT_FAILED, EXIT_FD_LIMIT = 1, 3


def parse(argv: list[str] | None) -> argparse.Namespace:
    import fastframe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--frames", type=int, default=20, help="data frames per connection, each way")
    parser.add_argument("--server", choices=["selectors", "aio"], default="selectors")
    parser.add_argument("--core", choices=_cores.NAMES, default=fastframe.IMPLEMENTATION)
    parser.add_argument("--unix", action="store_true", help="AF_UNIX sockets rather than TCP on 127.0.0.1")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--window", type=int, default=WINDOW, help="unanswered frames per connection")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the whole run")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    # how the parent starts its children
    parser.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--address", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.connections, args.frames, args.clients, args.window) < 1 or args.clients > args.connections:
        parser.error("--connections, --frames, --clients and --window must be at least 1, --clients <= --connections")
    if args.address and not args.unix:
        args.address = [args.address[0], int(args.address[1])]
    elif args.address:
        args.address = args.address[0]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    role = args.role or ""
    if args.role == "client":
        role = f"client {args.first}..{args.first + args.count - 1}"
    children: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {"server": run_server, "client": run_client}
    try:
        if args.role:
            print(json.dumps(children[args.role](args)), flush=True)
            return 0
        report = orchestrate(args)
    except LoadError as exc:
        if args.role is None and args.json:
            print(json.dumps({"ok": False, "error": str(exc)}))
        say(role, f"FAILED: {exc}")
        return EXIT_FD_LIMIT if isinstance(exc, FdLimitError) else EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(report))
    else:
        print_summary(report)
    return 0 if report["ok"] else EXIT_FAILED


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
