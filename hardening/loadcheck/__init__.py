"""The load harness behind ``hardening/load.py``, one module per process role.

* ``frames``: what is sent and what comes back, and how a reply is checked.
* ``server``: the ``selectors`` and ``fastframe.aio`` servers, the per-connection
  order checks and the server's counts and RSS.
* ``client``: a client process's connections in one ``selectors`` loop.
* ``parent``: starting the children, waiting for them, summing up their reports.
* ``processes``: what every process shares (failures, descriptor limit, RSS,
  messages, the deadline, the core check).
"""
