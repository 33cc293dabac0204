"""The ``fastframe`` command: ``bench``, ``echo-server`` and ``echo-client``.

Each command lives in a module of its own with ``add_arguments(parser, name)``
and ``run(args) -> int`` (the exit status).  Those modules import their heavy
dependencies (the benchmark, asyncio loops, matplotlib) inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys

INTERRUPTED = 130  # the exit status after Ctrl-C, as a shell's for SIGINT

# name -> (module, one-line help)
COMMANDS = {
    "bench": ("bench", "compare fastframe with plain-Python and asyncio receive loops here"),
    "echo-server": ("echo", "a framed echo server over TCP or a Unix socket"),
    "echo-client": ("echo", "send N framed messages to an echo server; report latency"),
}


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, return its exit status.

    Bad flags exit with status 2 and a usage message (argparse's convention).
    """
    parser = argparse.ArgumentParser(
        prog="fastframe", description="fastframe: whole messages out of stream sockets."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, text) in COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text)
        module = importlib.import_module(f"{__name__}.{module_name}")
        module.add_arguments(sub, name)
        sub.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    try:
        status = int(args.run(args))
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        # What Ctrl-C cut short may fail to clean up when collected (an event
        # loop interrupted in its constructor): nothing the user needs to read.
        sys.unraisablehook = lambda _: None
        return INTERRUPTED
    except BrokenPipeError:
        # the reader of our output went away (`fastframe ... | head -1`):
        # nothing more can be said; keep the interpreter from trying at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _version() -> str:
    """fastframe's version, the core in use (its IMPLEMENTATION) and the Python."""
    from .. import IMPLEMENTATION, __version__

    core = "compiled" if IMPLEMENTATION == "cython" else "pure Python"
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{__version__} (IMPLEMENTATION={IMPLEMENTATION}, {core}; {python})"
