"""The fuzz harness, fuzz/fuzz_decoders.py: its corpus (the seeds and what long runs
added) replays without a finding (fast, no atheris: the harness reads its inputs
itself), and a timed atheris run from that corpus finds nothing (slow;
FASTFRAME_FUZZ_SECONDS, default 60).

Both run in a child process, so that a hang in the compiled core fails the test (and
names the input) instead of blocking the suite.  The harness compares the compiled
core with the twin; under FASTFRAME_PURE_PYTHON=1 it checks the twin alone.  Inputs
mean the same scenario with and without atheris, so a reproducer from either test
replays with ``python fuzz/fuzz_decoders.py --show FILE``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fastframe._switch import pure_python_requested
from tests.support.paths import ROOT

FUZZ = ROOT / "fuzz"
HARNESS = FUZZ / "fuzz_decoders.py"
SEEDS = FUZZ / "corpus" / "decoders"  # fuzz/make_corpus.py writes these
CORPUS = sorted((FUZZ / "corpus").glob("*/*"))  # the seeds and what long runs added
needs_harness = pytest.mark.skipif(
    not HARNESS.is_file(), reason=f"needs the fuzz harness next to tests/ ({HARNESS} is absent)"
)
EXPECTED_CORES = ["python"] if pure_python_requested() else ["cython", "python"]

REPLAY = """
import sys, traceback
sys.path.insert(0, sys.argv[1])
import fuzz_decoders as fz
print("cores", *[core.name for core in fz.CORES], flush=True)
for name in sys.argv[2:]:
    print("start", name, flush=True)
    with open(name, "rb") as f:
        data = f.read()
    try:
        fz.one_input(data)
    except Exception:
        print("finding", name, repr(data), traceback.format_exc(), sep="\\n", flush=True)
    else:
        print("ok", name, flush=True)
"""


def text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


@needs_harness
def test_seed_corpus_replays_without_a_finding() -> None:
    inputs = [str(path) for path in CORPUS]
    assert len(list(SEEDS.iterdir())) >= 20, f"the seed corpus is {SEEDS}: regenerate it with fuzz/make_corpus.py"
    try:
        result = subprocess.run(
            [sys.executable, "-c", REPLAY, str(FUZZ), *inputs],
            capture_output=True,
            text=True,
            timeout=120,  # about a second normally; a hang names the input
            env=dict(os.environ),
        )
    except subprocess.TimeoutExpired as exc:
        started = re.findall(r"^start (.*)$", text(exc.stdout), re.MULTILINE)
        pytest.fail(f"replaying {started[-1] if started else 'the corpus'} did not finish in {exc.timeout} s")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and lines, f"the replay failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert lines[0].split()[1:] == EXPECTED_CORES, lines[0]
    findings = [chunk.split("\nstart ")[0] for chunk in result.stdout.split("\nfinding\n")[1:]]
    assert not findings, "\n\n".join(finding[:4000] for finding in findings)
    assert sorted(line.removeprefix("ok ") for line in lines if line.startswith("ok ")) == inputs


def fuzz_budget() -> int:
    raw = os.environ.get("FASTFRAME_FUZZ_SECONDS", "60")
    try:
        seconds = int(raw)
    except ValueError:
        raise ValueError(f"FASTFRAME_FUZZ_SECONDS={raw!r}: give a whole number of seconds") from None
    if seconds < 1:
        raise ValueError(f"FASTFRAME_FUZZ_SECONDS={raw!r}: give at least 1 second")
    return seconds


def atheris_missing() -> str | None:
    try:
        import atheris  # noqa: F401 - only whether it imports
    except ImportError as exc:
        return f"atheris cannot be imported ({exc}); it is in the fuzz dependency group: python -m pip install --group fuzz"
    return None


ARTIFACTS = ("crash-", "timeout-", "oom-", "leak-")  # what libFuzzer names its findings


@pytest.mark.slow
@needs_harness
def test_fuzzing_from_the_seed_corpus_finds_nothing(tmp_path: Path) -> None:
    missing = atheris_missing()
    if missing:
        pytest.skip(missing)
    seconds = fuzz_budget()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in CORPUS:  # the run adds inputs to its copy, not to the checkout's
        shutil.copy(path, corpus)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    command = [
        sys.executable,
        str(HARNESS),
        str(corpus),
        f"-max_total_time={seconds}",
        "-timeout=60",  # one input running this long is a hang: a finding, with its reproducer
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}{os.sep}",
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 300, cwd=tmp_path, env=dict(os.environ)
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the fuzzer ran {exc.timeout} s for a {seconds} s budget:\n{text(exc.stderr)[-4000:]}")
    output = result.stdout + result.stderr
    found = sorted(path for path in artifacts.iterdir() if path.name.startswith(ARTIFACTS))
    if result.returncode != 0 or found:
        report = [f"{' '.join(command)}\nexit status {result.returncode}\n{output[-6000:]}"]
        for path in found:
            data = path.read_bytes()
            report.append(f"reproducer {path} ({len(data)} bytes): {data!r}")
            report.append(f"replay it: {sys.executable} {HARNESS} --show {path}")
        pytest.fail("\n".join(report))
    executed = re.search(r"stat::number_of_executed_units: (\d+)", output)
    assert executed and int(executed.group(1)) > len(CORPUS), output[-3000:]
