"""What a result depends on besides the code: recorded with the numbers."""

from __future__ import annotations

import importlib
import os
import platform
from importlib import metadata
from typing import Any

import fastframe

from .contenders import Unavailable, load_core


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        return str(importlib.import_module(module).__version__)
    except ImportError:
        return None


def _imported_version(name: str) -> str | None:
    """The version of a package that has no ``__version__`` (anyio), when it imports."""
    try:
        importlib.import_module(name)
        return metadata.version(name)
    except (ImportError, metadata.PackageNotFoundError):
        return None


def compiled_core_status() -> str:
    """"loaded", or why the compiled core does not import."""
    try:
        load_core("cython")
    except Unavailable as exc:
        return str(exc)
    return "loaded"


def machine_facts() -> dict[str, Any]:
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        usable = os.cpu_count()
    return {
        "fastframe_version": fastframe.__version__,
        "fastframe_path": os.path.dirname(fastframe.__file__),
        "implementation": fastframe.IMPLEMENTATION,
        "compiled_core": compiled_core_status(),
        "cython_version": _version("Cython"),
        "uvloop_version": _version("uvloop"),
        "anyio_version": _imported_version("anyio"),
        "trio_version": _imported_version("trio"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }
