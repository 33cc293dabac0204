"""The machinery of ``fastframe bench`` (private; the repository's ``bench/`` reuses it).

A peer process streams ``[4-byte big-endian length][payload]`` frames over a real
connection; each contender reads that connection until EOF, window after window,
all contenders interleaved, and the medians are compared.

* ``workloads``: what the peer sends, built once per payload size.
* ``peer``: the peer process (``python -m fastframe._bench.peer``).
* ``loopback``: this side of it: the listening socket, the peer, one window.
* ``peers``: the receive loops fastframe is compared with (the HOWTO's, the best
  pure Python, asyncio streams, the hand-written anyio loop).
* ``contenders``: every receive contender by name, fastframe's and the peers',
  in the clear and over TLS; ``aio_receivers`` holds the ``fastframe.aio`` ones,
  ``anyio_receivers`` the ``fastframe.anyio`` ones.
* ``tls``: the certificate made at run time, the contexts, the peer's TLS sender,
  and the receive loops over TLS that frame nothing (the limit, the sender's rate).
* ``runner``: content checks, timed windows, rounds, the results.
* ``facts``, ``table``, ``plot``: machine facts, the text tables, the bar chart.
"""
