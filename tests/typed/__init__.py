"""User-style code that ``mypy --strict`` checks (tests/tools/test_typing.py):
fastframe used as the README and the docs use it, with ``assert_type`` on what
calls return, and wrong uses that a type checker must refuse.

Each wrong use is on a line of its own that ends with ``# type: ignore[CODE]``,
CODE being the error mypy reports for it; every ``type: ignore`` here marks one.
Under ``--strict`` an ignore that is not needed is itself an error, so a wrong
use that stops being refused fails the check, and test_typing.py checks that,
without the ignores, mypy reports each of those lines with its code.

The modules are not tests (pytest collects none of them) and run nothing when
imported: their functions are only type-checked.  (Not named ``typing``: no
directory of tests/ is named after a module of the standard library.)
"""
