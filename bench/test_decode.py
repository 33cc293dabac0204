"""Decode: a ~4 MiB LengthPrefixed(4) stream fed in 64 KiB chunks, per payload size.

One round = the whole stream through a fresh decoder (or floor); every contender of a
payload size is in one benchmark group.  Each contender's frames are checked in full
once, untimed, and every round's frame count is asserted.
"""

from __future__ import annotations

import pytest

from fastframe import _cores

from .micro_contenders import Round, decode_round
from .micro_workloads import DECODE_SIZES, decode_workload, label

CONTENDERS = (
    *(f"fastframe-{core}" for core in _cores.NAMES),
    "best-python",
    "howto",
    "floor-bytes",
    "floor-memcpy",
)


@pytest.fixture(scope="module", params=DECODE_SIZES, ids=lambda size: label(size).replace(" ", ""))
def size(request: pytest.FixtureRequest) -> int:
    # module scope: pytest runs all contenders of one size back to back
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=CONTENDERS)
def contender(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def decode(size: int, contender: str) -> Round:
    round_ = decode_round(contender, size)  # skips (or fails) here for a missing core
    round_.check()
    return round_


# `decode` first: if the contender cannot be set up, the benchmark fixture never is
def test_decode(decode: Round, benchmark, size: int, contender: str) -> None:
    workload = decode_workload(size)
    benchmark.group = workload.group
    benchmark.extra_info.update(workload.extra_info(contender))
    frames = benchmark(decode.run)
    assert frames == workload.frames
