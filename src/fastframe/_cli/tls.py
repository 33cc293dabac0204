"""The TLS options of ``echo-server`` and ``echo-client``, and the words for a TLS
error.

``ssl`` is imported when a context is made, not with this module: the command
line imports every command's module for every command, and most runs speak no
TLS.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

# "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)": the words inside
_SSL_TEXT = re.compile(r"(?:\[[^\]]*\]\s*)?(?P<words>.*?)(?:\s*\(_ssl\.c:\d+\))?", re.DOTALL)


def add_tls_arguments(parser: argparse.ArgumentParser, server: bool) -> None:
    group = parser.add_argument_group("TLS")
    if server:
        group.add_argument("--tls", action="store_true", help="speak TLS (needs --certfile)")
        group.add_argument(
            "--certfile",
            metavar="FILE",
            help="the server's certificate chain (PEM), and its private key unless --keyfile",
        )
        group.add_argument(
            "--keyfile", metavar="FILE", help="the certificate's private key (PEM; default: in --certfile)"
        )
    else:
        group.add_argument("--tls", action="store_true", help="speak TLS, checking the server's certificate")
        group.add_argument(
            "--cafile",
            metavar="FILE",
            help="trust the certificates in this PEM file (default: the system's trust store)",
        )
        group.add_argument(
            "--server-hostname",
            metavar="NAME",
            help="the name the server's certificate must hold (default: --host)",
        )


def context_from_args(args: argparse.Namespace, server: bool) -> ssl.SSLContext | None:
    """The TLS context the options ask for (None without --tls).  Options that do
    not go together, and files that cannot be read or loaded, raise ValueError
    saying which (a usage error)."""
    files = (
        [("--certfile", args.certfile), ("--keyfile", args.keyfile)]
        if server
        else [("--cafile", args.cafile)]
    )
    given = [option for option, value in files if value is not None]
    if not server and args.server_hostname is not None:
        given.append("--server-hostname")
    if not args.tls:
        if given:
            raise ValueError(f"{given[0]} goes with --tls")
        return None
    if server and args.certfile is None:
        raise ValueError("--tls needs --certfile (the server's certificate)")
    if not server and args.unix is not None and args.server_hostname is None:
        raise ValueError("--tls with --unix needs --server-hostname (no --host to check)")
    for option, path in files:
        if path is not None:
            try:
                with open(path, "rb"):  # ssl's own error does not say which file
                    pass
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise ValueError(f"{option} {path}: {reason[:1].lower()}{reason[1:]}") from None
    import ssl

    if server:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(args.certfile, args.keyfile)
        except ssl.SSLError as exc:
            what = f"--certfile {args.certfile}" + (
                f" with --keyfile {args.keyfile}" if args.keyfile is not None else ""
            )
            raise ValueError(
                f"{what}: not a PEM certificate chain and its private key ({ssl_words(exc)})"
            ) from None
        return context
    # certificates and host names checked, against --cafile or else the
    # system's trust store: what any TLS client should do
    try:
        return ssl.create_default_context(cafile=args.cafile)
    except ssl.SSLError as exc:
        raise ValueError(
            f"--cafile {args.cafile}: no PEM certificate to trust ({ssl_words(exc)})"
        ) from None


def is_ssl_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an ``ssl.SSLError`` (ssl is looked up, not imported: an
    SSLError can only come from a program that imported it)."""
    ssl_module = sys.modules.get("ssl")
    return ssl_module is not None and isinstance(exc, ssl_module.SSLError)


def ssl_words(exc: OSError) -> str:
    """What an ``ssl.SSLError`` says, without OpenSSL's tags and source line:
    "certificate verify failed: self-signed certificate in certificate chain"."""
    match = _SSL_TEXT.fullmatch(str(exc.args[1]) if len(exc.args) > 1 else str(exc))
    words = match.group("words") if match else ""
    return words or str(exc)
