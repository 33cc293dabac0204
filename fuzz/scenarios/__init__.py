"""The scenarios of fuzz/fuzz_decoders.py, one module per kind: how an input is read
(choices), the framers and streams it describes (framing), the decoder, encoder and
socket scenarios, and which kind an input is (inputs).

Their wire bytes come from the tests' wire oracle, tests/support/wire.py: the
directory that holds fuzz/ and tests/ goes on sys.path here, however the harness
was started (as a script, by fuzz/make_corpus.py, or imported by the tests).
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    # after the harness's own directory, ahead of site-packages: an installed
    # distribution that ships a top-level "tests" package must not win
    sys.path.insert(1, _ROOT)
