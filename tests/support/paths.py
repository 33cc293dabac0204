"""Where the files next to tests/ are: the tests that run examples/, docs/, fuzz/,
hardening/ or a build find them from here, wherever their own module sits.  (In a
wheel's test run, the directory that holds tests/ holds what cibuildwheel's
test-sources copied beside it, not src/ or setup.py.)"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
