"""Every test that takes ``impl`` runs once per core of ``fastframe._cores.CORES``.

``impl`` is a ``fastframe._cores.Core``: tests reach a core through it (a framer's
codec, decoder or bound twin, the core's FramedSocket), never by naming the core's
module.  The compiled core is in CORES unless FASTFRAME_PURE_PYTHON=1 is set or the
package was built pure (as for PyPy): elsewhere a missing or broken extension is an
error (CORES does not import), not a skip.  Without it, only the Python twin exists
and is tested.

Every test that takes ``loop_kind`` runs once per event loop: asyncio's default
loop and uvloop (skipped, with the reason, where uvloop cannot be imported).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from fastframe._cores import CORES, Core
from tests.support.sockets import TLS_KINDS

try:
    import uvloop  # noqa: F401 - only whether it imports
except ImportError as exc:
    UVLOOP_MISSING: str | None = f"uvloop cannot be imported: {exc}"
else:
    UVLOOP_MISSING = None

settings.register_profile(
    "ci", deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# The FramedSocket test modules also run the compiled core on its other path.  The
# fault matrix (tests/sockets/test_faults.py) drives FramedSockets too but has always
# run the descriptor path only: giving it the object path would add tests, not move
# them.
SOCKET_PACKAGE = "tests.sockets."
DESCRIPTOR_PATH_ONLY = ("tests.sockets.test_faults",)


def runs_both_paths(module_name: str) -> bool:
    return module_name.startswith(SOCKET_PACKAGE) and module_name not in DESCRIPTOR_PATH_ONLY


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``impl`` is each core; for the FramedSocket tests also the compiled core
    calling the socket's methods, the path of platforms without descriptors.
    ``loop_kind`` is "asyncio" and "uvloop"."""
    if "loop_kind" in metafunc.fixturenames:
        kinds = [
            pytest.param("asyncio"),
            pytest.param(
                "uvloop", marks=pytest.mark.skipif(UVLOOP_MISSING is not None, reason=str(UVLOOP_MISSING))
            ),
        ]
        metafunc.parametrize("loop_kind", kinds)
    if "impl" not in metafunc.fixturenames:
        return
    impls: list[Core] = []
    for core in CORES:
        impls.append(core)
        if core.has_object_path and runs_both_paths(metafunc.module.__name__):
            impls.append(core.object_path())
    metafunc.parametrize("impl", impls, ids=[i.name for i in impls])


# modules whose FramedSockets speak TLS in every test (after a plaintext start at most)
TLS_MODULES = ("tests.sockets.test_tls", "tests.sockets.test_tls_hostile")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """TLS takes the socket object's path on every core: the compiled core's
    object-path variant would run its TLS cases a second time, the same way."""
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        params = params.params if params is not None else {}
        impl = params.get("impl")
        over_tls = item.module is not None and item.module.__name__ in TLS_MODULES or any(
            params.get(name) in TLS_KINDS for name in ("transport", "pair", "kind", "transport_kind")
        )
        (drop if over_tls and impl is not None and not impl.fd_path else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
