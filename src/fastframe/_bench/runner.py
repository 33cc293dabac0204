"""Content checks, timed windows and interleaved rounds; the results as a dict.

A receive window is timed from the go byte to EOF, so everything the kernel
buffered is inside the window; every window asserts that the contender got
exactly the frames the peer sent.  Rounds interleave the contenders (each once
per round, in an order rotated by one each round), so drift and other load on
the machine hit all of them alike; medians over rounds are what ``table`` shows.

Results (JSON-able, ``kind`` "fastframe-socket-bench", ``schema`` SCHEMA):
``facts`` (the machine and the run, and ``tls`` when a group ran over TLS), and
per group its ``name``, ``operation``, ``payload_size``, ``tls`` (true for a group
over TLS), per contender one ``[frames, wire_bytes, seconds]`` per round
(``contenders``), the ``medians`` of each, their ``spread`` (relative, and the
slowest and fastest window's speeds), and the contenders that could not run with
why (``skipped``); a receive group also has per contender the share of each
window's sending the peer process spent on the CPU (``sender_busy``: near 1, the
sender was the limit).  Over TLS, ``wire_bytes`` counts the plaintext stream, as
in the clear.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from . import contenders, facts, tls
from .contenders import Receiver, Unavailable
from .loopback import DEFAULT_TRANSPORT, Loopback
from .table import plural, rows, spreads
from .workloads import BLOCK_BYTES, HEADER, label, recv_workload

KIND = "fastframe-socket-bench"
# The shape of the results: 1 added ``schema`` itself and ``spread`` (files without
# ``schema`` are older, with the same fields otherwise).  Raised when a field
# changes or goes; a field added keeps it.
SCHEMA = 1
CHECK_BLOCKS = 2  # blocks per untimed content check


@dataclass
class Window:
    frames: int
    wire_bytes: int
    seconds: float
    sender_busy: float | None = None  # a receive window's: the peer's CPU share


class Group(Protocol):
    """One table of the results: contenders doing the same work."""

    name: str
    operation: str
    payload_size: int
    names: Sequence[str]  # the contenders, in the order of the table

    def probe(self, name: str) -> None:
        """Raises Unavailable when ``name`` cannot run here."""

    def check(self, loopback: Loopback, name: str) -> None:
        """Untimed: compares what ``name`` got (or sent) with what was sent."""

    def timed(self, loopback: Loopback, name: str, window: float) -> Window:
        """One timed window of about ``window`` seconds."""


class RecvGroup:
    """Receive frames of ``size``-byte payloads until the peer closes (``tls``:
    the peer sends over TLS; the contenders are the TLS ones)."""

    operation = "recv"

    def __init__(
        self,
        size: int,
        names: Sequence[str] = contenders.RECEIVERS,
        receiver: Callable[[str], Receiver] = contenders.receiver,
        tls: bool = False,
    ) -> None:
        self.payload_size = size
        self.name = f"recv {label(size)}" + (" over TLS" if tls else "")
        self.names = names
        self.tls = tls
        self._receiver = receiver

    def probe(self, name: str) -> None:
        self._receiver(name)

    def check(self, loopback: Loopback, name: str) -> None:
        recv = self._receiver(name)
        size = self.payload_size
        got, _, sent, _ = loopback.receive(recv.frames, size, 0, CHECK_BLOCKS, self.tls)
        workload = recv_workload(size)
        assert sent == CHECK_BLOCKS * workload.block_frames
        if recv.ciphertext:  # not to be compared: at least as long as the plaintext
            assert got > len(workload.block) * CHECK_BLOCKS, f"{name}: {got} bytes"
            return
        if recv.counts_bytes:
            assert got == workload.block * CHECK_BLOCKS, f"{name}: other bytes than were sent"
            return
        expected = workload.expected(sent)
        assert len(got) == len(expected), f"{name}: {len(got)} frames, the peer sent {sent}"
        for i, (frame, want) in enumerate(zip(got, expected)):
            assert type(frame) is bytes, f"{name}: frame {i} is a {type(frame).__name__}"
            assert frame == want, f"{name}: frame {i} differs from the one sent"

    def timed(self, loopback: Loopback, name: str, window: float) -> Window:
        recv = self._receiver(name)
        got, seconds, sent, busy = loopback.receive(recv.count, self.payload_size, window, 0, self.tls)
        wire = sent * (HEADER + self.payload_size)
        if recv.ciphertext:  # its rate is the plaintext's, which the ciphertext carries
            assert got > wire, f"{name}: {got} bytes of ciphertext, the peer sent {wire} of plaintext"
        elif recv.counts_bytes:
            assert got == wire, f"{name}: {got} bytes received, the peer sent {wire}"
        else:
            assert got == sent, f"{name}: {got} frames received, the peer sent {sent}"
        return Window(sent, wire, seconds, busy)


@dataclass
class Plan:
    groups: list[Group]
    rounds: int
    window: float  # seconds per timed window
    warmup: float  # seconds of one untimed window per contender first (0: none)
    check: bool = True  # the untimed content check of each contender first
    transport: str = DEFAULT_TRANSPORT


def available(groups: list[Group]) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """The contenders to run per group, and those that cannot run here (with why).
    Under FASTFRAME_BENCH_REQUIRE_CYTHON=1 a missing compiled piece raises
    RuntimeError."""
    required = contenders.cython_required()
    run: dict[str, list[str]] = {}
    skipped: dict[str, dict[str, str]] = {}
    for group in groups:
        run[group.name] = []
        skipped[group.name] = {}
        for name in group.names:
            try:
                group.probe(name)
            except Unavailable as exc:
                if exc.compiled and required:
                    raise RuntimeError(
                        f"{name}: {exc} (and {contenders.REQUIRE_CYTHON_VARIABLE}=1)"
                    ) from exc
                skipped[group.name][name] = str(exc)
            else:
                run[group.name].append(name)
    return run, skipped


def measure(
    plan: Plan,
    progress: Callable[[str], None] | None = None,
    loopback: Loopback | None = None,
    stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs the plan on ``loopback`` (or a Loopback of its own, with the bench's
    certificate when a group over TLS has contenders that can run); the results.
    ``progress`` is told each step that runs next (a check, a warm-up, a window),
    ``stage`` each stage (a group's checks, a group's windows in a round)."""
    run, skipped = available(plan.groups)  # before the peer starts: it may raise
    over_tls = any(
        isinstance(group, RecvGroup) and group.tls and run[group.name] for group in plan.groups
    )
    if loopback is None:
        # the TLS contenders that can run have made the certificate already
        with Loopback(plan.transport, tls.certificate() if over_tls else None) as own:
            return _measure(plan, run, skipped, own, progress or _quiet, stage or _quiet)
    if loopback.transport != plan.transport:
        raise ValueError(f"plan for {plan.transport}, loopback over {loopback.transport}")
    return _measure(plan, run, skipped, loopback, progress or _quiet, stage or _quiet)


def _quiet(text: str) -> None:
    pass


def _measure(
    plan: Plan,
    run: dict[str, list[str]],
    skipped: dict[str, dict[str, str]],
    loopback: Loopback,
    say: Callable[[str], None],
    stage: Callable[[str], None],
) -> dict[str, Any]:
    windows: dict[str, dict[str, list[Window]]] = {
        group.name: {name: [] for name in run[group.name]} for group in plan.groups
    }
    pairs = [(group, name) for group in plan.groups for name in run[group.name]]
    checks = [what for what, wanted in (("checking", plan.check), ("warming up", plan.warmup > 0)) if wanted]
    for i, (group, name) in enumerate(pairs, 1):
        if checks and name == run[group.name][0]:
            stage(f"{group.name}: {' and '.join(checks)} {plural(len(run[group.name]), 'contender')}")
        if plan.check:
            say(f"check {i}/{len(pairs)}: {group.name}, {name}")
            group.check(loopback, name)
        if plan.warmup > 0:
            say(f"warm-up {i}/{len(pairs)}: {group.name}, {name}")
            group.timed(loopback, name, plan.warmup)
    done = 0
    for r in range(plan.rounds):
        for group in plan.groups:
            names = run[group.name]
            if names:
                stage(
                    f"{group.name}: round {r + 1}/{plan.rounds}, "
                    f"{plural(len(names), 'window')} of {plan.window:g} s"
                )
            shift = r % len(names) if names else 0
            for name in names[shift:] + names[:shift]:  # rotated: no fixed position
                done += 1
                say(
                    f"window {done}/{len(pairs) * plan.rounds} (round {r + 1}/{plan.rounds}): "
                    f"{group.name}, {name}"
                )
                windows[group.name][name].append(group.timed(loopback, name, plan.window))
    results_groups = []
    for group in plan.groups:
        entry: dict[str, Any] = {
            "name": group.name,
            "operation": group.operation,
            "payload_size": group.payload_size,
            "tls": isinstance(group, RecvGroup) and group.tls,
            "contenders": {
                name: [[w.frames, w.wire_bytes, w.seconds] for w in windows[group.name][name]]
                for name in run[group.name]
            },
            "skipped": skipped[group.name],
        }
        busy = {
            name: [w.sender_busy for w in windows[group.name][name]] for name in run[group.name]
        }
        if any(None not in shares for shares in busy.values()):  # receive groups
            entry["sender_busy"] = busy
        entry["medians"] = {
            row.contender: {"frames_per_s": row.frames_per_s, "bytes_per_s": row.bytes_per_s}
            for row in rows(entry)
        }
        entry["spread"] = spreads(entry)
        results_groups.append(entry)
    return {
        "kind": KIND,
        "schema": SCHEMA,
        "facts": run_facts(plan, loopback),
        "groups": results_groups,
    }


def run_facts(plan: Plan, loopback: Loopback) -> dict[str, Any]:
    """The machine's facts and the run's settings (``tls``: how the groups over
    TLS spoke it, when the peer had a certificate)."""
    out = {
        **facts.machine_facts(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "transport": loopback.transport_name,
        "window_s": plan.window,
        "rounds": plan.rounds,
        "warmup_s": plan.warmup,
        "block_bytes": BLOCK_BYTES,
    }
    if loopback.cert is not None:
        out["tls"] = tls.describe()
    return out


def save(results: dict[str, Any], path: str | os.PathLike[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        dump(results, f)


def dump(results: dict[str, Any], file: TextIO) -> None:
    json.dump(results, file, indent=1)
    file.write("\n")
