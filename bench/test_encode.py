"""encode_many: 10 000 payloads of 64 B into one bytes object, per contender.

Each contender's output is compared in full with the reference encoding once,
untimed, and the output of the benchmarked calls is compared again afterwards.
"""

from __future__ import annotations

import pytest

from fastframe import _cores

from .micro_contenders import Round, encode_round
from .micro_workloads import encode_workload

CONTENDERS = (*(f"fastframe-{core}" for core in _cores.NAMES), "best-python", "floor-encode")


@pytest.fixture(params=CONTENDERS)
def contender(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def encode(contender: str) -> Round:
    round_ = encode_round(contender)  # skips (or fails) here for a missing core
    round_.check()
    return round_


# `encode` first: if the contender cannot be set up, the benchmark fixture never is
def test_encode_many(encode: Round, benchmark, contender: str) -> None:
    workload = encode_workload()
    benchmark.group = workload.group
    benchmark.extra_info.update(workload.extra_info(contender))
    wire = benchmark(encode.run)
    assert wire == workload.wire
