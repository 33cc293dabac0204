"""``mypy --strict`` over examples/ and tests/typed/ (user-style code with
``assert_type``): the right uses pass and each wrong use is refused.

One mypy run checks both folders; under ``--strict`` a ``# type: ignore[CODE]``
that is not needed is an error, so a wrong use that type-checks fails it.  A
second run on copies of tests/typed/ without those comments shows that each
marked line is reported, with its code, and nothing else is.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

TYPED = ROOT / "tests" / "typed"
MODULES = sorted(path.stem for path in TYPED.glob("*.py") if path.stem != "__init__")
IGNORE = re.compile(r"\s*# type: ignore\[(?P<codes>[^\]]+)\]")
ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+): error: .*  \[(?P<code>[a-z-]+)\]$")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one cache for both runs: the second checks only the copies again
    return tmp_path_factory.mktemp("mypy-cache")


def mypy(cache: Path, *paths: str | Path) -> subprocess.CompletedProcess[str]:
    # from ROOT: pyproject.toml's [tool.mypy] (python_version, warn_unreachable) applies
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), "--no-pretty", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_examples_and_typed_usage_pass(cache: Path) -> None:
    result = mypy(cache, "examples", TYPED.relative_to(ROOT))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues found" in result.stdout


def test_each_wrong_use_is_refused(cache: Path, tmp_path: Path) -> None:
    expected: set[tuple[str, int, str]] = set()
    for name in MODULES:
        lines = (TYPED / f"{name}.py").read_text(encoding="utf-8").splitlines(keepends=True)
        for number, line in enumerate(lines, 1):
            assert "type: ignore" not in IGNORE.sub("", line), f"{name}.py:{number}: an ignore without its code"
            match = IGNORE.search(line)
            if match is not None:
                expected.update((f"{name}.py", number, code.strip()) for code in match["codes"].split(","))
                lines[number - 1] = IGNORE.sub("", line)
        (tmp_path / f"{name}.py").write_text("".join(lines), encoding="utf-8")
    assert {path for path, _, _ in expected} == {f"{name}.py" for name in MODULES}  # each has wrong uses

    result = mypy(cache, *sorted(tmp_path.glob("*.py")))
    reported = set()
    for line in result.stdout.splitlines():
        match = ERROR.match(line)
        if match is not None:
            reported.add((Path(match["path"]).name, int(match["line"]), match["code"]))
    assert result.returncode == 1, result.stdout + result.stderr
    assert reported == expected, result.stdout


@pytest.mark.parametrize("name", MODULES)
def test_typed_usage_imports(name: str) -> None:
    # the names they use exist at run time too (their functions are not run)
    importlib.import_module(f"tests.typed.{name}")
