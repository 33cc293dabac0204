"""The leak harness behind ``hardening/refleak.py``, one module per kind of case.

* ``measuring``: how a case is measured, the limits, the table's rows.
* ``steps``: what the cases' steps share (checks, socket chores, the plain setup).
* ``framers``: the framings under test, and constructing framers.
* ``encoders``, ``decoders``: the codecs' calls and their error paths.
* ``sockets``: FramedSocket calls over one socketpair; ``connections``: a new
  connection each iteration, to its end, and ``connect()``.
* ``aio``: FramedProtocol by hand, streams on one event loop.
* ``selfcheck``: the injected leaks that prove the measures report one.
* ``cli``: the table of cases, a core's run, the parent process.

Every core is reached through ``fastframe._cores``.
"""
