"""The compiled core's stub (``_core_c/core.pyi``) describes both cores.

mypy's stubtest compares a stub with the imported module: every public name,
signature, property and class property.  The compiled core is checked against
the stub as shipped.  The twin (the package ``fastframe._core_py``, whose
``__init__`` gathers the names of its modules) is checked against the same stub,
with only what says how the classes are built changed (Cython takes constructor
arguments in ``__cinit__``, ``__new__`` in the stub, where the twin has
``__init__``, and C fields make a class a disjoint base where the twin uses
``__slots__`` or not) and ``IMPLEMENTATION``, ``"python"`` in the twin.  What
the twin has beyond the stub is allowed by name (TWIN_ONLY): its modules, its
``__all__``, the decoder's seam, which is C methods in the compiled core
(``core.pxd``) and Python ones in the twin, and the ``__new__`` in which the
twin's ``Decoder`` refuses to be made directly (before ``__init__`` would look at
the arguments: the compiled core refuses in ``__cinit__``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import fastframe

STUB = Path(fastframe.__file__).parent / "_core_c" / "core.pyi"
TWIN_ONLY = [
    r"fastframe\._core_py\.__all__",
    r"fastframe\._core_py\.(decode|encode|framings|reader|socket)",
    r"fastframe\._core_py\.Decoder\.(adopt|cut|cut_run|run_taken|run_left_at|cut_into|ready_to_hand_over|received)",
    r"fastframe\._core_py\.Decoder\.__new__",
]


def _stubtest(module: str, tmp_path: Path, twin_stub: str | None = None) -> subprocess.CompletedProcess[str]:
    """stubtest on ``module``: the shipped stub, or ``twin_stub`` for the twin."""
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "cache"))
    options: list[str] = []
    if twin_stub is not None:
        package = tmp_path / "stubs" / "fastframe"
        (package / "_core_py").mkdir(parents=True)
        (package / "__init__.pyi").write_text("")
        (package / "_core_py" / "__init__.pyi").write_text(twin_stub)
        env["MYPYPATH"] = str(tmp_path / "stubs")
        allowlist = tmp_path / "allowlist.txt"
        allowlist.write_text("\n".join(TWIN_ONLY) + "\n")
        options += ["--allowlist", str(allowlist)]
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n")  # not the project's: its files= would be checked too
    return subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", module, "--mypy-config-file", str(config), *options],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def as_twin(text: str) -> str:
    """The compiled stub with the twin's way of building classes, and its
    ``IMPLEMENTATION``."""
    text = text.replace("@disjoint_base\n", "").replace('Literal["cython"]', 'Literal["python"]')
    return re.sub(r"def __new__\(cls, ([^)]*)\) -> Self:", r"def __init__(self, \1) -> None:", text)


def test_the_stub_is_shipped_beside_the_package() -> None:
    assert STUB.is_file()
    assert Path(fastframe.__file__).with_name("py.typed").is_file()


def test_stub_describes_the_core(impl: Any, tmp_path: Path) -> None:
    if impl.name == "cython":
        result = _stubtest("fastframe._core_c.core", tmp_path)
    else:
        result = _stubtest(impl.module.__name__, tmp_path, as_twin(STUB.read_text()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_twin_that_differs_from_the_stub_fails(tmp_path: Path) -> None:
    # the check above can fail: a parameter renamed in the stub is reported
    stub = as_twin(STUB.read_text())
    renamed = stub.replace("max_frames: int | None", "max_count: int | None")
    assert renamed != stub
    result = _stubtest("fastframe._core_py", tmp_path, renamed)
    assert result.returncode == 1
    assert 'stub parameter "max_count" differs from runtime parameter "max_frames"' in result.stdout
