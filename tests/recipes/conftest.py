"""The recipes' clients (examples/recipes/NAME.py) as modules, for the tests that
run them against their real servers (tests/support/servers.py starts those)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.paths import ROOT

RECIPES = ROOT / "examples" / "recipes"


def recipe(name: str) -> ModuleType:
    """examples/recipes/``name``.py, imported (each test module imports it once)."""
    path = RECIPES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fastframe_recipe_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # where dataclasses look up its annotations
    spec.loader.exec_module(module)
    return module
