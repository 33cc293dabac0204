"""Development sessions: ``nox -l`` lists them, ``nox -s NAME`` runs one, ``nox`` all.

    tests-3.10 ... tests-3.14   install ".[test]" (the compiled core), run pytest
    pure                        the same with FASTFRAME_PURE_PYTHON=1, at build and run time
    lint                        ruff check
    types                       mypy (configured in pyproject.toml), stubtest of the core
    docs                        sphinx, warnings as errors
    build                       sdist and wheel, twine check

Arguments after ``--`` go to pytest, e.g. ``nox -s tests -- -q -m "not slow"``.
An interpreter nox cannot find is skipped (an error on CI).

nox looks for ``python3.10`` etc. on PATH.  Under pyenv the shims there run only
the versions pyenv has selected (nox then skips the others: "Python interpreter
3.10 not found"), so put each installed version's bin/ first:

    PATH=$(printf '%s/bin:' ~/.pyenv/versions/3.1[0-4]*)$PATH nox -s tests
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    session.install(".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def pure(session: nox.Session) -> None:
    session.env["FASTFRAME_PURE_PYTHON"] = "1"  # both: pip builds, pytest imports
    session.install(".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def types(session: nox.Session) -> None:
    # the package too (stubtest imports the compiled core), and the test extra for
    # the optional imports mypy follows (matplotlib, uvloop)
    session.install(".[lint,test]")
    session.run("python", "-m", "mypy")
    session.run("python", "-m", "mypy.stubtest", "fastframe._speedups")


@nox.session
def docs(session: nox.Session) -> None:
    session.install(".[docs]")
    session.run("python", "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "docs", "docs/_build/html")


@nox.session
def build(session: nox.Session) -> None:
    session.install("build", "twine")
    outdir = Path(session.create_tmp()) / "dist"
    shutil.rmtree(outdir, ignore_errors=True)  # twine checks this build's files only
    session.run("python", "-m", "build", "--outdir", str(outdir))
    session.run("python", "-m", "twine", "check", "--strict", str(outdir / "*"))  # twine expands the glob
