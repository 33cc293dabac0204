"""The cores a scenario runs on: fastframe._cores.CORES, the list the tests use.

The twin comes last there: its run is the reference the compiled core's is
compared with, and the run the framing rules are checked against.  With
FASTFRAME_PURE_PYTHON=1 it is the only one, and nothing is compared.
"""

from __future__ import annotations

from fastframe._cores import CORES

DIFFERENTIAL = len(CORES) == 2
TWIN = CORES[-1]

__all__ = ["CORES", "DIFFERENTIAL", "TWIN"]
