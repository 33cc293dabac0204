"""Running a test's coroutine: on a fresh event loop of the kind asked for (asyncio's
default loop or uvloop), under a 10 s bound (a bug fails, it never hangs), with the
loop's exception handler silent unless the test inspects what it was given."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from tests.support.sockets import IO_TIMEOUT

try:
    import uvloop
except ImportError:  # the uvloop cases are skipped by conftest, with the reason
    uvloop = None


# -- running a coroutine on a fresh loop -------------------------------------------------


def new_loop(loop_kind: str) -> asyncio.AbstractEventLoop:
    if loop_kind == "uvloop":
        if uvloop is None:
            pytest.skip("uvloop cannot be imported")
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    assert loop_kind == "asyncio", loop_kind
    return asyncio.new_event_loop()


def _describe(reports: Sequence[dict[str, Any]]) -> str:
    return "; ".join(f"{r.get('message')!r}: {r.get('exception')!r}" for r in reports)


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the test left running and let closing transports finish."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))
    loop.run_until_complete(loop.shutdown_asyncgens())


def run(
    loop_kind: str,
    main: Callable[..., Awaitable[Any]],
    *args: Any,
    reports: list[dict[str, Any]] | None = None,
) -> Any:
    """Run ``main(*args)`` on a fresh loop of ``loop_kind`` under
    ``asyncio.wait_for(..., IO_TIMEOUT)``, then close the loop.

    What the loop's exception handler is given goes to ``reports`` when the test
    passes a list (and inspects it); otherwise any report fails the test."""
    loop = new_loop(loop_kind)
    seen: list[dict[str, Any]] = [] if reports is None else reports
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        try:
            result = loop.run_until_complete(asyncio.wait_for(main(*args), IO_TIMEOUT))
        except asyncio.TimeoutError:
            raise AssertionError(
                f"the test's coroutine did not finish within {IO_TIMEOUT} s (it hung)"
            ) from None
        finally:
            _settle(loop)
    finally:
        loop.close()
    if reports is None:
        assert not seen, f"the event loop reported: {_describe(seen)}"
    return result


async def until(predicate: Callable[[], bool]) -> None:
    """Wait (bounded by the test's own 10 s limit) until ``predicate()`` holds."""
    while not predicate():
        await asyncio.sleep(0.001)
