"""Medians, ratios and the text tables of ``fastframe bench``.

A ratio "A vs B" is A's median speed over B's, from the same run: how many times
faster A is (0.5x = half B's speed).  MB/s counts wire bytes (headers included)
at 10**6 bytes per MB.  "spread" is (fastest - slowest window) / median: when it
is large, something else was using the machine.  "sender" is the median share of
its sending time the peer process spent on the CPU: near 100%, the sender, not
the contender, set the pace.

Every line is at most ``WIDTH`` columns (a terminal's usual 100 or less), except a
table with every ratio column (``wide``): a table shows the ratio columns that fit,
in the order of ``REFERENCES``, and says which it left out; longer lines wrap,
their continuation indented by four spaces.
"""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass
from typing import Any

# The "vs X" columns of a receive table, when X ran (the tls- ones: in TLS tables),
# first those a table shows when they fit: the best plain Python, what every
# contender is measured against first; over TLS the limit, the bytes an SSLSocket
# decrypts with no framing; then asyncio streams and the HOWTO's loop.
REFERENCES = [
    "best-python",
    "tls-best-python",
    "tls-sink",
    "streams@asyncio",
    "tls-streams@asyncio",
    "howto",
    "streams@uvloop",
    "tls-streams@uvloop",
]
WIDTH = 100  # columns: what a terminal shows without wrapping
CONTINUED = "    "  # the indent of a wrapped line's continuation
KEEP = "\xa0"  # a space ``wrap`` does not break at (it prints as a space)

TARGET_SIZE = 64
TRANSPORT_NAMES = {"unix": "AF_UNIX", "tcp": "TCP 127.0.0.1"}  # --transport's, as the facts say it


@dataclass(frozen=True)
class RatioTarget:
    """``contender``'s median speed over ``peer``'s at ``size``-byte payloads
    should be at least ``minimum`` (None: reported, not a target); on
    ``transport`` ("unix" or "tcp") only, or on both (None)."""

    contender: str
    peer: str
    minimum: float | None
    size: int = TARGET_SIZE
    note: str = ""  # what a reported ratio tells
    transport: str | None = None

    def applies(self, size: int, transport: str) -> bool:
        return self.size == size and self.transport in (None, transport)


def _per_frame(prefix: str, unix: float, tcp: float) -> list[RatioTarget]:
    """The compiled FramedSocket's recv() and iteration (issue 15) against its own
    recv_many (on AF_UNIX; reported over TCP, where recv_many reads more per
    call) and the best pure Python; the pure twin's against the latter."""
    best = f"{prefix}best-python"
    out = []
    for method in ("recv", "iter"):
        name = f"{prefix}fastframe-cython.{method}"
        out += [
            RatioTarget(name, f"{prefix}fastframe-cython.recv_many", 0.5, transport="unix"),
            RatioTarget(name, f"{prefix}fastframe-cython.recv_many", None, transport="tcp"),
            RatioTarget(name, best, unix, transport="unix"),
            RatioTarget(name, best, tcp, transport="tcp"),
        ]
    out += [RatioTarget(f"{prefix}fastframe-python.{method}", best, 0.5) for method in ("recv", "iter")]
    return out


# FramedSocket in the clear: per-frame calls (above), and the pure twin's
# recv_many as fast as the best pure Python while frames are small.
SOCKET_TARGETS = [
    *_per_frame("", unix=3.0, tcp=2.0),
    *(RatioTarget("fastframe-python.recv_many", "best-python", 0.9, size) for size in (64, 1024)),
]
# fastframe.aio, against asyncio streams' readexactly loop on the same event loop
# (from the aio issue: targets on the default loop, reported on uvloop), and
# per-frame (issue 15, on both loops): await recv() and async for against the
# best pure Python and streams, the protocol's frame_received against the
# reader's recv_many, the pure twin's recv() against the best pure Python.
AIO_TARGETS = [
    *(
        RatioTarget(f"aio-cython.{api}@{loop}", f"streams@{loop}", minimum if loop == "asyncio" else None)
        for loop in ("asyncio", "uvloop")
        for api, minimum in (("frame_received", 4.0), ("recv_many", 3.0), ("recv", 2.0))
    ),
    *(
        target
        for loop in ("asyncio", "uvloop")
        for target in (
            *(
                RatioTarget(f"aio-cython.{api}@{loop}", peer, minimum)
                for api in ("recv", "iter")
                for peer, minimum in (("best-python", 1.0), (f"streams@{loop}", 6.0))
            ),
            RatioTarget(f"aio-cython.frame_received@{loop}", f"aio-cython.recv_many@{loop}", 0.9),
            RatioTarget(f"aio-python.recv@{loop}", "best-python", 0.6),
        )
    ),
]
# Over TLS (the groups "... over TLS"): at 64 KiB the compiled recv_many against
# the bytes ssl.SSLSocket decrypts with no framing at all, and that sink against
# the sender's own rate (reported: near 1x, and the sender busy near 100% in the
# sink's row, the sender is what limits the sink, and the first ratio flatters);
# at 64 B against the best pure Python on an SSLSocket and asyncio streams, and
# fastframe.aio's protocol against streams (reported on uvloop); and the
# per-frame targets of the clear, against the TLS contenders.
TLS_TARGETS = [
    RatioTarget("tls-fastframe-cython.recv_many", "tls-sink", 0.9, 64 * 1024),
    RatioTarget(
        "tls-sink", "tls-sender", None, 64 * 1024, "near 1x, with the sender near 100%: it limits the sink"
    ),
    RatioTarget("tls-fastframe-cython.recv_many", "tls-best-python", 3.0),
    RatioTarget("tls-fastframe-cython.recv_many", "tls-streams@asyncio", 10.0),
    RatioTarget("tls-aio-cython.frame_received@asyncio", "tls-streams@asyncio", 4.0),
    RatioTarget("tls-aio-cython.frame_received@uvloop", "tls-streams@uvloop", None),
    *_per_frame("tls-", unix=3.0, tcp=2.0),
    *(
        RatioTarget(f"tls-aio-cython.{api}@{loop}", peer, minimum)
        for loop in ("asyncio", "uvloop")
        for api in ("recv", "iter")
        for peer, minimum in (("tls-best-python", 1.0), (f"tls-streams@{loop}", 6.0))
    ),
]
# fastframe.anyio (issue 17), against the loop anyio programs write by hand
# (BufferedByteReceiveStream.receive_exactly for the header, then the body) on
# the same loop: on anyio's asyncio backend (the default loop and uvloop) and
# its trio backend.
ANYIO_TARGETS = [
    RatioTarget(f"anyio-cython.{api}@{loop}", f"anyio-handwritten@{loop}", minimum)
    for loop in ("asyncio", "uvloop", "trio")
    for api, minimum in (("receive_many", 5.0), ("receive", 2.0))
]
TARGETS = [*SOCKET_TARGETS, *AIO_TARGETS, *ANYIO_TARGETS, *TLS_TARGETS]


@dataclass
class Row:
    contender: str
    frames_per_s: float  # medians over the windows
    bytes_per_s: float
    windows: int
    spread: float  # (fastest - slowest window) / median, in bytes/s
    frames_range: tuple[float, float]  # the slowest window's, the fastest's
    bytes_range: tuple[float, float]
    sender_busy: float | None = None  # median of the windows' (results without it: None)


def rows(group: dict[str, Any]) -> list[Row]:
    """One row per contender that ran in a results group, in the group's order."""
    out = []
    busy = group.get("sender_busy", {})
    for name, windows in group["contenders"].items():
        if not windows:
            continue
        fps = [frames / seconds for frames, _, seconds in windows]
        bps = [wire / seconds for _, wire, seconds in windows]
        median = statistics.median(bps)
        sender = statistics.median(busy[name]) if name in busy else None
        out.append(
            Row(
                name,
                statistics.median(fps),
                median,
                len(windows),
                (max(bps) - min(bps)) / median,
                (min(fps), max(fps)),
                (min(bps), max(bps)),
                sender,
            )
        )
    return out


def spreads(group: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per contender that ran, its spread and the range of its windows' speeds (JSON-able)."""
    return {
        row.contender: {
            "relative": row.spread,
            "frames_per_s": list(row.frames_range),
            "bytes_per_s": list(row.bytes_range),
        }
        for row in rows(group)
    }


def wrap(line: str) -> list[str]:
    """``line`` as lines of at most WIDTH columns (when it has spaces to break at;
    not at KEEP), each continuation indented by CONTINUED; the line's own indent
    is kept."""
    body = line.lstrip(" ")
    lines = textwrap.wrap(
        body,
        WIDTH,
        initial_indent=line[: len(line) - len(body)],
        subsequent_indent=CONTINUED,
        break_on_hyphens=False,
        break_long_words=False,
    )
    return [part.replace(KEEP, " ") for part in lines or [line]]


def si(value: float) -> str:
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.2f} {suffix}"
    return f"{value:.1f} "


def text(header: list[str], body: list[list[str]], left: int = 1, indent: str = "  ") -> str:
    """A plain table; the first ``left`` columns are left-aligned, the rest right."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return indent + "  ".join(
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), indent + "  ".join("-" * w for w in widths), *map(line, body)])


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def facts_lines(facts: dict[str, Any]) -> list[str]:
    """The machine, then the run (and its TLS), wrapped."""
    tls = [f"TLS: {facts['tls']}"] if "tls" in facts else []
    lines = [
        f"{facts['python']} on {facts['platform']}; {facts['cpu_model']}, "
        f"{facts['cpus_usable']} of {facts['cpu_count']} cores usable",
        f"fastframe {facts['fastframe_version']}, IMPLEMENTATION={facts['implementation']} "
        f"(compiled core: {facts['compiled_core']}); uvloop {facts.get('uvloop_version') or 'missing'}, "
        f"anyio {facts.get('anyio_version') or 'missing'}, trio {facts.get('trio_version') or 'missing'}; "
        f"{facts['transport']}; {plural(facts['rounds'], 'round')} of {facts['window_s']:g} s "
        "windows per contender, interleaved; medians, and the spread: (fastest - slowest window) / "
        "median, large when something else used the machine",
        *tls,
    ]
    return [part for line in lines for part in wrap(line)]


def heading(group: dict[str, Any]) -> str:
    """"recv 64 B payloads", "recv 64 B payloads over TLS"."""
    name = group["name"].removesuffix(" over TLS")
    return f"{name} payloads" + (" over TLS" if group.get("tls") else "")


def recv_table(group: dict[str, Any], wide: bool = False) -> str:
    """A receive group's table: frames/s, MB/s, the spread of the windows, how
    busy the sender was and the ratios to the peers that ran (``wide``: all of
    them; else those that fit in WIDTH columns, at least one, and a line naming
    the others), then what could not run here, and why."""
    measured = rows(group)
    speed = {row.contender: row.bytes_per_s for row in measured}
    header = ["contender", "frames/s", "MB/s", "spread", "sender"]
    body = [
        [
            row.contender,
            si(row.frames_per_s),
            f"{row.bytes_per_s / 1e6:,.0f}",
            f"{row.spread * 100:.0f}%",
            "-" if row.sender_busy is None else f"{row.sender_busy * 100:.0f}%",
        ]
        for row in measured
    ]
    shown: list[str] = []
    left_out: list[str] = []
    for name in (name for name in REFERENCES if name in speed):
        column = [f"vs {name}", *(f"{row.bytes_per_s / speed[name]:.2f}x" for row in measured)]
        wider = [cells + [cell] for cells, cell in zip([header, *body], column)]
        if wide or not shown or _width(wider) <= WIDTH:
            header, *body = wider
            shown.append(name)
        else:
            left_out.append(name)
    out = [heading(group), text(header, body)]
    if left_out:
        out += wrap(f"  more ratios with --wide: {', '.join(f'vs {name}' for name in left_out)}")
    by_reason: dict[str, list[str]] = {}
    for name, why in group.get("skipped", {}).items():
        by_reason.setdefault(why, []).append(name)
    for why, names in by_reason.items():
        out += wrap(f"  not run here: {', '.join(names)}: {why}")
    return "\n".join(out)


def _width(table: list[list[str]]) -> int:
    """The columns ``text`` takes for a table of these rows (header first)."""
    return max(map(len, text(table[0], table[1:]).splitlines()))


def target_lines(group: dict[str, Any], transport: str) -> list[str]:
    """The targets of ``group``'s payload size and ``transport`` ("unix" or
    "tcp") whose two sides ran in it, as text lines ([] when none did): one line
    per pair, in the table's order, with every target of the pair (a pair that
    has a target is not also reported)."""
    speed = {row.contender: row.bytes_per_s for row in rows(group)}
    order = list(speed)
    applying = [
        target
        for target in TARGETS
        if target.applies(group["payload_size"], transport)
        and target.contender in speed
        and target.peer in speed
    ]
    pairs: dict[tuple[str, str], list[RatioTarget]] = {}
    for target in sorted(applying, key=lambda t: order.index(t.contender)):
        pairs.setdefault((target.contender, target.peer), []).append(target)
    width = max([len(f"{contender} vs {peer}") for contender, peer in pairs], default=0)
    lines = []
    met = judged = 0
    for (contender, peer), targets in pairs.items():
        ratio = speed[contender] / speed[peer]
        minimums = [t.minimum for t in targets if t.minimum is not None]
        if minimums:
            judged += len(minimums)
            met += sum(ratio >= minimum for minimum in minimums)
            # each verdict whole on one line, if the line wraps
            status = f"target{KEEP}" + ", ".join(
                f">={KEEP}{minimum:g}x:{KEEP}" + ("met" if ratio >= minimum else "MISSED")
                for minimum in minimums
            )
        else:
            status = "reported" + "".join(f" ({t.note})" for t in targets if t.note)
        lines += wrap(f"  {f'{contender} vs {peer}':<{width}}  {ratio:6.2f}x  {status}")
    if not lines:
        return []
    summary = f": {met} of {judged} met" if judged else ""
    return [f"targets at {group['name']} ({TRANSPORT_NAMES[transport]}){summary}", *lines]
