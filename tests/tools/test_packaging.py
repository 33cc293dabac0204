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

import pytest

from fastframe._switch import VARIABLE
from tests.support.paths import ROOT

# what a build reads (MANIFEST.in brings tests/, examples/, docs/, fuzz/ and hardening/ into the sdist)
SOURCES = ["pyproject.toml", "setup.py", "README.md", "LICENSE", "MANIFEST.in", "src", "tests", "examples", "docs", "fuzz", "hardening"]
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


@needs_backend
def test_sdist_has_the_cython_source_and_no_generated_c(tree: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # what a local build leaves in the tree must stay out
    (tree / "src" / "fastframe" / "_core_c" / "core.c").write_text("/* generated by Cython */\n")
    # the PEP 517 hook a frontend calls (python -m build --sdist), here without isolation
    hook = "import sys, setuptools.build_meta as backend; print(backend.build_sdist(sys.argv[1]))"
    result = run(sys.executable, "-c", hook, dist, cwd=tree, env=environment())
    sdist = dist / result.stdout.split()[-1]
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    top = sdist.name.removesuffix(".tar.gz")
    for name in ("_core_c/core.pyx", "_core_c/core.pxd", "_core_c/socket.pxi", "_core_c/io.h", "py.typed", "_core_py/socket.py"):
        assert f"{top}/src/fastframe/{name}" in names, name
    # and what the wheels' tests run: cibuildwheel builds them from the sdist
    for name in ("pyproject.toml", "setup.py", "PKG-INFO", "tests/conftest.py", "examples/quickstart.py", "docs/conf.py", "fuzz/fuzz_decoders.py", "hardening/load.py"):
        assert f"{top}/{name}" in names, name
    assert [n for n in names if n.endswith((".c", ".so", ".pyd")) or "_build.py" in n] == []


def test_wheel_tests_install_the_test_extra_but_what_they_do_not_need() -> None:
    # cibuildwheel's test-requires, used by every wheel's tests (and the pure wheel's)
    tomllib = pytest.importorskip("tomllib", reason="tomllib is new in Python 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = set(config["project"]["optional-dependencies"]["test"])
    wheel_tests = set(config["tool"]["cibuildwheel"]["test-requires"])
    assert wheel_tests <= extra, wheel_tests - extra
    left_out = {re.split(r"[^\w.-]", requirement, maxsplit=1)[0] for requirement in extra - wheel_tests}
    assert left_out == {"matplotlib", "Cython", "pytest-benchmark", "setuptools"}
