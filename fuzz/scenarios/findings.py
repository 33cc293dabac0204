"""What a finding is, and how the steps that led to it are shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Finding(AssertionError):
    """What the fuzzer reports: the cores disagree, or one breaks the contract."""


def show(outcome: tuple) -> str:
    if outcome[0] == "error":
        return f"raised {outcome[1].__name__}{outcome[2]!r}"[:600]
    return repr(outcome)[:600]


def trail(steps: Sequence[Any], i: int) -> str:
    """The calls up to step i (of a decoder or a socket scenario), that one marked."""
    lines = ["calls:"]
    for k, step in enumerate(steps[: i + 1]):
        mark = ">>" if k == i else "  "
        lines.append(f" {mark} {k}: {step.call!r} -> {show(step.outcome)}; buffered={step.buffered}")
    return "\n".join(lines)


def disagreement(compiled: Any, twin: Any) -> str:
    """How the cores' steps differ ("" when they agree)."""
    if compiled.outcome == twin.outcome and compiled.buffered == twin.buffered:
        return ""
    return (
        f"compiled: {show(compiled.outcome)}; buffered={compiled.buffered}\n"
        f"twin:     {show(twin.outcome)}; buffered={twin.buffered}"
    )


def short(data: bytes, most: int = 40) -> str:
    return repr(data) if len(data) <= most else f"<{len(data)} bytes {data[:most]!r}...>"
