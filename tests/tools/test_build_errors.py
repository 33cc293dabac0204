"""A build whose C compiler is missing or fails: setup.py fails it (no silent
fallback) with a message that names the way to a pure-Python install, not with
the compiler's error alone.

The build runs in a copy of the source tree whose ``core.pyx`` is a stand-in of
one line: what is compiled does not matter, only that the compiler fails (the
real core takes seconds to translate to C).  ``CC`` names the compiler on POSIX
systems; Windows' compiler is found otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fastframe._switch import VARIABLE
from tests.support.paths import ROOT, SRC

pytestmark = [
    pytest.mark.skipif(not (ROOT / "setup.py").is_file(), reason="needs the source tree (this runs an installed fastframe)"),
    pytest.mark.skipif(sys.platform == "win32", reason="CC does not choose Windows' compiler"),
    pytest.mark.skipif(
        importlib.util.find_spec("Cython") is None, reason="needs Cython, a build requirement, installed here"
    ),
]


@pytest.mark.parametrize("compiler", ["/nonexistent/cc", "false"], ids=["missing", "failing"])
def test_a_build_without_a_working_c_compiler_says_how_to_install_pure_python(
    tmp_path: Path, compiler: str
) -> None:
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path)
    core = tmp_path / "src" / "fastframe" / "_core_c"
    shutil.copytree(
        SRC / "fastframe",
        core.parent,
        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd", "*.c", "*.pxd", "*.pxi", "*.pyx", "_build.py"),
    )
    (core / "core.pyx").write_text("ANSWER = 42\n")
    env = {k: v for k, v in os.environ.items() if k not in (VARIABLE, "PYTHONPATH")}
    env["CC"] = compiler
    result = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--build-temp", "temp", "--build-lib", "lib"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0  # failed: never a package without its core
    assert not list((tmp_path / "lib").rglob("core*.*"))
    last = result.stderr.rstrip().splitlines()[-1]
    # what was wrong, with the compiler's own words (they differ between setuptools versions)
    assert last.startswith("error: fastframe's compiled core did not build ("), result.stdout + result.stderr
    assert compiler in last
    # what to do
    assert last.endswith(
        "It needs a C compiler and Python's headers; without them, install the pure-Python package "
        f"instead: {VARIABLE}=1 pip install fastframe"
    ), last
