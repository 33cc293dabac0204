"""pytest hooks of the micro benchmarks: group order, machine facts, report header.

The micro benchmarks' contenders are in ``micro_contenders.py``, their workloads in
``micro_workloads.py``; the socket benchmark is ``socket_bench.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import micro_contenders  # noqa: F401 (fastframe must import; probes the compiled core first)
from .micro_workloads import CHUNK, GROUP_ORDER


def pytest_benchmark_group_stats(config: Any, benchmarks: Any, group_by: str) -> Any:
    """Groups by payload size, smallest first (the default sorts them by name)."""
    from pytest_benchmark.plugin import pytest_benchmark_group_stats as by_name

    groups = by_name(config, benchmarks, group_by)
    order = {name: i for i, name in enumerate(GROUP_ORDER)}
    return sorted(groups, key=lambda item: order.get(item[0], len(order)))


def bench_facts() -> dict[str, Any]:
    """What a result depends on besides the code: recorded in the JSON output."""
    from fastframe._bench.facts import machine_facts

    return {**machine_facts(), "chunk": CHUNK}


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    machine_info["fastframe_bench"] = bench_facts()


def pytest_report_header(config: pytest.Config) -> list[str]:
    facts = bench_facts()
    return [
        f"fastframe {facts['fastframe_version']} from {facts['fastframe_path']}: "
        f"IMPLEMENTATION={facts['implementation']}; compiled core: {facts['compiled_core']}",
        f"CPU: {facts['cpu_model']} ({facts['cpus_usable']} usable of {facts['cpu_count']}); "
        f"{facts['python']}; Cython {facts['cython_version']}",
    ]
