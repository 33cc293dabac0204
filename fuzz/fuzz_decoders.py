#!/usr/bin/env python3
"""Coverage-guided differential fuzzing of fastframe's decoders and encoders.

Every input is read as a *scenario*: a framer with its options, a byte stream made
of well-formed, oversize, truncated and garbage frames, and the calls that deliver
it (``feed`` or ``get_buffer``/``buffer_updated``, chunked anywhere, with an
occasional ``eof()``, ``detach()`` or API misuse in between), then ``eof()`` until
the decoder settles.  The scenario runs on the compiled core and on the
pure-Python twin; any difference in what a call returns or raises (type and
args), in ``buffered`` or in what ``detach()`` hands over is a finding, and so is
an exception that is not one the API documents.  On top of that the twin's run
is checked against the framing rules (docs/framers/, docs/errors.md): frames never exceed
``max_size``; an error-free run's frames, re-encoded, are exactly the stream
bytes they came from; any chunking gives the events of one single ``feed``.
One input in eight fuzzes the encoders instead: both cores must give the same
bytes or the same exception, and what they emit must decode to the payload.
About one in five is a socket scenario: a stream (frames of one or more framers,
raw text) written chunk by chunk into one end of a socketpair, the other end a
non-blocking FramedSocket of each core (the compiled one on its object path for
a quarter of them), with receive calls after each chunk (recv, recv_many,
next, recv_exactly, recv_until, recv_until_eof, framer switches, detach; odd
arguments too), then the peer's shutdown and calls until the stream ends.  Each
call's result or exception, ``buffered`` and what ``detach()`` hands over must
agree; the twin's run is checked against docs/sockets.md (class Ledger).

Usage (libFuzzer flags pass through atheris)::

    mkdir /tmp/corpus && cp fuzz/corpus/*/* /tmp/corpus
    python fuzz/fuzz_decoders.py /tmp/corpus -max_total_time=60
    python fuzz/fuzz_decoders.py --show CRASH_FILE     # the scenario, then replay it

The corpus has two parts: ``fuzz/corpus/decoders``, the seeds ``fuzz/make_corpus.py``
writes, and ``fuzz/corpus/grown``, the inputs long runs found that reach what the
seeds do not.  Keep a long run's gains with libFuzzer's merge, which copies over
only inputs that add coverage::

    mkdir /tmp/merged && cp fuzz/corpus/*/* /tmp/merged
    python fuzz/fuzz_decoders.py -merge=1 /tmp/merged /tmp/corpus
    # then copy the files that are new in /tmp/merged into fuzz/corpus/grown

tests/tools/test_fuzz.py replays the whole corpus, and (marked slow, with atheris) fuzzes
from a copy of it for FASTFRAME_FUZZ_SECONDS.

Only the twin's Python is instrumented for coverage; the compiled core is
exercised by the comparison.  Without atheris (or when imported, as the tests
do) ``one_input(data)`` replays any input: the bytes are read by ``Choices``
(scenarios/choices.py), not by atheris, so a corpus file means the same scenario
everywhere.  The scenarios are the package scenarios/, one module per kind; their
wire bytes come from the tests' wire oracle, tests/support/wire.py.
With ``FASTFRAME_PURE_PYTHON=1`` there is no compiled core to compare: only the
twin runs, with every invariant check.
"""

from __future__ import annotations

import contextlib
import sys

try:
    import atheris
except ImportError:  # replaying inputs needs no atheris
    atheris = None

# Instrument fastframe's Python (the twin, the framers) only when fuzzing: the
# tests import this module to replay the corpus and want the plain modules.
# fastframe is first imported by the scenarios, hence their import in here.
_instrumenting = atheris is not None and __name__ == "__main__"
with atheris.instrument_imports(include=["fastframe"]) if _instrumenting else contextlib.nullcontext():
    from scenarios.cores import CORES, DIFFERENTIAL
    from scenarios.findings import Finding
    from scenarios.inputs import describe, one_input

__all__ = ["CORES", "DIFFERENTIAL", "Finding", "describe", "main", "one_input"]


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "--show":
        with open(argv[2], "rb") as f:
            data = f.read()
        print(f"input: {data!r}\n{describe(data)}")
        one_input(data)
        print("no finding")
        return
    if atheris is None:
        sys.exit(
            "atheris is not installed: python -m pip install --group fuzz, from a checkout "
            "(or replay inputs with --show FILE)"
        )
    print(
        f"fastframe fuzz: {'compiled core vs twin' if DIFFERENTIAL else 'twin only (FASTFRAME_PURE_PYTHON)'}",
        file=sys.stderr,
    )
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
