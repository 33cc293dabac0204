"""How one case is measured: a warm-up, then the iterations under every measure
(allocated blocks, reference counts, RSS, cycles), then a shorter run under
tracemalloc; the limits that make a measure a leak, and the table's rows."""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

TRACED_SHARE = 10  # the tracemalloc run has iterations // TRACED_SHARE
RSS_LIMIT = 16 * 1024 * 1024
SINGLETONS: dict[str, object] = {"None": None, "True": True, "False": False, "b''": b"", "()": ()}

Step = Callable[[], object]
Setup = contextlib.AbstractContextManager["Probe"]


def blocks_limit(iterations: int) -> int:
    return iterations // 100 + 500


def traced_limit(iterations: int) -> int:
    return iterations * 4 + 16 * 1024


@dataclass
class Probe:
    """What a case's setup gives: the call to repeat and the objects it uses."""

    step: Step
    tracked: dict[str, object]


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    setup: Callable[[], Setup]


@dataclass
class Result:
    case: str
    iterations: int
    blocks: int
    rss: int | None
    refs: dict[str, int]
    traced: int
    traced_iterations: int
    cycles: int
    seconds: float = 0.0
    leaks: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "LEAK(" + ",".join(self.leaks) + ")" if self.leaks else "ok"


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE
    except OSError:  # not Linux: not measured
        return None


class CycleCount:
    """Objects freed by the cycle collector while it is installed."""

    def __init__(self) -> None:
        self.collected = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            self.collected += info["collected"]


def repeat(step: Step, n: int) -> None:
    for _ in itertools.repeat(None, n):
        step()


def measure(case: Case, iterations: int, shared: dict[str, object]) -> Result:
    start = time.monotonic()
    warmup = max(iterations // 10, 1)
    with case.setup() as probe:
        tracked = {**shared, **probe.tracked}
        repeat(probe.step, warmup)
        cycles = CycleCount()
        gc.collect()
        refs_before = {name: sys.getrefcount(obj) for name, obj in tracked.items()}
        refs_after = dict.fromkeys(refs_before, 0)  # allocated now: not counted as growth
        rss_before = rss()
        blocks_before = sys.getallocatedblocks()
        gc.callbacks.append(cycles)
        repeat(probe.step, iterations)
        gc.collect()
        gc.callbacks.remove(cycles)
        blocks = sys.getallocatedblocks() - blocks_before
        rss_after = rss()
        for name, obj in tracked.items():
            refs_after[name] = sys.getrefcount(obj)
    traced_iterations = max(iterations // TRACED_SHARE, 1)
    with case.setup() as probe:
        tracemalloc.start()
        try:
            repeat(probe.step, max(traced_iterations // 10, 1))
            gc.collect()
            traced_before = tracemalloc.get_traced_memory()[0]
            repeat(probe.step, traced_iterations)
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] - traced_before
        finally:
            tracemalloc.stop()
    grown = None if rss_before is None or rss_after is None else rss_after - rss_before
    changed = {name: refs_after[name] - before for name, before in refs_before.items() if refs_after[name] != before}
    seconds = time.monotonic() - start
    result = Result(case.name, iterations, blocks, grown, changed, traced, traced_iterations, cycles.collected, seconds)
    if blocks > blocks_limit(iterations):
        result.leaks.append("blocks")
    # None and the other singletons are held by objects that come and go: only a
    # change that grows with the iterations is a leak
    if any(abs(delta) > (blocks_limit(iterations) if name in SINGLETONS else 0) for name, delta in changed.items()):
        result.leaks.append("refs")
    if grown is not None and grown > RSS_LIMIT:
        result.leaks.append("rss")
    if traced > traced_limit(traced_iterations):
        result.leaks.append("traced")
    return result


HEADER = (
    f"{'case':<45} {'iterations':>10} {'blocks':>7} {'rss KiB':>7} {'traced B (iters)':>18} {'cycles':>6} {'s':>6}"
    "  refs verdict"
)


def row(result: Result) -> str:
    rss_kib = "n/a" if result.rss is None else f"{result.rss // 1024:+d}"
    traced = f"{result.traced:+d} ({result.traced_iterations})"
    refs = ",".join(f"{name}{delta:+d}" for name, delta in result.refs.items()) or "="
    return (
        f"{result.case:<45} {result.iterations:>10} {result.blocks:>+7d} {rss_kib:>7} {traced:>18} "
        f"{result.cycles:>6} {result.seconds:>6.1f}  {refs} {result.verdict}"
    )
