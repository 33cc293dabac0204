"""The command: the whole table of cases, the run of one core in this process
(``--worker``), and the parent that runs each core in a child process of its own."""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from fastframe import _cores
from fastframe._cores import Core

from .aio import aio_cases
from .connections import lifecycle_cases
from .decoders import decode_cases
from .encoders import encode_cases
from .framers import framer_cases, framings
from .measuring import HEADER, RSS_LIMIT, SINGLETONS, TRACED_SHARE, Case, measure, row
from .selfcheck import injected_cases
from .sockets import socket_cases
from .steps import Unexpected

# the entry script: each core's child process runs it again, with --worker
SCRIPT = Path(__file__).resolve().parents[1] / "refleak.py"
DEFAULT_ITERATIONS = 100_000
SELF_CHECK_ITERATIONS = 20_000  # the fewest at which each injected leak passes every limit it should
GROUPS = ("framer", "encode", "decode", "socket", "lifecycle", "aio")


def all_cases(ff: ModuleType, core: Core) -> list[Case]:
    cases: list[Case] = []
    for framing in framings(ff):
        cases += framer_cases(ff, core, framing)
        cases += encode_cases(ff, core, framing)
        cases += decode_cases(ff, core, framing)
    paths = [core, core.object_path()] if core.has_object_path else [core]
    for path in paths:
        cases += socket_cases(ff, path)
    for path in paths:
        cases += lifecycle_cases(ff, path)
    cases += aio_cases(ff, core)
    return cases


def shared_objects(ff: ModuleType) -> dict[str, object]:
    """Objects every case could leak references to: the exception classes, the singletons."""
    classes = [
        ff.FastframeError,
        ff.FrameTooLarge,
        ff.ProtocolError,
        ff.ConnectionClosed,
        ff.IncompleteFrame,
        TimeoutError,
        BlockingIOError,
        OSError,
        TypeError,
        ValueError,
        RuntimeError,
        ConnectionRefusedError,
        FileNotFoundError,
        Unexpected,
    ]
    return {cls.__name__: cls for cls in classes} | SINGLETONS


def parse_iterations(values: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(GROUPS, DEFAULT_ITERATIONS)
    for value in values:
        group, _, number = value.rpartition("=")
        if group and group not in GROUPS:
            raise SystemExit(f"unknown group {group!r}: one of {', '.join(GROUPS)}")
        for name in [group] if group else GROUPS:
            counts[name] = int(number)
    return counts


def run_core(core_name: str, counts: dict[str, int], only: str | None, self_check: bool) -> int:
    ff = importlib.import_module("fastframe")
    if core_name != ff.IMPLEMENTATION:
        sys.exit(f"fastframe.IMPLEMENTATION is {ff.IMPLEMENTATION!r}, expected {core_name!r}")
    core = _cores.load(core_name)
    shared = shared_objects(ff)
    if self_check:
        planned = injected_cases(ff, core)
    else:
        planned = [(case, ()) for case in all_cases(ff, core)]
    if only:
        planned = [(case, expected) for case, expected in planned if fnmatch.fnmatch(case.name, only)]
    where = core.module.__file__
    print(f"core {core_name}: {where}; blocks limit iterations//100+500, RSS limit {RSS_LIMIT // 1024} KiB,")
    print(f"traced limit traced iterations*4 B + 16 KiB; traced with tracemalloc on iterations//{TRACED_SHARE}")
    print(HEADER, flush=True)
    failures = 0
    start = time.monotonic()
    for case, expected in planned:
        result = measure(case, counts[case.group], shared)
        if self_check:
            missed = [measure for measure in expected if measure not in result.leaks]
            failures += bool(missed)
            print(row(result), f"(MISSED by {','.join(missed)})" if missed else "(injected leak reported)", flush=True)
        else:
            failures += bool(result.leaks)
            print(row(result), flush=True)
    print(f"core {core_name}: {len(planned)} cases, {failures} failing, {time.monotonic() - start:.1f} s", flush=True)
    return 1 if failures else 0


def main(doc: str, argv: list[str] | None = None) -> int:
    """The command, described by ``doc`` (the entry script's docstring)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--core", choices=[*_cores.NAMES, "both"], default="both")
    parser.add_argument(
        "--iterations",
        action="append",
        default=[],
        metavar="N|GROUP=N",
        help=f"iterations per case (default {DEFAULT_ITERATIONS}), or for one group of {', '.join(GROUPS)}",
    )
    parser.add_argument("--only", metavar="PATTERN", help="only the cases whose name matches this glob")
    parser.add_argument("--self-check", action="store_true", help="inject leaks; fail unless each is reported")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # run here, in this process
    args = parser.parse_args(argv)
    counts = parse_iterations(args.iterations)
    if args.self_check:  # enough for each injected leak to pass its limits, and no more unless asked
        floor = SELF_CHECK_ITERATIONS
        counts = {group: max(n, floor) if args.iterations else floor for group, n in counts.items()}
    if args.worker:
        return run_core(args.core, counts, args.only, args.self_check)
    status = 0
    for core_name in _cores.NAMES if args.core == "both" else [args.core]:
        env = dict(os.environ, FASTFRAME_PURE_PYTHON="1" if core_name == "python" else "0")
        command = [sys.executable, str(SCRIPT), "--worker", "--core", core_name]
        command += [f"--iterations={value}" for value in args.iterations]
        command += [f"--only={args.only}"] if args.only else []
        command += ["--self-check"] if args.self_check else []
        status = max(status, subprocess.run(command, env=env).returncode)
    return status
