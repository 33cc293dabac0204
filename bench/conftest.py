"""pytest hooks of the micro benchmarks: group order, machine facts, report header.

The contenders themselves are in ``contenders.py``, the workloads in ``workloads.py``.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import pytest

from .contenders import SPEEDUPS_MISSING, fastframe, speedups
from .workloads import CHUNK, GROUP_ORDER


def pytest_benchmark_group_stats(config: Any, benchmarks: Any, group_by: str) -> Any:
    """Groups by payload size, smallest first (the default sorts them by name)."""
    from pytest_benchmark.plugin import pytest_benchmark_group_stats as by_name

    groups = by_name(config, benchmarks, group_by)
    order = {name: i for i, name in enumerate(GROUP_ORDER)}
    return sorted(groups, key=lambda item: order.get(item[0], len(order)))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_facts() -> dict[str, Any]:
    """What a result depends on besides the code: recorded in the JSON output."""
    try:
        import Cython

        cython_version: str | None = Cython.__version__
    except ImportError:
        cython_version = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "fastframe_version": fastframe.__version__,
        "fastframe_path": os.path.dirname(fastframe.__file__),
        "implementation": fastframe.IMPLEMENTATION,
        "speedups": "loaded" if speedups is not None else SPEEDUPS_MISSING,
        "cython_version": cython_version,
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "chunk": CHUNK,
    }


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    machine_info["fastframe_bench"] = bench_facts()


def pytest_report_header(config: pytest.Config) -> list[str]:
    facts = bench_facts()
    return [
        f"fastframe {facts['fastframe_version']} from {facts['fastframe_path']}: "
        f"IMPLEMENTATION={facts['implementation']}; _speedups: {facts['speedups']}",
        f"CPU: {facts['cpu_model']} ({facts['cpus_usable']} usable of {facts['cpu_count']}); "
        f"{facts['python']}; Cython {facts['cython_version']}",
    ]
