"""Prove that no public call leaks a reference or memory, on its error paths too.

    python hardening/refleak.py [--core cython|python|both] [--iterations N | GROUP=N ...]
                                [--only PATTERN] [--self-check]

Each core runs in its own child process (``FASTFRAME_PURE_PYTHON`` set for it, so that
``fastframe``'s own entry points, ``connect()`` and ``fastframe.aio``, use that core
too); the decoders, encoders and ``FramedSocket`` are reached through
``fastframe._cores`` (a framer's codec in that core, a framer bound to it, the core's
``FramedSocket``).  The compiled core runs its FramedSocket cases twice: on the
descriptor and through the socket object's methods (``socket-object/...``,
``lifecycle-object/...``).  The cases, one module per kind, and the measuring are
the ``leakcheck`` package beside this script.

Every case is one call, or a few calls that belong together, repeated: a warm-up of
10% of the iterations, ``gc.collect()``, then the iterations measured:

- blocks: growth of ``sys.getallocatedblocks()`` (a leaked object per iteration adds
  at least one block per iteration);
- refs: ``sys.getrefcount`` of every object the case passes in (framer, codec, decoder,
  payloads, sockets, the FramedSocket) and of the exception classes and singletons,
  before and after: any change is a leaked (or stolen) reference;
- rss: growth of the resident set (``/proc/self/statm``): memory taken outside
  Python's allocators (a receive buffer malloc'd and never freed);
- traced: growth of ``tracemalloc``'s traced memory over a second, shorter run of a
  tenth of the iterations (tracemalloc makes every allocation several times slower);
- cycles: objects the cycle collector freed during the measured run (information
  only: garbage cycles are freed, not leaked, but they cost time and memory peaks).

Limits: blocks over ``iterations // 100 + 500``; any change in the reference count
of a case's objects and the exception classes (None and the other singletons are
held by objects that come and go: there a change over the blocks limit); RSS over
16 MiB; traced memory over ``traced iterations * 4 + 16 KiB`` bytes.  A leak of one
object per iteration exceeds the blocks limit about a hundredfold at a million
iterations, sixteenfold at 10 000, nearly fourfold at 2 000; the noise measured
here stays under a tenth of each limit.

``--iterations`` sets every case's count (default 100 000), or one group's with
GROUP=N (groups: framer, encode, decode, socket, lifecycle, aio); ``--only`` runs
the cases whose name matches a glob.  ``--self-check`` runs cases with leaks of each
kind injected (at 20 000 iterations unless more are asked) and fails unless every
measure that should report one does.  Exits 1 when a leak is found, or an injected
one is missed.
"""

from __future__ import annotations

import sys

from leakcheck.cli import main

if __name__ == "__main__":
    sys.exit(main(__doc__))
