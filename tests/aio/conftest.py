"""Every aio test that takes ``tls`` runs twice: over plain connections (False) and
over TLS (True: ``ssl=`` on the library's end, certificates from
tests/support/certs.py, and a TLS peer, peers.TLSPeer, on the other).

A test that cannot run over TLS says why with ``@pytest.mark.plain_only(reason)``:
its TLS case is then skipped with that reason, never left out in silence.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "plain_only(reason): the test's TLS case is skipped, for that reason")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "tls" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("plain_only")
    marks = [] if marker is None else [pytest.mark.skip(reason=f"not over TLS: {marker.args[0]}")]
    metafunc.parametrize("tls", [pytest.param(False, id="plain"), pytest.param(True, id="tls", marks=marks)])
