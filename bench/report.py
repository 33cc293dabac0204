"""Summarise fastframe's micro benchmarks: frames/s, MB/s and the ratios we track.

    python bench/report.py                    # run `python -m pytest bench`, then report
    python bench/report.py --save out.json    # ... and keep pytest-benchmark's JSON
    python bench/report.py --json out.json    # report on an earlier run's JSON
    python bench/report.py --markdown         # Markdown, for bench/README.md
    python bench/report.py --check            # exit status 1 when a target is missed
    python bench/report.py -- --benchmark-max-time=3    # more pytest options
    python bench/report.py -- -k socket       # only the loopback socket benchmark
    python bench/report.py --json sock.json   # ... or report on `bench/socket_bench.py --json`

Medians throughout.  A ratio "A vs B" is B's median time over A's: how many times
faster A is than B (0.9x = A runs at 90% of B's speed).  MB/s counts wire bytes (headers
included) at 10**6 bytes per MB.  The loopback socket benchmark (``test_socket.py``,
``socket_bench.py``) is timed by its own harness, not pytest-benchmark: the suite writes its
results to the file named by FASTFRAME_BENCH_SOCKET_JSON, which this script sets and
merges into the saved JSON (key ``fastframe_socket``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastframe import _cores
from fastframe._bench.table import AIO_TARGETS, ANYIO_TARGETS, TARGET_SIZE, si, text
from fastframe._bench.table import Row as SocketRow
from fastframe._bench.table import rows as socket_rows
from fastframe._bench.workloads import label

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# Shown in this order; unknown contenders come last.
CONTENDERS = [
    "floor-bytes",
    "floor-memcpy",
    "floor-encode",
    *(f"fastframe-{core}" for core in _cores.NAMES),
    "best-python",
    "howto",
]
GROUPS = ["decode 16 B", "decode 64 B", "decode 1 KiB", "decode 64 KiB", "encode_many 64 B"]


@dataclass(frozen=True)
class Target:
    group: str
    contender: str
    peer: str
    minimum: float | None  # contender's speed over peer's must be at least this (None: reported)
    goal: str  # how the project states it

    def status(self, ratio: float) -> str:
        if self.minimum is None:
            return "reported"
        return "met" if ratio >= self.minimum else "MISSED"

    def ratio(self, medians: dict[str, dict[str, float]]) -> float | None:
        group = medians.get(self.group, {})
        if self.contender not in group or self.peer not in group:
            return None
        return group[self.peer] / group[self.contender]


TARGETS = [
    *(
        target
        for size in ("16 B", "64 B")
        for target in (
            Target(f"decode {size}", "fastframe-cython", "best-python", 4.0, ">= 4x"),
            Target(f"decode {size}", "fastframe-cython", "floor-bytes", 0.6, ">= 0.6x"),
        )
    ),
    *(
        Target(f"decode {size}", "fastframe-cython", "floor-memcpy", 1 / 1.2, "within 20%")
        for size in ("1 KiB", "64 KiB")
    ),
    Target("encode_many 64 B", "fastframe-cython", "best-python", 2.0, ">= 2x"),
    *(Target(group, "fastframe-python", "best-python", 0.9, ">= 0.9x") for group in GROUPS),
]


# -- loading ---------------------------------------------------------------------


def run_suite(json_path: Path, pytest_args: list[str], env: dict[str, str] | None = None) -> int:
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(BENCH),
        "-q",
        f"--benchmark-json={json_path}",
        *pytest_args,
    ]
    print("$", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def run_and_load(save: Path | None, pytest_args: list[str]) -> tuple[int, dict[str, Any] | None]:
    """Run the suite; its exit status and JSON (None if it wrote none)."""
    if save is not None:
        path = save.resolve()
    else:
        fd, name = tempfile.mkstemp(prefix="fastframe-bench-", suffix=".json")
        os.close(fd)
        path = Path(name)
    fd, name = tempfile.mkstemp(prefix="fastframe-socket-", suffix=".json")
    os.close(fd)
    socket_path = Path(name)
    socket_path.unlink()  # the suite writes it only if the socket benchmark ran
    env = dict(os.environ, **{SOCKET_JSON_VARIABLE: str(socket_path)})
    try:
        status = run_suite(path, pytest_args, env)
        if status:
            print(f"\npytest exited with status {status}", file=sys.stderr)
        data = load(path) if path.exists() and path.stat().st_size else None
        if socket_path.exists():
            data = data if data is not None else {}
            data[SOCKET_KEY] = load(socket_path)
            if save is not None:
                with path.open("w", encoding="utf-8") as f:
                    json.dump(data, f, indent=4)
        if data is None:
            return status, None
        print()
        return status, data
    finally:
        socket_path.unlink(missing_ok=True)
        if save is None:
            path.unlink(missing_ok=True)


@dataclass
class Row:
    contender: str
    median: float  # seconds per round
    frames: int
    wire_bytes: int
    rounds: int

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.median

    @property
    def mb_per_s(self) -> float:
        return self.wire_bytes / self.median / 1e6


def rows_by_group(data: dict[str, Any]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        contender = info.get("contender", bench["name"])
        row = Row(
            contender,
            bench["stats"]["median"],
            info.get("frames", 0),
            info.get("wire_bytes", 0),
            bench["stats"]["rounds"],
        )
        groups.setdefault(bench["group"], []).append(row)

    def group_key(name: str) -> tuple[int, str]:
        return (GROUPS.index(name) if name in GROUPS else len(GROUPS), name)

    def row_key(row: Row) -> tuple[int, str]:
        known = row.contender in CONTENDERS
        return (CONTENDERS.index(row.contender) if known else len(CONTENDERS), row.contender)

    return {name: sorted(groups[name], key=row_key) for name in sorted(groups, key=group_key)}


# -- formatting --------------------------------------------------------------------


def duration(seconds: float) -> str:
    for factor, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def per_frame(row: Row) -> str:
    return duration(row.median / row.frames) if row.frames else "-"


def facts_lines(data: dict[str, Any]) -> list[str]:
    machine = data.get("machine_info", {})
    facts = machine.get("fastframe_bench", {})
    cpu = machine.get("cpu", {})
    commit = data.get("commit_info", {})
    model = facts.get("cpu_model") or cpu.get("brand_raw", "?")
    revision = commit.get("id", "unknown")
    if commit.get("dirty"):
        revision += " (dirty)"
    return [
        f"date: {data.get('datetime', '?')}; pytest-benchmark {data.get('version', '?')}; "
        f"commit {revision}",
        f"CPU: {model}; {facts.get('cpus_usable', '?')} usable of "
        f"{facts.get('cpu_count', cpu.get('count', '?'))} cores; "
        f"{facts.get('platform', machine.get('system', '?'))}",
        f"Python: {facts.get('python', machine.get('python_version', '?'))}; "
        f"Cython {facts.get('cython_version')}",
        f"fastframe {facts.get('fastframe_version', '?')} from {facts.get('fastframe_path', '?')}: "
        f"IMPLEMENTATION={facts.get('implementation', '?')}; compiled core: "
        f"{facts.get('compiled_core', '?')}",
        f"decode streams fed in chunks of {facts.get('chunk', '?')} bytes",
    ]


def group_table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    reference = {row.contender: row.median for row in rows}.get("best-python")
    header = ["contender", "median/round", "per frame", "frames/s", "MB/s", "vs best-python"]
    body = []
    for row in rows:
        versus = f"{reference / row.median:.2f}x" if reference else "-"
        body.append(
            [
                row.contender,
                duration(row.median),
                per_frame(row),
                si(row.frames_per_s),
                f"{row.mb_per_s:,.0f}",
                versus,
            ]
        )
    return header, body


def target_table(medians: dict[str, dict[str, float]]) -> tuple[list[str], list[list[str]], int]:
    header = ["group", "ratio", "target", "measured", "status"]
    body = []
    missed = 0
    for target in TARGETS:
        ratio = target.ratio(medians)
        if ratio is None:
            measured, status = "-", "n/a"
        else:
            measured = f"{ratio:.2f}x"
            if target.peer == "floor-memcpy":
                measured += f" (time +{(1 / ratio - 1) * 100:.0f}%)"
            status = target.status(ratio)
            missed += status == "MISSED"
        goal = target.goal
        if target.goal == "within 20%":
            goal += " (>= 0.83x)"
        body.append(
            [target.group, f"{target.contender} vs {target.peer}", goal, measured, status]
        )
    return header, body, missed


def markdown(header: list[str], body: list[list[str]]) -> str:
    rows = [header, ["---"] * len(header), *body]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows)


def report(data: dict[str, Any], as_markdown: bool) -> int:
    missed = 0
    if data.get("benchmarks"):
        missed += micro_report(data, as_markdown)
    if SOCKET_KEY in data:
        if data.get("benchmarks"):
            print()
        missed += socket_report(data[SOCKET_KEY], as_markdown)
    return missed


def micro_report(data: dict[str, Any], as_markdown: bool) -> int:
    groups = rows_by_group(data)
    medians = {name: {row.contender: row.median for row in rows} for name, rows in groups.items()}
    out: list[str] = []
    if as_markdown:
        out += [f"- {line}" for line in facts_lines(data)]
    else:
        out += ["fastframe micro benchmarks (medians)", *facts_lines(data)]
    for name, rows in groups.items():
        first = rows[0]
        sizes = f"{first.frames:,} frames, {first.wire_bytes / 2**20:.2f} MiB per round"
        header, body = group_table(rows)
        if as_markdown:
            out += ["", f"**{name}** ({sizes})", "", markdown(header, body)]
        else:
            out += ["", f"{name}  ({sizes})", text(header, body)]
    header, body, missed = target_table(medians)
    if as_markdown:
        out += ["", "**Targets**", "", markdown(header, body)]
    else:
        out += ["", "targets", text(header, body, left=3)]
    print("\n".join(out))
    return missed


# -- the loopback socket benchmark ---------------------------------------------------
#
# Results of bench/socket_bench.py's harness (also run by bench/test_socket.py): per group,
# per contender, one [frames, wire_bytes, seconds] per round.  Every contender of a
# group ran once per round, interleaved, against the same peer process.

SOCKET_KEY = "fastframe_socket"
SOCKET_KIND = "fastframe-socket-bench"
SOCKET_JSON_VARIABLE = "FASTFRAME_BENCH_SOCKET_JSON"
# the columns "vs X" of each kind of group, when X ran
SOCKET_REFERENCES = {
    "recv": ["best-python", "floor-bytes", "streams@asyncio", "streams@uvloop", "sink"],
    "send": ["pack-sendall", "best-python"],
}
SOCKET_TARGETS = [
    Target("recv 64 B", "fastframe-cython.recv_many", "best-python", 2.5, ">= 2.5x"),
    Target("recv 64 B", "fastframe-cython.recv_many", "floor-bytes", 0.8, ">= 0.8x"),
    Target("recv 64 B", "fastframe-cython.recv", "best-python", 1.3, ">= 1.3x"),
    Target("recv 64 B", "fastframe-cython.recv", "streams@asyncio", 5.0, ">= 5x"),
    Target("recv 64 KiB", "fastframe-cython.recv_many", "sink", 0.9, ">= 0.9x"),
    Target("send_many 64 B", "fastframe-cython.send_many", "pack-sendall", 2.0, ">= 2x"),
    # fastframe.aio vs asyncio streams, fastframe.anyio vs the hand-written anyio
    # loop, each on the same loop (fastframe._bench.table)
    *(
        Target(
            f"recv {label(TARGET_SIZE)}",
            t.contender,
            t.peer,
            t.minimum,
            "(reported)" if t.minimum is None else f">= {t.minimum:g}x",
        )
        for t in (*AIO_TARGETS, *ANYIO_TARGETS)
    ),
]


def socket_facts_lines(results: dict[str, Any]) -> list[str]:
    facts = results.get("facts", {})
    return [
        f"date: {facts.get('date', '?')}; commit {facts.get('commit', 'unknown')}",
        f"CPU: {facts.get('cpu_model', '?')}; {facts.get('cpus_usable', '?')} usable of "
        f"{facts.get('cpu_count', '?')} cores; {facts.get('platform', '?')}",
        f"Python: {facts.get('python', '?')}; Cython {facts.get('cython_version')}",
        f"fastframe {facts.get('fastframe_version', '?')} from "
        f"{facts.get('fastframe_path', '?')}: IMPLEMENTATION={facts.get('implementation', '?')}; "
        f"compiled core: {facts.get('compiled_core', '?')}",
        f"{facts.get('transport', '?')}; {facts.get('rounds', '?')} rounds of "
        f"{facts.get('window_s', '?')} s windows per contender, interleaved; peer process sends "
        f"{facts.get('block_bytes', 0) / 2**20:.0f} MiB blocks (receive) or drains (send, "
        f"{facts.get('send_batch', '?')} payloads per call); tcp_rmem "
        f"{' '.join(facts.get('tcp_rmem', ['?']))}, tcp_wmem "
        f"{' '.join(facts.get('tcp_wmem', ['?']))}",
    ]


def socket_group_table(kind: str, rows: list[SocketRow]) -> tuple[list[str], list[list[str]]]:
    speed = {row.contender: row.bytes_per_s for row in rows}
    references = [name for name in SOCKET_REFERENCES[kind] if name in speed]
    header = ["contender", "windows", "frames/s", "MB/s", "spread"]
    header += [f"vs {name}" for name in references]
    body = []
    for row in rows:
        body.append(
            [
                row.contender,
                str(row.windows),
                si(row.frames_per_s),
                f"{row.bytes_per_s / 1e6:,.0f}",
                f"{row.spread * 100:.0f}%",
                *(f"{row.bytes_per_s / speed[name]:.2f}x" for name in references),
            ]
        )
    return header, body


def socket_target_table(
    speeds: dict[str, dict[str, float]],
) -> tuple[list[str], list[list[str]], int]:
    header = ["group", "ratio (median bytes/s)", "target", "measured", "status"]
    body = []
    missed = 0
    for target in SOCKET_TARGETS:
        group = speeds.get(target.group, {})
        if target.contender in group and target.peer in group:
            ratio = group[target.contender] / group[target.peer]
            measured = f"{ratio:.2f}x"
            status = target.status(ratio)
            missed += status == "MISSED"
        else:
            measured, status = "-", "n/a"
        body.append(
            [target.group, f"{target.contender} vs {target.peer}", target.goal, measured, status]
        )
    return header, body, missed


def socket_report(results: dict[str, Any], as_markdown: bool) -> int:
    """Prints the socket benchmark's tables and targets; returns the targets missed."""
    out: list[str] = []
    if as_markdown:
        out += [f"- {line}" for line in socket_facts_lines(results)]
    else:
        out += ["fastframe loopback socket benchmark (medians)", *socket_facts_lines(results)]
    speeds: dict[str, dict[str, float]] = {}
    for group in results["groups"]:
        rows = socket_rows(group)
        speeds[group["name"]] = {row.contender: row.bytes_per_s for row in rows}
        header, body = socket_group_table(group["operation"], rows)
        title = f"{group['name']} ({group['payload_size']} B payloads)"
        skipped = [f"{name}: {why}" for name, why in group.get("skipped", {}).items()]
        if as_markdown:
            out += ["", f"**{title}**", "", markdown(header, body)]
            out += [f"\nskipped: {line}" for line in skipped]
        else:
            out += ["", title, text(header, body)]
            out += [f"  skipped: {line}" for line in skipped]
    header, body, missed = socket_target_table(speeds)
    if as_markdown:
        out += ["", "**Socket targets**", "", markdown(header, body)]
    else:
        out += ["", "socket targets", text(header, body, left=3)]
    print("\n".join(out))
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after -- go to pytest.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--json", type=Path, help="report on this pytest-benchmark (or socket_bench.py) JSON file"
    )
    parser.add_argument("--save", type=Path, help="run the suite and keep its JSON here")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    argv = sys.argv[1:] if argv is None else argv
    pytest_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)

    if args.json:
        if args.save or pytest_args:
            parser.error("--json reports on an earlier run: no --save, no pytest arguments")
        status, data = 0, load(args.json)
        if data.get("kind") == SOCKET_KIND:  # saved by bench/socket_bench.py --json
            data = {SOCKET_KEY: data}
    else:
        status, data = run_and_load(args.save, pytest_args)
        if data is None:
            return status or 1
    missed = report(data, args.markdown)
    return status or (1 if args.check and missed else 0)

if __name__ == "__main__":
    sys.exit(main())
