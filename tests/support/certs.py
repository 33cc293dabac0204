"""TLS certificates made at test time (trustme): nothing that expires is committed.

One certificate authority per test session signs a server certificate for
``localhost``, 127.0.0.1 and ::1 and a client certificate (for mutual TLS).
Contexts are made fresh per call: a test may change its own.
"""

from __future__ import annotations

import ssl

import trustme

#: the name the server certificate is for (and the one a client checks)
SERVER_NAME = "localhost"


# Made at import, once: made on first use, two threads could each make their own.
_AUTHORITY = trustme.CA()
_SERVER = _AUTHORITY.issue_cert(SERVER_NAME, "127.0.0.1", "::1")
_CLIENT = _AUTHORITY.issue_cert("client@fastframe.test")


def authority() -> trustme.CA:
    return _AUTHORITY


def server_cert() -> trustme.LeafCert:
    return _SERVER


def client_cert() -> trustme.LeafCert:
    return _CLIENT


def server_context(*, version: ssl.TLSVersion | None = None, require_client_cert: bool = False) -> ssl.SSLContext:
    """A server context with the server certificate; ``version`` pins the TLS version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert().configure_cert(ctx)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        authority().configure_trust(ctx)
    return ctx


def client_context(*, version: ssl.TLSVersion | None = None, with_cert: bool = False) -> ssl.SSLContext:
    """A client context that trusts the test authority (and checks host names)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    authority().configure_trust(ctx)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    if with_cert:
        client_cert().configure_cert(ctx)
    return ctx
