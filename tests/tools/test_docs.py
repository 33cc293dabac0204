"""Every ```python block of the documentation (docs/**/*.md, and the README and
CONTRIBUTING.md beside it) runs, and passes.

The blocks are written as complete programs (their asserts are the checks).  One
subprocess per implementation runs all of them, each in a fresh namespace and
under its own time limit, and reports on each; a block that raises, outlasts its
limit or leaves a thread running fails its test.  The default run uses the core
``import fastframe`` picks; the second forces the pure-Python twin with
FASTFRAME_PURE_PYTHON=1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from fastframe._switch import VARIABLE, pure_python_requested
from tests.support.children import child_env
from tests.support.paths import ROOT

DOCS = ROOT / "docs"
BLOCK_TIMEOUT = 15  # seconds for one block
RUN_TIMEOUT = 180  # seconds for the whole subprocess
# what a fenced block may be: run (python), or shown only (shell, plain text,
# MyST directives such as {toctree} and {eval-rst})
LANGUAGES = {"python", "sh", "text"}

OPENING = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


class Block(NamedTuple):
    path: str  # relative to docs/ (the README is ../README.md)
    line: int  # of the first line of code
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"


def fenced_blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    relative = Path(os.path.relpath(path, DOCS)).as_posix()
    i = 0
    while i < len(lines):
        opening = OPENING.match(lines[i])
        i += 1
        if opening is None:
            continue
        fence = opening["fence"]
        info = opening["info"].strip()
        start = i
        while i < len(lines):
            stripped = lines[i].strip()
            if (
                stripped.startswith(fence)
                and set(stripped) == {fence[0]}
                and len(lines[i]) - len(lines[i].lstrip()) <= 3
            ):
                break
            i += 1
        language = info.split()[0] if info else ""
        yield Block(relative, start + 1, language, "\n".join(lines[start:i]) + "\n")
        i += 1  # the closing fence


def all_blocks() -> list[Block]:
    pages = [p for p in sorted(DOCS.rglob("*.md")) if "_build" not in p.relative_to(DOCS).parts]
    pages += [page for page in (ROOT / "README.md", ROOT / "CONTRIBUTING.md") if page.is_file()]
    return [block for page in pages for block in fenced_blocks(page)]


BLOCKS = all_blocks() if DOCS.is_dir() else []
PYTHON_BLOCKS = [b for b in BLOCKS if b.language == "python"]

pytestmark = [
    # cibuildwheel copies tests/ without docs/
    pytest.mark.skipif(not DOCS.is_dir(), reason=f"no documentation at {DOCS}"),
    # the runner's time limit is SIGALRM, and the examples use AF_UNIX sockets
    pytest.mark.skipif(sys.platform == "win32", reason="the documentation examples run on POSIX only"),
]

# Runs in the subprocess: reads the blocks (JSON) on stdin, writes one result per
# block (JSON) on stdout.
RUNNER = r"""
import builtins, contextlib, io, json, os, signal, sys, threading, traceback

class BlockTimeout(BaseException):
    pass

def expired(signum, frame):
    raise BlockTimeout(f"the block ran for more than {limit} s")

limit = float(sys.argv[1])
signal.signal(signal.SIGALRM, expired)
blocks = json.load(sys.stdin)
import fastframe
results = {"implementation": fastframe.IMPLEMENTATION, "blocks": {}}
for block in blocks:
    output = io.StringIO()
    error = None
    # line numbers in tracebacks are those of the page
    code = "\n" * (block["line"] - 1) + block["code"]
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(code, "docs/" + block["path"], "exec"), namespace)
    except BaseException:
        error = traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if error is None and left:
        error = f"the block left threads running: {left}"
    results["blocks"][block["path"] + ":" + str(block["line"])] = {
        "error": error, "output": output.getvalue(),
    }
    namespace.clear()
sys.__stdout__.write(json.dumps(results))
sys.__stdout__.flush()
os._exit(0)  # a thread a block left behind must not hold up the exit
"""


def environment(pure: bool) -> dict[str, str]:
    env = child_env()
    if pure:
        env[VARIABLE] = "1"
    else:
        env.pop(VARIABLE, None)
    return env


@cache
def run_blocks(variant: str) -> dict[str, Any]:
    """Every python block, run in one subprocess (once per variant and session)."""
    payload = json.dumps([b._asdict() for b in PYTHON_BLOCKS])
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(BLOCK_TIMEOUT)],
        input=payload,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment(pure=variant == "pure"),
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0 and done.stdout, (
        f"the documentation runner failed (exit status {done.returncode}):\n{done.stderr}"
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


# With the switch set for the whole test session, only the twin is installed or wanted.
VARIANTS = ["pure"] if pure_python_requested() else ["default", "pure"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[b.name for b in PYTHON_BLOCKS])
def test_block_runs(block: Block, variant: str) -> None:
    result = run_blocks(variant)["blocks"][block.name]
    if result["error"] is not None:
        pytest.fail(
            f"docs/{block.name} failed ({variant} run):\n{result['error']}its output:\n{result['output']}",
            pytrace=False,
        )


def test_pure_variant_runs_the_twin() -> None:
    assert run_blocks("pure")["implementation"] == "python"


def test_blocks_were_found() -> None:
    pages = {b.path for b in PYTHON_BLOCKS}
    assert {"index.md", "getting-started.md", "sockets.md", "errors.md", "asyncio.md", "../README.md"} <= pages
    assert len(PYTHON_BLOCKS) >= 30


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_block_language_is_known(block: Block) -> None:
    """A block in another language (``py``, ``pycon``, none at all) would be
    shown as code but silently never run."""
    known = block.language in LANGUAGES or block.language.startswith("{")
    assert known, f"docs/{block.name}: fenced block of language {block.language!r}"
