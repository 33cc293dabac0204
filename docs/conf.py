"""Sphinx configuration of fastframe's documentation.

Pages are Markdown (MyST); the API reference is read from the package in
``../src`` by autodoc.  Build it with warnings as errors:

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

The standard library's names link to docs.python.org where Debian's python3-doc
is installed (its intersphinx inventory is read locally); elsewhere they are
plain text, and the build passes all the same.
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

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
root_doc = "index"
exclude_patterns = ["_build"]

html_theme = "furo"
html_title = f"fastframe {release}"

myst_enable_extensions = ["deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False

# The standard library's names (``OSError``, ``socket.socket``, ``ssl.SSLError``)
# link to the Python docs through their intersphinx inventory, read from a local
# copy: the build works offline (CI has no network but its package mirrors).
# Debian's python3-doc installs it here; without it the names stay plain text
# (the ignore list below), as a fetch from docs.python.org would fail offline
# and, with -W, fail the build.
PYTHON_INVENTORY = Path("/usr/share/doc/python3/html/objects.inv")
intersphinx_mapping: dict[str, tuple[str, str]] = {}
if PYTHON_INVENTORY.is_file():
    intersphinx_mapping["python"] = ("https://docs.python.org/3", str(PYTHON_INVENTORY))

# Every cross-reference must resolve (-n), except these, named in the signatures
# and "Raises" lists autodoc reads.  anyio's names would need its inventory
# (https://anyio.readthedocs.io/en/stable/objects.inv), fetched over the network:
# none is installed with anyio.  The standard library's in the signatures, as
# typing evaluates them, are not the names its inventory has (asyncio.Server is
# ``asyncio.base_events.Server``); ``PathLike`` (os.PathLike) and ``Buffer``
# (typing_extensions.Buffer, "any bytes-like object") are imported only for type
# checkers, so autodoc shows them unqualified.
nitpick_ignore = [
    ("py:class", "asyncio.base_events.Server"),
    ("py:class", "asyncio.transports.Transport"),
    ("py:class", "Buffer"),
    ("py:class", "PathLike"),
    ("py:class", "anyio.abc.ByteStream"),
    ("py:exc", "anyio.BrokenResourceError"),
    ("py:exc", "anyio.BusyResourceError"),
    ("py:exc", "anyio.ClosedResourceError"),
    ("py:exc", "anyio.EndOfStream"),
]
if "python" not in intersphinx_mapping:
    nitpick_ignore += [
        ("py:class", "socket.socket"),
        ("py:class", "ssl.SSLContext"),
        ("py:class", "ssl.SSLObject"),
        ("py:class", "ssl.SSLSocket"),
        ("py:class", "collections.abc.Awaitable"),
        ("py:class", "collections.abc.Callable"),
        ("py:class", "collections.abc.Mapping"),
        ("py:exc", "ssl.SSLError"),
    ]
