"""The ``FASTFRAME_PURE_PYTHON`` switch, parsed in one place.

``setup.py`` loads this file by path (before the package is importable) to decide
whether to build the extension; the package reads it at import to pick a core.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

VARIABLE = "FASTFRAME_PURE_PYTHON"
_ON = {"1", "true", "yes", "on"}
_OFF = {"", "0", "false", "no", "off"}


def pure_python_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment asks for the pure-Python implementation."""
    value = environ.get(VARIABLE, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{VARIABLE}={environ[VARIABLE]!r}: expected 1 or 0")
