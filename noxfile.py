"""Development sessions: ``nox -l`` lists them, ``nox -s NAME`` runs one, ``nox`` the first six.

    tests-3.10 ... tests-3.14   install the package (the compiled core) and the test group, run pytest
    pure                        the same with FASTFRAME_PURE_PYTHON=1, at build and run time
    lint                        ruff check
    types                       mypy (configured in pyproject.toml), stubtest of the core
    docs                        sphinx, warnings as errors
    build                       sdist and wheel, twine check

Not run by a plain ``nox`` (they need clang, or valgrind; each builds the extension
afresh in the session's tmp/, leaving the source tree and its in-place build alone):

    asan       the test suite against the extension built with AddressSanitizer and
               UndefinedBehaviorSanitizer (clang; Debian: clang libclang-rt-14-dev)
    memcheck   hardening/memcheck.py under valgrind's memcheck, on the normal build

    nox -s asan                 # the whole suite (arguments after -- go to pytest)
    nox -s memcheck -- 200      # 200 iterations rather than 2000

Arguments after ``--`` go to pytest, e.g. ``nox -s tests -- -q -m "not slow"``.
An interpreter nox cannot find is skipped (an error on CI).

nox looks for ``python3.10`` etc. on PATH.  Under pyenv the shims there run only
the versions pyenv has selected (nox then skips the others: "Python interpreter
3.10 not found"), so put each installed version's bin/ first:

    PATH=$(printf '%s/bin:' ~/.pyenv/versions/3.1[0-4]*)$PATH nox -s tests
"""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    session.install("--group", "test", ".")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def pure(session: nox.Session) -> None:
    session.env["FASTFRAME_PURE_PYTHON"] = "1"  # both: pip builds, pytest imports
    session.install("--group", "test", ".")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def types(session: nox.Session) -> None:
    # the package too (stubtest imports the compiled core), and the test group for
    # the optional imports mypy follows (matplotlib, uvloop)
    session.install("--group", "lint", "--group", "test", ".")
    session.run("python", "-m", "mypy")
    session.run("python", "-m", "mypy.stubtest", "fastframe._core_c.core")


@nox.session
def docs(session: nox.Session) -> None:
    session.install("--group", "docs")
    session.run("python", "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "docs", "docs/_build/html")


@nox.session
def build(session: nox.Session) -> None:
    session.install("build", "twine")
    outdir = Path(session.create_tmp()) / "dist"
    shutil.rmtree(outdir, ignore_errors=True)  # twine checks this build's files only
    session.run("python", "-m", "build", "--outdir", str(outdir))
    session.run("python", "-m", "twine", "check", "--strict", str(outdir / "*"))  # twine expands the glob


# -- hardening ------------------------------------------------------------------------

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _build(session: nox.Session, env: dict[str, str]) -> str:
    """Build the package, extension included, into the session's tmp/ and return the
    directory to put on PYTHONPATH.  --force: a stale object never stands in for a
    build with other flags; egg-info and Cython's C go to tmp/ too, not the tree."""
    out = Path(session.create_tmp()).resolve() / "build"  # absolute: subprocesses run elsewhere
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    lib = str(out / "lib")
    session.run(
        "python", "setup.py", "-q", "egg_info", "--egg-base", str(out),
        "build_py", "--build-lib", lib,
        "build_ext", "--build-lib", lib, "--build-temp", str(out / "temp"), "--force", "--cython-c-in-temp",
        env=env,
    )  # fmt: skip
    return lib


@nox.session(default=False)
def asan(session: nox.Session) -> None:
    session.install("--group", "test")
    sanitize = "-fsanitize=address,undefined"
    lib = _build(
        session,
        {
            "CC": "clang",  # distutils links with it too (it swaps the compiler in LDSHARED)
            "CFLAGS": f"{sanitize} -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1",
            "LDFLAGS": sanitize,
        },
    )
    # python itself is not instrumented, so the runtime is preloaded; without it the
    # sanitized extension does not even import (its __asan_* symbols are undefined)
    name = f"libclang_rt.asan-{platform.machine()}.so"
    runtime = session.run("clang", f"-print-file-name={name}", external=True, silent=True).strip()
    if not Path(runtime).is_file():
        session.error(f"clang has no {name}: install the sanitizer runtimes (Debian: libclang-rt-14-dev)")
    logs = Path(session.create_tmp()).resolve() / "sanitizer-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    env = {
        "PYTHONPATH": lib,
        "LD_PRELOAD": runtime,
        "PYTHONMALLOC": "malloc",  # objects from malloc, whose bounds ASan knows, not from pymalloc's arenas
        # detect_leaks=0: CPython leaves its own allocations to the end of the process,
        # all of them "leaks".  allocator_may_return_null=1: tests cap the address space
        # (RLIMIT_AS) and expect MemoryError, not an abort.  log_path: a report reaches
        # a file even from a subprocess or under pytest's capture, and is printed below.
        "ASAN_OPTIONS": f"detect_leaks=0:allocator_may_return_null=1:log_path={logs}/asan",
        "UBSAN_OPTIONS": f"print_stacktrace=1:halt_on_error=1:log_path={logs}/ubsan",
    }
    session.run(
        "python", "-c",
        "import sys, fastframe, fastframe._core_c.core as core; "
        "assert fastframe.IMPLEMENTATION == 'cython'; "
        "assert core.__file__.startswith(sys.argv[1]), core.__file__; print('sanitized core:', core.__file__)",
        lib, env=env,
    )  # fmt: skip
    try:
        # Some tests measure memory: the address space of a child capped with
        # RLIMIT_AS, or the RSS a loop leaves behind.  ASan's shadow memory and
        # its quarantine of freed blocks (256 MiB) inflate both, so under it they
        # fail whatever the code does (they did before this list named them);
        # the leak harness's self-check needs sys.getallocatedblocks(), which
        # counts pymalloc's blocks only (none with PYTHONMALLOC=malloc).  The
        # plain suite runs them all.
        deselect = [
            "--deselect=tests/framers/test_memory.py::test_lying_headers_reserve_nothing_ahead",
            "--deselect=tests/sockets/test_leak.py::test_no_leak_over_millions_of_frames",
            "--deselect=tests/sockets/test_faults.py::test_hostile_headers_under_an_address_space_cap",
            "--deselect=tests/sockets/test_faults.py::test_hostile_streams_one_after_another_under_the_cap",
            "--deselect=tests/tools/test_refleak.py::test_no_call_leaks",
            "--deselect=tests/tools/test_refleak.py::test_injected_leaks_are_reported",
        ]
        session.run("python", "-m", "pytest", *deselect, *session.posargs, env=env)
    finally:
        reports = sorted(logs.iterdir())
        for report in reports:
            session.warn(f"{report.name}:\n{report.read_text(errors='replace')}")
    if reports:
        session.error(f"{len(reports)} sanitizer report(s), above")


@nox.session(python="3.12", default=False)
def memcheck(session: nox.Session) -> None:
    # 3.12, not 3.11: 3.11's interpreter alone gives memcheck ~600 uninitialised-value
    # errors (an int of size 0 reads its never-written digit), spread over the whole
    # interpreter; 3.12 gives none, only leaks of interned strings, which the
    # suppression file matches by where they are made
    session.install(*PYPROJECT["build-system"]["requires"])
    lib = _build(session, {})
    session.run(
        "valgrind", "--tool=memcheck", "--error-exitcode=99", "--num-callers=40",
        "--leak-check=full", "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
        "--suppressions=hardening/valgrind-python3.12.supp",
        "python", "hardening/memcheck.py", *session.posargs,
        external=True, env={"PYTHONPATH": lib, "PYTHONMALLOC": "malloc"},  # malloc: every block is memcheck's
    )  # fmt: skip
