"""No public call leaks a reference or memory, on any of its error paths:
hardening/refleak.py, run in a child process per core, measures every call of the
framers, decoders, FramedSocket (both paths of the compiled core), connect() and
fastframe.aio (allocated blocks, reference counts of every argument, exception
class and singleton, RSS, tracemalloc on a tenth of the iterations).

Iterations per case here (the standalone harness runs a million of each):

    group      compiled core   twin    what a case's iteration is
    framer         10 000      5 000   constructing a framer (and its refusals), decoder()
    encode          5 000      3 000   encode / encode_many, their refusals
    decode         10 000      2 000   feed, get_buffer/buffer_updated, buffered, eof, detach
    socket          3 000      3 000   FramedSocket calls over one socketpair
    lifecycle       2 000      2 000   a new socketpair or connection, to its end
    aio             2 000      2 000   FramedProtocol calls; streams on one event loop

A leak of one object per iteration exceeds the harness's block limit
(iterations // 100 + 500) nearly fourfold at 2 000 iterations, and a leaked
reference changes a reference count at any count.  The harness's self-check proves
that each measure reports a leak injected into the calls.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.support.children import child_env
from tests.support.paths import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS from /proc, malloc through ctypes")

HARNESS = ROOT / "hardening" / "refleak.py"
GROUPS = ("framer", "encode", "decode", "socket", "lifecycle", "aio")
ITERATIONS = {
    "cython": {"framer": 10_000, "encode": 5_000, "decode": 10_000, "socket": 3_000, "lifecycle": 2_000, "aio": 2_000},
    "python": {"framer": 5_000, "encode": 3_000, "decode": 2_000, "socket": 3_000, "lifecycle": 2_000, "aio": 2_000},
}


def run_harness(impl: Any, *args: str) -> tuple[int, dict[str, list[str]], str]:
    """The harness's exit status, its table (case name -> the row's columns) and its output."""
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--core", impl.module.IMPLEMENTATION, *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=child_env(),
    )
    output = proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines() if "/" in line.split(" ", 1)[0]}
    return proc.returncode, rows, output


def group_of(case: str) -> str:
    return case.split("/")[0].removesuffix("-object")


@pytest.mark.slow
def test_no_call_leaks(impl: Any) -> None:
    counts = ITERATIONS[impl.module.IMPLEMENTATION]
    status, rows, output = run_harness(impl, *(f"--iterations={group}={n}" for group, n in counts.items()))
    leaks = [" ".join(row) for row in rows.values() if row[-1] != "ok"]
    assert status == 0 and not leaks, "\n".join(leaks) or output[-3000:]
    assert {group_of(case) for case in rows} == set(GROUPS), output[-3000:]
    for case, row in rows.items():
        assert int(row[1]) == counts[group_of(case)], row
    if impl.module.IMPLEMENTATION == "cython":  # FramedSocket through the socket's methods too
        assert any(case.startswith("socket-object/") for case in rows)
        assert any(case.startswith("lifecycle-object/") for case in rows)


def test_injected_leaks_are_reported(impl: Any) -> None:
    """A reference kept to each frame, one to an argument, malloc'd memory never
    freed (and, in the twin, frames kept by a patched feed()) are each reported
    by the measures that must see them."""
    status, rows, output = run_harness(impl, "--self-check")
    assert status == 0, output[-3000:]
    expected = {"inject/frame-refs", "inject/argument-ref", "inject/malloc"}
    if impl.module.IMPLEMENTATION == "python":
        expected.add("inject/twin-feed-keeps-frames")
    assert set(rows) == expected, output
    for row in rows.values():
        assert row[-3:] == ["(injected", "leak", "reported)"], row
