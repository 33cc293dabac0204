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

import importlib
import inspect
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

from fastframe._cores import CORES, Core, load
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


# -- the API reference: what each call raises --------------------------------------

API = DOCS / "api.md"
AUTODOC = re.compile(r"^(?P<indent> *)\.\. (?P<kind>auto\w+):: (?P<name>[\w.]+)(?P<hidden>\(\))?\s*$")
OPTION = re.compile(r"^\s*:(?P<option>[\w-]+):(?P<value>.*)$")
# a "Raises" field of a docstring: ":raises TypeError: ...", or ":raises: nothing"
RAISES = re.compile(r"^\s*:raises(\s+[\w.]+)?:", re.MULTILINE)
# Property getters that read a field and cannot fail: they need not say so.
CANNOT_FAIL = {
    "fastframe.Decoder.buffered",
    "fastframe.FramedSocket.buffered",
    "fastframe.FramedSocket.pending_output",
    "fastframe.FramedSocket.wants_write",
    "fastframe.FramedSocket.socket",
    "fastframe.FramedSocket.tls",
    "fastframe.errors.FrameTooLarge.size",
    "fastframe.errors.FrameTooLarge.max_size",
    "fastframe.errors.IncompleteFrame.partial",
    "fastframe.errors.IncompleteFrame.expected",
    "fastframe.aio.FramedWriter.transport",
    "fastframe.aio.FramedWriter.framer",
    "fastframe.anyio.FramedStream.buffered",
    "fastframe.anyio.FramedStream.extra_attributes",
}
# Public methods the reference leaves out: the asyncio.BufferedProtocol methods
# FramedProtocol implements (asyncio calls them), the twin's decoder seam (C
# methods of the compiled core, see tests/tools/test_stub.py), and FixedSize's
# ``size`` under the name of every other framer's limit.
NOT_DOCUMENTED = {
    "fastframe.FixedSize.max_size",
    "fastframe.aio.FramedProtocol.connection_made",
    "fastframe.aio.FramedProtocol.get_buffer",
    "fastframe.aio.FramedProtocol.buffer_updated",
    *(
        f"fastframe.Decoder.{name}"
        for name in ("adopt", "cut", "cut_run", "run_taken", "run_left_at", "cut_into", "ready_to_hand_over", "received")
    ),
}


class Documented(NamedTuple):
    """What docs/api.md has autodoc document."""

    calls: list[str]  # functions, methods, properties, and classes whose constructor is shown
    members: dict[str, set[str]]  # class -> the names of its members documented


def members_option(lines: list[str], body: str) -> list[str]:
    """The names a directive's ``:members:`` option lists (``lines``: those
    after the directive; its options are indented by ``body``)."""
    value = None
    for line in lines:
        if not line.startswith(body) or not line.strip():
            break
        option = OPTION.match(line)
        if option is None:
            if value is not None:
                value += line  # a continuation line of :members:
        elif value is not None:
            break  # the next option
        elif option["option"] == "members":
            value = option["value"]
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def documented() -> Documented:
    calls: list[str] = []
    members: dict[str, set[str]] = {}
    lines = API.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        directive = AUTODOC.match(line)
        if directive is None:
            continue
        kind, name = directive["kind"], directive["name"]
        if kind in ("automethod", "autoproperty", "autofunction"):
            calls.append(name)
            owner, _, member = name.rpartition(".")
            members.setdefault(owner, set()).add(member)
        elif kind in ("autoclass", "autoexception"):
            # "Class()" shows no signature: a class the user does not make; an
            # exception is raised by fastframe, not made by the user
            if kind == "autoclass" and not directive["hidden"]:
                calls.append(name)
            listed = members_option(lines[i + 1 :], directive["indent"] + "   ")
            members.setdefault(name, set()).update(listed)
            calls.extend(f"{name}.{member}" for member in listed)
    return Documented(calls, members)


def resolve(name: str, core: Core) -> Any:
    """The object ``name`` documents, in ``core`` for the classes each core has."""
    per_core = {
        "fastframe.Decoder": core.module.Decoder,
        "fastframe.FramedSocket": core.FramedSocket,
        "fastframe.aio.FramedReader": core.FramedReader,
    }
    parts = name.split(".")
    for i in range(len(parts), 0, -1):  # the longest prefix first: fastframe.aio, not fastframe
        prefix = ".".join(parts[:i])
        if prefix in per_core:
            obj = per_core[prefix]
            break
        try:
            obj = importlib.import_module(prefix)
            break
        except ModuleNotFoundError:
            continue
    for part in parts[i:]:
        obj = getattr(obj, part)
    return obj


def says_what_it_raises(doc: str | None) -> bool:
    return doc is not None and RAISES.search(doc) is not None


DOCUMENTED = documented() if API.is_file() else Documented([], {})


def test_documented_calls_were_found() -> None:
    calls = set(DOCUMENTED.calls)
    assert {
        "fastframe.LengthPrefixed",
        "fastframe.Framer.encode_many",
        "fastframe.Decoder.feed",
        "fastframe.FramedSocket.recv_until",
        "fastframe.FramedSocket.start_tls",
        "fastframe.connect",
        "fastframe.errors.IncompleteFrame.partial",
        "fastframe.aio.open_unix_connection",
        "fastframe.aio.FramedWriter.drain",
        "fastframe.anyio.FramedStream.receive_exactly",
    } <= calls
    assert "fastframe.aio.FramedReader" not in calls  # shown without a constructor
    assert "fastframe.errors.FrameTooLarge" not in calls
    assert len(calls) >= 80


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ("The next frame.", False),
        ("Raises TypeError if it is not an int.", False),
        ("A frame.\n\n    :raises TypeError: if it is not an int\n", True),
        ("A frame.\n\n    :raises ssl.SSLError: if the handshake fails\n", True),
        ("Close it.\n\n    :raises: nothing\n", True),
        (None, False),
    ],
)
def test_a_raises_field_is_recognised(doc: str | None, says: bool) -> None:
    assert says_what_it_raises(doc) is says


def test_every_documented_call_says_what_it_raises(impl: Core) -> None:
    """Each call in the API reference lists what it raises (reST field lists,
    ``:raises Error: when``), or says ``:raises: nothing``: in both cores, the
    compiled core's docstrings being what ``help()`` shows there."""
    missing = [
        name
        for name in DOCUMENTED.calls
        if name not in CANNOT_FAIL and not says_what_it_raises(resolve(name, impl).__doc__)
    ]
    assert not missing, f"no ':raises' field in the docstrings of {missing} ({impl.name} core)"


def test_the_reference_documents_every_public_method() -> None:
    """A public method or property of a documented class is in docs/api.md, on
    the class or on the base that defines it (and so says what it raises)."""
    twin = load("python")
    classes = {owner: resolve(owner, twin) for owner in DOCUMENTED.members}
    listed_on = {cls: DOCUMENTED.members[owner] for owner, cls in classes.items()}
    left_out = []
    for owner, cls in classes.items():
        if not isinstance(cls, type) or issubclass(cls, BaseException):
            continue
        for name in dir(cls):
            qualified = f"{owner}.{name}"
            if name.startswith("_") or qualified in NOT_DOCUMENTED:
                continue
            definer = next(k for k in cls.__mro__ if name in vars(k))
            attr = vars(definer)[name]
            if not definer.__module__.startswith("fastframe"):
                continue  # asyncio's or anyio's
            if not (callable(attr) or isinstance(attr, property)):
                continue  # a framer's option
            if name not in listed_on[cls] and name not in listed_on.get(definer, ()):
                left_out.append(qualified)
    assert not left_out, f"docs/api.md does not document {left_out}"


def without_signature(doc: str | None) -> str:
    """A docstring without the signature Cython's embedsignature puts first."""
    return inspect.cleandoc(re.sub(r"\A[\w.]+\(.*\)(?: -> .*)?\n\n", "", doc or ""))


def test_the_compiled_core_has_the_twins_docstrings() -> None:
    """The methods each core implements itself (the decoder's, and the loops'
    that FramedSocket and FramedReader add their API to) say the same in both."""
    compiled = [core for core in CORES if core.name == "cython"]
    if not compiled:
        pytest.skip("the compiled core is not installed (FASTFRAME_PURE_PYTHON=1)")
    twin = load("python")
    compared = []
    for name in DOCUMENTED.calls:
        owner, _, member = name.rpartition(".")
        cls = resolve(owner, twin)
        if not isinstance(cls, type) or member not in dir(cls):
            continue
        definer = next(k for k in cls.__mro__ if member in vars(k))
        if definer.__module__.startswith(twin.module.__name__):
            compared.append(name)
            assert without_signature(resolve(name, compiled[0]).__doc__) == without_signature(
                resolve(name, twin).__doc__
            ), name
    assert "fastframe.FramedSocket.recv" in compared and "fastframe.Decoder.eof" in compared
