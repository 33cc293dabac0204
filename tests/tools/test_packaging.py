"""What users install, built the way a release builds it: the sdist (the .pyx and
its header, never generated C) and the pure-Python ``py3-none-any`` wheel, which
must know it is pure: it selects the Python twin with no switch at run time.

Everything is built from a copy of the source tree in ``tmp_path`` (so nothing
generated in the checkout gets in, and nothing is written to it) and offline: no
build isolation, no index, with the build backend already installed here.
Without a source tree (the suite run against an installed package) these skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from fastframe._switch import VARIABLE
from tests.support.paths import ROOT

# what a build reads (MANIFEST.in brings tests/, examples/, docs/, fuzz/ and hardening/ into the sdist)
SOURCES = [
    "pyproject.toml", "setup.py", "README.md", "LICENSE", "MANIFEST.in", "CHANGELOG.md", "SECURITY.md", "CONTRIBUTING.md",
    "src", "tests", "examples", "docs", "fuzz", "hardening",
]  # fmt: skip
GENERATED = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so", "*.pyd", "*.c", "*.html", "_build.py")
TIMEOUT = 300  # seconds, for each build or install


def _missing_backend() -> str | None:
    try:
        import setuptools
    except ImportError:
        return "needs the build backend, setuptools>=77, installed here (builds run offline)"
    if int(setuptools.__version__.split(".")[0]) < 77:
        return f"needs setuptools>=77 (the build backend), found {setuptools.__version__}"
    return None


SOURCE_TREE = (ROOT / "setup.py").is_file()
pytestmark = pytest.mark.skipif(not SOURCE_TREE, reason="needs the source tree (this runs an installed fastframe)")
MISSING_BACKEND = _missing_backend() if SOURCE_TREE else None
needs_backend = pytest.mark.skipif(MISSING_BACKEND is not None, reason=str(MISSING_BACKEND))


def environment(**changes: str) -> dict[str, str]:
    """This environment without the switch or PYTHONPATH, plus ``changes``."""
    env = {k: v for k, v in os.environ.items() if k not in (VARIABLE, "PYTHONPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"  # pip would ask the index
    env.update(changes)
    return env


def run(*command: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in command],
        check=False,  # the assertion below shows the output
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the source tree, without anything a build or a test left in it."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=GENERATED)
        elif source.is_file():
            shutil.copy2(source, tree / name)
    return tree


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


# -- the selection in _core, without building -----------------------------------------


IMPORT = "import fastframe as ff; print(ff.IMPLEMENTATION, type(ff.Lines().decoder()).__module__)"


def test_without_the_compiled_core_import_fails_loudly(tree: Path) -> None:
    # the source tree's package with no extension and no _build.py: no fallback
    result = subprocess.run(
        [sys.executable, "-c", IMPORT],
        check=False,
        cwd=tree,
        env=environment(PYTHONPATH=str(tree / "src")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "fastframe._core_c" in result.stderr
    assert VARIABLE in result.stderr  # and says how to choose the twin


def test_a_pure_build_selects_the_twin_without_the_switch(tree: Path) -> None:
    # what setup.py writes into a pure build
    (tree / "src" / "fastframe" / "_build.py").write_text("PURE_PYTHON = True\n")
    env = environment(PYTHONPATH=str(tree / "src"))
    result = run(sys.executable, "-c", IMPORT, cwd=tree, env=env)
    assert result.stdout.split() == ["python", "fastframe._core_py.framings"]


# -- the artifacts ----------------------------------------------------------------------


@pytest.mark.slow
@needs_backend
def test_pure_wheel_is_py3_none_any_and_needs_no_switch(tree: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", dist, tree,
        cwd=tmp_path, env=environment(**{VARIABLE: "1"}),
    )  # fmt: skip
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (wheel_file,) = [n for n in names if n.endswith(".dist-info/WHEEL")]
        metadata = archive.read(wheel_file).decode()
    assert "Root-Is-Purelib: true" in metadata and "Tag: py3-none-any" in metadata, metadata
    assert [n for n in names if n.endswith((".so", ".pyd", ".c"))] == []
    assert "fastframe/_build.py" in names
    assert not (tree / "src" / "fastframe" / "_build.py").exists()  # the build dir only

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path, env=environment())
    python = venv_python(venv)
    install: list[str | Path] = [python, "-m", "pip", "install", "--no-deps", "--no-index", wheel]
    run(*install, cwd=tmp_path, env=environment())
    code = IMPORT + "; print(ff.__file__)"
    result = run(python, "-c", code, cwd=tmp_path, env=environment())  # no switch
    implementation, module, path = result.stdout.split()
    assert (implementation, module) == ("python", "fastframe._core_py.framings")
    assert Path(path).resolve().is_relative_to(venv.resolve()), path


def build_sdist(tree: Path, dist: Path) -> Path:
    # the PEP 517 hook a frontend calls (python -m build --sdist), here without isolation
    hook = "import sys, setuptools.build_meta as backend; print(backend.build_sdist(sys.argv[1]))"
    result = run(sys.executable, "-c", hook, dist, cwd=tree, env=environment())
    return dist / result.stdout.split()[-1]


@needs_backend
def test_sdist_has_the_cython_source_and_no_generated_c(tree: Path, tmp_path: Path) -> None:
    # what a local build leaves in the tree must stay out
    (tree / "src" / "fastframe" / "_core_c" / "core.c").write_text("/* generated by Cython */\n")
    sdist = build_sdist(tree, tmp_path / "dist")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    top = sdist.name.removesuffix(".tar.gz")
    for name in ("_core_c/core.pyx", "_core_c/core.pxd", "_core_c/socket.pxi", "_core_c/io.h", "py.typed", "_core_py/socket.py"):
        assert f"{top}/src/fastframe/{name}" in names, name
    # and what the wheels' tests run: cibuildwheel builds them from the sdist;
    # and the pages the docs include
    for name in (
        "pyproject.toml", "setup.py", "PKG-INFO", "tests/conftest.py", "examples/quickstart.py", "docs/conf.py",
        "fuzz/fuzz_decoders.py", "hardening/load.py", "CHANGELOG.md", "SECURITY.md", "CONTRIBUTING.md", "LICENSE",
    ):  # fmt: skip
        assert f"{top}/{name}" in names, name
    assert [n for n in names if n.endswith((".c", ".so", ".pyd")) or "_build.py" in n] == []


def _missing_sphinx() -> str | None:
    try:
        import furo  # noqa: F401
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
    except ImportError as exc:
        return f"building the docs needs the docs dependency group ({exc}): pip install --group docs"
    return None


@pytest.mark.slow
@needs_backend
@pytest.mark.skipif(_missing_sphinx() is not None, reason=str(_missing_sphinx()))
def test_the_unpacked_sdist_builds_the_docs_and_runs_the_fast_tests(tree: Path, tmp_path: Path) -> None:
    # What a packager or cibuildwheel does with the sdist alone, with no checkout:
    # the docs build with warnings as errors (every page they include is in it),
    # the whole suite collects (every module and file the tests read is in it),
    # and a share of the fast tests passes, on the sdist's own source (the twin:
    # nothing is compiled here).
    sdist = build_sdist(tree, tmp_path / "dist")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    env = environment(PYTHONPATH=str(unpacked / "src"), **{VARIABLE: "1"})

    html = tmp_path / "html"
    run(sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", "docs", html, cwd=unpacked, env=env)
    assert "Changelog" in (html / "changelog.html").read_text(encoding="utf-8")

    where = run(sys.executable, "-c", "import fastframe; print(fastframe.__file__)", cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).resolve().is_relative_to(unpacked.resolve()), where.stdout
    pytest_ = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    collected = run(*pytest_, "--collect-only", "tests", cwd=unpacked, env=env)
    assert re.search(r"\d+ tests collected", collected.stdout), collected.stdout[-500:]
    fast = ["tests/framers/test_golden.py", "tests/framers/test_roundtrip.py", "tests/tools/test_examples.py", "tests/tools/test_docs.py"]
    passed = run(*pytest_, "-m", "not slow", "-x", *fast, cwd=unpacked, env=env)
    assert re.search(r"\d+ passed", passed.stdout) and "failed" not in passed.stdout, passed.stdout[-500:]


def _config() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is new in Python 3.11")
    config: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config


def _names(requirements: list[Any]) -> set[str]:
    return {re.split(r"[^\w.-]", r, maxsplit=1)[0].lower() for r in requirements if isinstance(r, str)}


def test_extras_are_what_users_install_and_the_rest_are_dependency_groups() -> None:
    config = _config()
    assert set(config["project"]["optional-dependencies"]) == {"anyio", "plot"}
    groups = config["dependency-groups"]
    # every wheel's tests install the test-wheel group, which the whole suite's group includes
    assert config["tool"]["cibuildwheel"]["test-groups"] == ["test-wheel"]
    assert "test-requires" not in config["tool"]["cibuildwheel"]
    assert {"include-group": "test-wheel"} in groups["test"]
    # the wheels' tests need no compiler, no build backend and no matplotlib (no musllinux aarch64 wheel)
    assert _names(groups["test-wheel"]).isdisjoint({"cython", "setuptools", "matplotlib", "pytest-benchmark"})
    assert {"pytest", "hypothesis", "trustme", "anyio", "trio"} <= _names(groups["test-wheel"])


def test_classifiers_name_every_python_the_wheels_are_built_for() -> None:
    config = _config()
    classifiers = config["project"]["classifiers"]
    built = sorted(f"3.{b.split('-')[0][3:]}" for b in config["tool"]["cibuildwheel"]["build"])
    named = sorted(c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert named == built, (named, built)
    assert config["project"]["requires-python"] == f">={built[0]}"
    for needed in ("Typing :: Typed", "Framework :: AsyncIO", "Framework :: AnyIO", "Framework :: Trio"):
        assert needed in classifiers, needed
