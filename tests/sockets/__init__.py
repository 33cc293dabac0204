"""Tests of FramedSocket and connect() (src/fastframe/socket.py and each core's
SocketLoop).  Every test here that takes ``impl``, but the fault matrix's, runs
the compiled core on both of its paths: system calls on the descriptor, and the
socket object's methods (see conftest)."""
