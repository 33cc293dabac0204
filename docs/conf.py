"""Sphinx configuration of fastframe's documentation.

Pages are Markdown (MyST); the API reference is read from the package in
``../src`` by autodoc.  Build it with warnings as errors:

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# The reference documents this checkout's package, read from its pure-Python
# twin: the compiled core has the same classes, names and docstrings, but keeps
# no annotations (its embedded signatures show C types and ``self``).  So the
# docs also build where no C compiler is available.
os.environ["FASTFRAME_PURE_PYTHON"] = "1"
sys.path.insert(0, str(ROOT / "src"))

import fastframe  # noqa: E402

project = "fastframe"
author = "The fastframe developers"
copyright = "The fastframe developers"
release = fastframe.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc"]
root_doc = "index"
exclude_patterns = ["_build"]

html_theme = "furo"
html_title = f"fastframe {release}"

myst_enable_extensions = ["deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False

# Every cross-reference must resolve (-n), except these, named in the signatures
# autodoc reads.  The standard library's and anyio's classes would need an
# intersphinx inventory fetched over the network, and the build must work offline
# (``PathLike`` is os.PathLike, imported only for type checkers); ``Buffer``
# is the annotation-only name (typing_extensions.Buffer, imported only for type
# checkers) of "any bytes-like object".
nitpick_ignore = [
    ("py:class", "socket.socket"),
    ("py:class", "ssl.SSLContext"),
    ("py:class", "ssl.SSLObject"),
    ("py:class", "ssl.SSLSocket"),
    ("py:class", "asyncio.Server"),
    ("py:class", "asyncio.base_events.Server"),
    ("py:class", "collections.abc.Awaitable"),
    ("py:class", "collections.abc.Callable"),
    ("py:class", "asyncio.transports.Transport"),
    ("py:class", "Buffer"),
    ("py:class", "PathLike"),
    ("py:class", "anyio.abc.ByteStream"),
]
