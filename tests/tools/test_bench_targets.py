"""The targets ``fastframe bench`` prints under its tables and the tables' width,
computed from results groups made up here (no speeds measured), and the content
check the new per-frame and anyio contenders pass before they are timed."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from fastframe._bench import contenders, runner
from fastframe._bench.contenders import EXTRA, RECEIVERS, TLS, TLS_RECEIVERS, Receiver
from fastframe._bench.table import REFERENCES, TARGETS, WIDTH, recv_table, target_lines


def group(name: str, size: int, speeds: dict[str, float]) -> dict[str, Any]:
    """A results group in which each contender ran one 1-second window at that
    many bytes/s."""
    return {
        "name": name,
        "payload_size": size,
        "contenders": {contender: [[1, speed, 1.0]] for contender, speed in speeds.items()},
    }


def test_the_per_frame_targets_depend_on_the_transport() -> None:
    ran = group(
        "recv 64 B",
        64,
        {"fastframe-cython.recv_many": 400, "fastframe-cython.recv": 260, "best-python": 100},
    )
    assert target_lines(ran, "unix") == [
        "targets at recv 64 B (AF_UNIX): 1 of 2 met",
        "  fastframe-cython.recv vs fastframe-cython.recv_many    0.65x  target >= 0.5x: met",
        "  fastframe-cython.recv vs best-python                   2.60x  target >= 3x: MISSED",
    ]
    # over TCP, against recv_many only reported: the issue's 0.5x is for AF_UNIX
    assert target_lines(ran, "tcp") == [
        "targets at recv 64 B (TCP 127.0.0.1): 1 of 1 met",
        "  fastframe-cython.recv vs fastframe-cython.recv_many    0.65x  reported",
        "  fastframe-cython.recv vs best-python                   2.60x  target >= 2x: met",
    ]


@pytest.mark.parametrize(("speed", "status"), [(90, "met"), (89, "MISSED")])
def test_a_target_is_met_from_its_minimum_on_and_at_its_size_only(speed: float, status: str) -> None:
    speeds = {"fastframe-python.recv_many": speed, "fastframe-cython.recv": 900, "best-python": 100}
    assert target_lines(group("recv 1 KiB", 1024, speeds), "unix") == [
        f"targets at recv 1 KiB (AF_UNIX): {int(status == 'met')} of 1 met",
        f"  fastframe-python.recv_many vs best-python    {speed / 100:.2f}x  target >= 0.9x: {status}",
    ]
    # the per-frame targets are at 64 B; at 64 KiB none of these has one
    assert target_lines(group("recv 64 KiB", 64 * 1024, speeds), "unix") == []


def test_one_line_per_pair_in_the_order_of_the_table() -> None:
    speeds = {
        "aio-cython.recv@asyncio": 500,
        "aio-cython.recv@uvloop": 300,
        "best-python": 600,
        "streams@asyncio": 100,
        "streams@uvloop": 100,
    }
    # the aio issue's 2x and issue 15's 6x on one line; on uvloop the first is
    # reported only, which the 6x target takes over
    assert target_lines(group("recv 64 B", 64, speeds), "unix") == [
        "targets at recv 64 B (AF_UNIX): 1 of 5 met",
        "  aio-cython.recv@asyncio vs streams@asyncio    5.00x  target >= 2x: met, >= 6x: MISSED",
        "  aio-cython.recv@asyncio vs best-python        0.83x  target >= 1x: MISSED",
        "  aio-cython.recv@uvloop vs streams@uvloop      3.00x  target >= 6x: MISSED",
        "  aio-cython.recv@uvloop vs best-python         0.50x  target >= 1x: MISSED",
    ]


def test_a_group_with_reported_ratios_only_counts_no_targets() -> None:
    ran = group("recv 64 KiB over TLS", 64 * 1024, {"tls-sink": 90, "tls-sender": 100})
    assert target_lines(ran, "tcp") == [
        "targets at recv 64 KiB over TLS (TCP 127.0.0.1)",
        "  tls-sink vs tls-sender    0.90x  reported (near 1x, with the sender near 100%: it limits the sink)",
    ]
    assert target_lines(group("recv 64 B", 64, {"best-python": 1}), "unix") == []


def test_a_long_target_line_wraps_between_verdicts() -> None:
    speeds = {"aio-cython.recv@asyncio": 500, "streams@asyncio": 100, "aio-cython.frame_received@asyncio": 90}
    speeds["aio-cython.recv_many@asyncio"] = 100  # a long pair: the column is as wide as it
    lines = target_lines(group("recv 64 B", 64, speeds), "unix")
    assert lines[1:3] == [
        "  aio-cython.recv@asyncio vs streams@asyncio                           5.00x  target >= 2x: met,",
        "    >= 6x: MISSED",
    ]
    assert max(map(len, lines)) <= WIDTH


@pytest.mark.parametrize("names", [RECEIVERS, TLS_RECEIVERS], ids=["clear", "tls"])
def test_every_table_fits_with_its_first_ratio_column_and_wide_has_them_all(names: list[str]) -> None:
    # every contender, at the widest numbers a table shows (and its windows far apart)
    ran = group("recv 64 KiB", 64 * 1024, {})
    ran["contenders"] = {name: [[10**9, 10**12, 1.0], [1, 1, 1.0]] for name in names}
    ran["sender_busy"] = {name: [1.0, 1.0] for name in names}
    ran["skipped"] = {"tls-sender": "a reason " * 30}
    table = recv_table(ran)
    assert max(map(len, table.splitlines())) <= WIDTH, table
    header = table.splitlines()[1]
    peers = [name for name in REFERENCES if name in names]
    assert f" vs {peers[0]}" in header
    assert all(f" vs {name}" in header or f"vs {name}" in table.split("more ratios with --wide:")[1] for name in peers)
    wide = recv_table(ran, wide=True)
    assert all(f" vs {name}" in wide.splitlines()[1] for name in peers) and "more ratios" not in wide
    assert max(map(len, wide.splitlines())) > WIDTH


# Issue 15's targets: (contender, peer, minimum, transport or None for both, sizes)
ISSUE_15 = [
    *(
        target
        for prefix in ("", TLS)
        for method in ("recv", "iter")
        for target in (
            (f"{prefix}fastframe-cython.{method}", f"{prefix}fastframe-cython.recv_many", 0.5, "unix", (64,)),
            (f"{prefix}fastframe-cython.{method}", f"{prefix}best-python", 3.0, "unix", (64,)),
            (f"{prefix}fastframe-cython.{method}", f"{prefix}best-python", 2.0, "tcp", (64,)),
            (f"{prefix}fastframe-python.{method}", f"{prefix}best-python", 0.5, None, (64,)),
        )
    ),
    ("fastframe-python.recv_many", "best-python", 0.9, None, (64, 1024)),
    *(
        target
        for loop in ("asyncio", "uvloop")
        for target in (
            *(
                (f"{prefix}aio-cython.{api}@{loop}", f"{prefix}{peer}", minimum, None, (64,))
                for prefix in ("", TLS)
                for api in ("recv", "iter")
                for peer, minimum in (("best-python", 1.0), (f"streams@{loop}", 6.0))
            ),
            (f"aio-cython.frame_received@{loop}", f"aio-cython.recv_many@{loop}", 0.9, None, (64,)),
            (f"aio-python.recv@{loop}", "best-python", 0.6, None, (64,)),
        )
    ),
]


@pytest.mark.parametrize("wanted", ISSUE_15, ids=lambda t: f"{t[0]}-vs-{t[1]}-{t[3] or 'both'}")
def test_issue_15_targets_are_set(wanted: tuple[str, str, float, str | None, tuple[int, ...]]) -> None:
    contender, peer, minimum, transport, sizes = wanted
    for size in sizes:
        assert any(
            (t.contender, t.peer, t.minimum, t.transport, t.size) == (contender, peer, minimum, transport, size)
            for t in TARGETS
        ), size


# Issue 17's: fastframe.anyio against the loop written by hand with anyio's
# BufferedByteReceiveStream.receive_exactly, on each loop, either transport
ISSUE_17 = [
    (f"anyio-cython.{api}@{loop}", f"anyio-handwritten@{loop}", minimum)
    for loop in contenders.ANYIO_LOOPS
    for api, minimum in (("receive_many", 5.0), ("receive", 2.0))
]


@pytest.mark.parametrize("wanted", ISSUE_17, ids=lambda t: f"{t[0]}-vs-{t[1]}")
def test_issue_17_targets_are_set(wanted: tuple[str, str, float]) -> None:
    contender, peer, minimum = wanted
    assert any(
        (t.contender, t.peer, t.minimum, t.transport, t.size) == (contender, peer, minimum, None, 64)
        for t in TARGETS
    )


def test_the_anyio_targets_are_printed_under_their_table() -> None:
    speeds = {
        "anyio-cython.receive_many@trio": 600,
        "anyio-cython.receive@trio": 150,
        "best-python": 300,
        "anyio-handwritten@trio": 100,
        "anyio-handwritten@asyncio": 100,  # no anyio-cython@asyncio ran: no line
    }
    assert target_lines(group("recv 64 B", 64, speeds), "tcp") == [
        "targets at recv 64 B (TCP 127.0.0.1): 1 of 2 met",
        "  anyio-cython.receive_many@trio vs anyio-handwritten@trio    6.00x  target >= 5x: met",
        "  anyio-cython.receive@trio vs anyio-handwritten@trio         1.50x  target >= 2x: MISSED",
    ]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.contender}-vs-{t.peer}-{t.size}")
def test_both_sides_of_every_target_run_by_default_in_one_table(target: Any) -> None:
    # else the line is never printed, and nobody sees the target missed
    names = TLS_RECEIVERS if target.contender.startswith(TLS) else RECEIVERS
    assert target.contender in names and target.peer in names
    assert not {target.contender, target.peer} & EXTRA
    assert target.transport in (None, "unix", "tcp")


PER_FRAME = [
    *(f"fastframe-{core}.iter" for core in ("cython", "python")),
    *(f"aio-{core}.iter@{loop}" for core in ("cython", "python") for loop in contenders.LOOPS),
]
TLS_PER_FRAME = [
    *(f"{TLS}fastframe-{core}.iter" for core in ("cython", "python")),
    *(
        f"{TLS}aio-{core}.{api}@{loop}"
        for core in ("cython", "python")
        for loop in contenders.LOOPS
        for api in ("recv", "iter")
    ),
]


def test_the_new_contenders_pass_the_content_check() -> None:
    plan = runner.Plan(
        [runner.RecvGroup(64, PER_FRAME), runner.RecvGroup(64, TLS_PER_FRAME, tls=True)],
        rounds=1,
        window=0.02,
        warmup=0,
    )
    results = runner.measure(plan)
    for entry, names in zip(results["groups"], (PER_FRAME, TLS_PER_FRAME)):
        assert set(entry["contenders"]) | set(entry["skipped"]) == set(names)
        for name, why in entry["skipped"].items():  # only as on an install without them
            assert "fastframe._core_c.core does not import" in why or "uvloop does not import" in why, name
        for name, ((frames, wire, _),) in entry["contenders"].items():
            assert frames > 0 and wire == frames * 68, name


ANYIO = [name for name in RECEIVERS if name.startswith("anyio-")]


# Over TCP, anyio's asyncio backend reads through a transport, over AF_UNIX the
# raw socket: the content check on both; a timed window (the counting loop) on
# AF_UNIX only, since over TCP the kernel buffers megabytes, which the
# hand-written loop takes seconds to read.
@pytest.mark.parametrize(("transport", "rounds"), [("unix", 1), ("tcp", 0)])
def test_the_anyio_contenders_pass_the_content_check(transport: str, rounds: int) -> None:
    if transport == "unix" and not hasattr(socket, "AF_UNIX"):
        pytest.skip("no AF_UNIX here")
    plan = runner.Plan([runner.RecvGroup(64, ANYIO)], rounds=rounds, window=0.02, warmup=0, transport=transport)
    (entry,) = runner.measure(plan)["groups"]
    assert set(entry["contenders"]) | set(entry["skipped"]) == set(ANYIO)
    assert len(ANYIO) == 3 * 5  # each loop: the hand-written loop, two calls of each core
    for name, why in entry["skipped"].items():  # only as on an install without them
        assert "fastframe._core_c.core does not import" in why or "uvloop does not import" in why, name
    for name, windows in entry["contenders"].items():
        assert len(windows) == rounds, name
        for frames, wire, _ in windows:
            assert frames > 0 and wire == frames * 68, name


def test_a_trio_run_that_never_starts_closes_the_coroutine(monkeypatch: pytest.MonkeyPatch) -> None:
    # as event_loop_runner's: else "coroutine was never awaited" follows a Ctrl-C
    import trio

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    async def work() -> None:
        pass

    monkeypatch.setattr(trio, "run", interrupted)
    coro = work()
    with pytest.raises(KeyboardInterrupt):
        contenders.anyio_runner("trio")(coro)
    assert coro.cr_frame is None  # closed


def _one_frame_short(name: str) -> Receiver:
    received = contenders.receiver(name)
    return Receiver(received.count, lambda sock: received.frames(sock)[:-1])


@pytest.mark.parametrize(
    "name", ["aio-python.iter@asyncio", f"{TLS}aio-python.recv@asyncio", "anyio-python.receive@trio"]
)
def test_the_content_check_sees_a_frame_missing(name: str) -> None:
    check = runner.RecvGroup(64, [name], receiver=_one_frame_short, tls=name.startswith(TLS))
    with pytest.raises(AssertionError, match=f"{name}: .* frames, the peer sent"):
        runner.measure(runner.Plan([check], rounds=1, window=0.02, warmup=0))
