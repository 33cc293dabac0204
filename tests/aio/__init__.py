"""Tests of fastframe.aio (src/fastframe/aio.py) on each core and on each event
loop (asyncio's default loop and uvloop), over TCP on 127.0.0.1, AF_UNIX paths and
socketpair()s.

Each test's coroutine runs on a fresh loop under a 10 s bound (running.py), and
the loop's exception handler must stay silent unless the test expects a report.
Raw-socket peers (peers.py) control the exact bytes, splits, resets and
half-closes; the wire bytes a test expects come from tests/support/wire.py (the
framing rules of docs/framers/), never from the encoders under test.
"""
