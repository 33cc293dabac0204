"""The loopback socket benchmark under pytest: ``FramedSocket``, ``fastframe.aio``
(on asyncio's default loop and on uvloop) and ``fastframe.anyio`` (on those and
trio) against the HOWTO's loop, the best pure-Python loop, asyncio streams, the
hand-written anyio loop, a C floor and a raw byte sink, over a real connection
to a peer process (the harness is ``socket_bench.py`` on ``fastframe._bench``).

* ``test_socket_frames``: every contender once, untimed, over AF_UNIX and TCP: every
  frame it receives (or every byte the peer gets from it) is compared with what
  was sent.
* ``test_socket_bench``: one per group, timed by ``socket_bench.py``'s harness, not by
  pytest-benchmark: ``ROUNDS`` rounds of ``WINDOW``-second windows, all contenders of
  the group once per round in a rotated order; every window asserts its frame
  count.  Medians and ratios are printed at the end of the session and written to
  the file named by FASTFRAME_BENCH_SOCKET_JSON (``report.py`` sets it).  With
  ``--benchmark-disable`` it is a smoke run: one round of short windows.  With
  ``--benchmark-skip`` it is skipped; ``--benchmark-only`` skips this whole module
  (pytest-benchmark's rule for tests without its fixture).

Nothing here asserts a speed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from typing import Any

import pytest

from . import socket_bench as sb

TRANSPORTS = ("unix", "tcp")


def _group_id(group: str) -> str:
    return group.replace(" ", "-").replace("-B", "B").replace("-KiB", "KiB")


def _unavailable(exc: sb.Unavailable) -> None:
    if exc.compiled and sb.cython_required():
        pytest.fail(f"{exc} (and {sb.REQUIRE_CYTHON_VARIABLE}=1)", pytrace=False)
    pytest.skip(str(exc))


@pytest.fixture(scope="session", params=TRANSPORTS)
def loopback(request: pytest.FixtureRequest) -> Any:
    with sb.Loopback(request.param) as peer:
        yield peer


@pytest.fixture(scope="session")
def unix_loopback() -> Any:
    with sb.Loopback("unix") as peer:
        yield peer


@pytest.mark.parametrize(
    ("group", "contender"),
    [(group, name) for group in sb.GROUPS for name in sb.contenders(group)],
    ids=[f"{_group_id(group)}-{name}" for group in sb.GROUPS for name in sb.contenders(group)],
)
def test_socket_frames(loopback: sb.Loopback, group: str, contender: str) -> None:
    try:
        sb.group(group, [contender]).check(loopback, contender)
    except sb.Unavailable as exc:
        _unavailable(exc)


class SocketResults:
    """Collects the timed groups; prints them at the end of the session and keeps
    them in FASTFRAME_BENCH_SOCKET_JSON, if set.  Registered as a plugin."""

    def __init__(self) -> None:
        self.results: dict[str, Any] | None = None
        self.smoke = False

    def add(self, results: dict[str, Any]) -> None:
        if self.results is None:
            self.results = results
        else:
            self.results["groups"] += results["groups"]
        path = os.environ.get(sb.SOCKET_JSON_VARIABLE)
        if path:
            sb.save(self.results, path)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.results is None:
            return
        from . import report

        title = "fastframe loopback socket benchmark"
        if self.smoke:
            title += " (smoke run: one short window each, not a measurement)"
        terminalreporter.section(title)
        out = io.StringIO()  # report prints; the terminal reporter writes it in place
        with contextlib.redirect_stdout(out):
            report.socket_report(self.results, as_markdown=False)
        terminalreporter.write(out.getvalue())


@pytest.fixture(scope="session")
def socket_results(request: pytest.FixtureRequest) -> SocketResults:
    plugin = SocketResults()
    request.config.pluginmanager.register(plugin, "fastframe-socket-results")
    return plugin


@pytest.mark.parametrize("group", sb.GROUPS, ids=[_group_id(group) for group in sb.GROUPS])
def test_socket_bench(
    request: pytest.FixtureRequest,
    unix_loopback: sb.Loopback,
    socket_results: SocketResults,
    group: str,
) -> None:
    config = request.config
    if config.getoption("benchmark_skip", False):
        pytest.skip("Benchmarks are skipped (--benchmark-skip was used).")
    smoke = bool(config.getoption("benchmark_disable", False))
    socket_results.smoke = smoke
    plan = sb.Plan(
        groups=[sb.group(group)],
        rounds=1 if smoke else sb.ROUNDS,
        window=sb.SMOKE_WINDOW if smoke else sb.WINDOW,
        warmup=0 if smoke else sb.WARMUP,
        check=False,  # test_socket_frames did
        transport="unix",
    )
    try:
        results = sb.measure(plan, loopback=unix_loopback)  # asserts every window's count
    except RuntimeError as exc:  # a missing compiled core under FASTFRAME_BENCH_REQUIRE_CYTHON=1
        if sb.REQUIRE_CYTHON_VARIABLE in str(exc):
            pytest.fail(str(exc), pytrace=False)
        raise
    (measured,) = results["groups"]
    assert measured["contenders"], "no contender ran"
    for name, windows in measured["contenders"].items():
        assert len(windows) == plan.rounds, name
        assert all(frames > 0 and seconds > 0 for frames, _, seconds in windows), name
    json.dumps(results)  # what is saved must be JSON
    socket_results.add(results)
